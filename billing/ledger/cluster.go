package ledger

import (
	"encoding/hex"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

func (a *applier) registerCluster(c RegisterCluster) Result { return a.register(c, "") }

// register registers c's cluster with owner ("" for none; see
// RegisterOwnedCluster).
func (a *applier) register(c RegisterCluster, owner string) Result {
	if e := checkID("cluster_id", c.ClusterID); e != nil {
		return Result{Err: e}
	}
	if c.TokenHash == ([32]byte{}) {
		return Result{Err: invalidf("token_hash: required (SHA-256 of the enrollment token)")}
	}
	if len(c.Tenants) == 0 {
		return Result{Err: invalidf("tenants: at least one tenant is required")}
	}
	if len(c.Tenants) > MaxClusterTenants {
		return Result{Err: invalidf("tenants: more than %d tenants", MaxClusterTenants)}
	}
	tenants := slices.Clone(c.Tenants)
	for i, id := range tenants {
		if _, e := a.liveTenant("tenants["+itoa(i)+"]", id); e != nil {
			if e.Code == CodeNotFound || e.Code == CodeState {
				e = invalidf("tenants[%d]: %s", i, e.Message)
			}
			return Result{Err: e}
		}
	}
	slices.Sort(tenants)
	if i := firstDup(tenants); i >= 0 {
		return Result{Err: invalidf("tenants: %q is listed twice", tenants[i])}
	}
	hash := hex.EncodeToString(c.TokenHash[:])
	var old Cluster
	exists, e := getJSON(a.tx, bClusters, []byte(c.ClusterID), &old)
	if e != nil {
		return Result{Err: e}
	}
	if exists {
		if old.DeregisteredAt != nil {
			return Result{Err: conflictf("cluster %q was deregistered; register it under another id", c.ClusterID)}
		}
		if old.TokenSHA256 == hash && slices.Equal(old.Tenants, tenants) && old.Owner == owner {
			return Result{Unchanged: true, Cluster: &old}
		}
		return Result{Err: conflictf("cluster %q already exists", c.ClusterID)}
	}
	if id := get(a.tx, bTokens, c.TokenHash[:]); id != nil {
		return Result{Err: conflictf("token_hash: already used by cluster %q", id)}
	}
	if get(a.tx, bAPIKeyHashes, c.TokenHash[:]) != nil {
		return Result{Err: conflictf("token_hash: already used by a billing api key")}
	}
	cl := &Cluster{ID: c.ClusterID, Tenants: tenants, Owner: owner, TokenSHA256: hash, CreatedAt: a.now(), CreatedBy: a.h.Actor}
	putJSON(a.tx, bClusters, []byte(cl.ID), cl)
	put(a.tx, bTokens, c.TokenHash[:], []byte(cl.ID))
	details := map[string]string{"tenants": strings.Join(tenants, ",")}
	if owner != "" {
		details["owner"] = owner
	}
	for _, t := range tenants {
		a.audit(t, "cluster", cl.ID, "cluster.registered", details)
	}
	return Result{Cluster: cl}
}

func (a *applier) deregisterCluster(c DeregisterCluster) Result {
	if e := checkID("cluster_id", c.ClusterID); e != nil {
		return Result{Err: e}
	}
	var cl Cluster
	exists, e := getJSON(a.tx, bClusters, []byte(c.ClusterID), &cl)
	if e != nil {
		return Result{Err: e}
	}
	if !exists {
		return Result{Err: notFoundf("cluster %q not found", c.ClusterID)}
	}
	if cl.DeregisteredAt != nil {
		return Result{Unchanged: true, Cluster: &cl}
	}
	var hashes [][]byte
	for _, h := range cl.tokenHashes() {
		hash, err := hex.DecodeString(h)
		if err != nil || len(hash) != 32 {
			return Result{Err: internalf("cluster %q: corrupt token hash", c.ClusterID)}
		}
		hashes = append(hashes, hash)
	}
	now := a.now()
	cl.DeregisteredAt = &now
	putJSON(a.tx, bClusters, []byte(cl.ID), &cl)
	for _, hash := range hashes {
		del(a.tx, bTokens, hash)
	}
	for _, t := range cl.Tenants {
		a.audit(t, "cluster", cl.ID, "cluster.deregistered", nil)
	}
	return Result{Cluster: &cl}
}

func firstDup(sorted []string) int {
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return i
		}
	}
	return -1
}

