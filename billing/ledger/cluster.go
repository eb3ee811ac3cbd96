package ledger

import (
	"encoding/hex"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

func (a *applier) registerCluster(c RegisterCluster) Result {
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
		if old.TokenSHA256 == hash && slices.Equal(old.Tenants, tenants) {
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
	cl := &Cluster{ID: c.ClusterID, Tenants: tenants, TokenSHA256: hash, CreatedAt: a.now(), CreatedBy: a.h.Actor}
	putJSON(a.tx, bClusters, []byte(cl.ID), cl)
	put(a.tx, bTokens, c.TokenHash[:], []byte(cl.ID))
	for _, t := range tenants {
		a.audit(t, "cluster", cl.ID, "cluster.registered", map[string]string{"tenants": strings.Join(tenants, ",")})
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
	hash, err := hex.DecodeString(cl.TokenSHA256)
	if err != nil || len(hash) != 32 {
		return Result{Err: internalf("cluster %q: corrupt token hash", c.ClusterID)}
	}
	now := a.now()
	cl.DeregisteredAt = &now
	putJSON(a.tx, bClusters, []byte(cl.ID), &cl)
	del(a.tx, bTokens, hash)
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