// GetCluster returns a cluster, or ErrNotFound.
func GetCluster(tx *bolt.Tx, id string) (Cluster, error) {
	var c Cluster
	ok, err := getJSON(tx, bClusters, []byte(id), &c)
	if err != nil {
		return Cluster{}, err
	}
	if !ok {
		return Cluster{}, notFoundf("cluster %q not found", id)
	}
	return c, nil
}

// ClusterByToken returns the cluster whose enrollment token hashes to
// tokenHash (sha256.Sum256 of the presented token), or ErrNotFound. The
// HTTP layer authenticates usage batches with it.
func ClusterByToken(tx *bolt.Tx, tokenHash [32]byte) (Cluster, error) {
	id := get(tx, bTokens, tokenHash[:])
	if id == nil {
		return Cluster{}, notFoundf("no cluster has this enrollment token")
	}
	return GetCluster(tx, string(id))
}

// servedAt reports whether the cluster may report usage of tenant for a
// window starting at start (Unix nanoseconds): it serves the tenant, or
// served it until after start (usage metered before a removal arrives
// late, and is never lost).
func (c Cluster) servedAt(tenant string, start int64) bool {
	if _, ok := slices.BinarySearch(c.Tenants, tenant); ok {
		return true
	}
	for _, r := range c.Removed {
		if r.Tenant == tenant && start < r.At.UnixNano() {
			return true
		}
	}
	return false
}

// loadCluster loads a cluster for a command that changes it.
func (a *applier) loadCluster(id string) (*Cluster, *Error) {
	if e := checkID("cluster_id", id); e != nil {
		return nil, e
	}
	var cl Cluster
	ok, e := getJSON(a.tx, bClusters, []byte(id), &cl)
	if e != nil {
		return nil, e
	}
	if !ok {
		return nil, notFoundf("cluster %q not found", id)
	}
	return &cl, nil
}

func (a *applier) addClusterTenant(c AddClusterTenant) Result {
	cl, e := a.loadCluster(c.ClusterID)
	if e != nil {
		return Result{Err: e}
	}
	if _, e := a.liveTenant("tenant", c.Tenant); e != nil {
		return Result{Err: e}
	}
	i, found := slices.BinarySearch(cl.Tenants, c.Tenant)
	if found {
		return Result{Unchanged: true, Cluster: cl}
	}
	if len(cl.Tenants) >= MaxClusterTenants {
		return Result{Err: statef("cluster %q already serves %d tenants (the limit)", cl.ID, MaxClusterTenants)}
	}
	cl.Tenants = slices.Insert(cl.Tenants, i, c.Tenant)
	putJSON(a.tx, bClusters, []byte(cl.ID), cl)
	a.audit(c.Tenant, "cluster", cl.ID, "cluster.tenant_added", map[string]string{"tenants": strings.Join(cl.Tenants, ",")})
	return Result{Cluster: cl}
}

func (a *applier) removeClusterTenant(c RemoveClusterTenant) Result {
	cl, e := a.loadCluster(c.ClusterID)
	if e != nil {
		return Result{Err: e}
	}
	if e := checkID("tenant", c.Tenant); e != nil {
		return Result{Err: e}
	}
	i, found := slices.BinarySearch(cl.Tenants, c.Tenant)
	switch {
	case !found:
		return Result{Err: notFoundf("tenant %q is not served by cluster %q", c.Tenant, cl.ID)}
	case len(cl.Tenants) == 1:
		return Result{Err: statef("cluster %q serves only tenant %q; a cluster serves at least one tenant (add another first)", cl.ID, c.Tenant)}
	case !c.Force:
		// Billing sees usage, not a cluster's data: only the cluster knows
		// whether the tenant still holds documents there.
		return Result{Err: conflictf("tenant %q may still have data on cluster %q: billing cannot see a cluster's data, so ask the cluster "+
			"(e.g. aerolith collection list, or GET /api/v1/stats, with a key of the tenant); remove it with force to stop serving it anyway: "+
			"its data stays on the cluster, refused to its keys, until the tenant is added back", c.Tenant, cl.ID)}
	}
	cl.Tenants = slices.Delete(cl.Tenants, i, i+1)
	cl.Removed = slices.DeleteFunc(cl.Removed, func(r RemovedTenant) bool { return r.Tenant == c.Tenant })
	cl.Removed = append(cl.Removed, RemovedTenant{Tenant: c.Tenant, At: a.now()})
	putJSON(a.tx, bClusters, []byte(cl.ID), cl)
	a.audit(c.Tenant, "cluster", cl.ID, "cluster.tenant_removed", map[string]string{
		"tenants": strings.Join(cl.Tenants, ","), "forced": "true", "data": "kept on the cluster, refused to the tenant's keys",
	})
	return Result{Cluster: cl}
}
