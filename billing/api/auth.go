package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/bearer"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/store"
)

// kind is the kind of credential a caller presented.
type kind uint8

const (
	kindNone    kind = 0
	kindAdmin   kind = 1 << iota // an --admin-key
	kindTenant                   // a tenant read key (role read)
	kindCluster                  // a cluster's enrollment token
	kindOwner                    // a tenant key (role tenant): acts for its tenant
)

// Access sets: which credential kinds a route accepts.
const (
	open       = kindNone
	adminOnly  = kindAdmin
	tenantKeys = kindTenant | kindOwner
	adminOrTen = kindAdmin | tenantKeys
	// adminOrOwn: the admin, or a tenant key acting for its own tenant
	// (the handler checks the tenant or the cluster's owner).
	adminOrOwn = kindAdmin | kindOwner
	anyKey     = kindAdmin | tenantKeys | kindCluster
	clusterKey = kindCluster
)

func (k kind) String() string {
	switch k {
	case kindAdmin:
		return "admin key"
	case kindTenant:
		return "tenant read key"
	case kindOwner:
		return "tenant key"
	case kindCluster:
		return "cluster enrollment token"
	}
	return "no credential"
}

// describeAccess names the credentials an access set accepts.
func describeAccess(a kind) string {
	var names []string
	for _, k := range []kind{kindAdmin, kindOwner, kindTenant, kindCluster} {
		if a&k != 0 {
			article := "a "
			if k == kindAdmin {
				article = "an "
			}
			names = append(names, article+k.String())
		}
	}
	if len(names) == 0 {
		return "nothing"
	}
	return strings.Join(names, " or ")
}

// principal is an authenticated caller.
type principal struct {
	kind kind
	// keyID names the credential (never the secret): the admin key's
	// fingerprint, the tenant key's id or the cluster id.
	keyID string
	// tenant is the tenant of a tenant key (read or tenant role).
	tenant string
	// cluster is the cluster of an enrollment token.
	cluster ledger.Cluster
}

// actor is the principal as recorded in the audit trail.
func (p principal) actor() string {
	switch p.kind {
	case kindAdmin:
		return "admin:" + p.keyID
	case kindTenant, kindOwner:
		return "tenant:" + p.tenant + ":key:" + p.keyID
	case kindCluster:
		return "cluster:" + p.cluster.ID
	}
	return "anonymous"
}

// canSee reports whether p may read tenant's data: admins see every
// tenant, a tenant key its own, a cluster the tenants it serves.
func (p principal) canSee(tenant string) bool {
	switch p.kind {
	case kindAdmin:
		return true
	case kindTenant, kindOwner:
		return p.tenant == tenant
	case kindCluster:
		return slices.Contains(p.cluster.Tenants, tenant)
	}
	return false
}

// adminKeys holds the SHA-256 of every admin key.
type adminKeys struct {
	sums [][sha256.Size]byte
	ids  []string
}

func newAdminKeys(keys []string) (*adminKeys, error) {
	if len(keys) == 0 {
		return nil, errors.New("api: at least one admin key is required")
	}
	a := &adminKeys{}
	for i, k := range keys {
		if k == "" || strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("api: admin key %d is empty or contains whitespace or control characters", i+1)
		}
		sum := sha256.Sum256([]byte(k))
		a.sums = append(a.sums, sum)
		a.ids = append(a.ids, hex.EncodeToString(sum[:4]))
	}
	return a, nil
}

// match returns the fingerprint of the admin key hashing to sum. Every key
// is compared in constant time.
func (a *adminKeys) match(sum [sha256.Size]byte) (string, bool) {
	id, ok := "", false
	for i := range a.sums {
		if subtle.ConstantTimeCompare(sum[:], a.sums[i][:]) == 1 {
			id, ok = a.ids[i], true
		}
	}
	return id, ok
}

// authenticate identifies the caller: an admin key (compared in memory),
// else a tenant key or enrollment token looked up by hash in the local
// state, and if absent there (created a moment ago on the leader), again
// after catching up with the leader.
func (s *Server) authenticate(ctx context.Context, r *http.Request) (principal, error) {
	token, err := bearer.Token(r, ErrUnauthenticated)
	if err != nil {
		return principal{}, err
	}
	sum := sha256.Sum256([]byte(token))
	if id, ok := s.admin.match(sum); ok {
		return principal{kind: kindAdmin, keyID: id}, nil
	}
	var p principal
	var found bool
	lookup := func(tx *bolt.Tx) error {
		k, err := ledger.APIKeyByHash(tx, sum)
		switch {
		case err == nil && k.Revoked():
			return fmt.Errorf("%w: key %s was revoked", ErrUnauthenticated, k.ID)
		case err == nil:
			p, found = principal{kind: kindTenant, keyID: k.ID, tenant: k.Tenant}, true
			if k.Role == ledger.APIKeyRoleTenant {
				p.kind = kindOwner
			}
			return nil
		case !errors.Is(err, ledger.ErrNotFound):
			return err
		}
		cl, err := ledger.ClusterByToken(tx, sum)
		switch {
		case err == nil:
			p, found = principal{kind: kindCluster, keyID: cl.ID, cluster: cl}, true
		case !errors.Is(err, ledger.ErrNotFound):
			return err
		}
		return nil
	}
	if err := s.cfg.Store.View(ctx, store.Stale, lookup); err != nil {
		return principal{}, err
	}
	if !found {
		if err := s.cfg.Store.View(ctx, store.Leader, lookup); err != nil {
			return principal{}, err
		}
	}
	if !found {
		return principal{}, fmt.Errorf("%w: invalid key", ErrUnauthenticated)
	}
	return p, nil
}

// authorize checks that p's kind is in the access set.
func authorize(p principal, access kind) error {
	if p.kind&access != 0 {
		return nil
	}
	return fmt.Errorf("%w: this operation needs %s; the request used a %s", ErrPermissionDenied, describeAccess(access), p.kind)
}

// requireTenant checks that p may see tenant. Callers that may not get 404
// (a tenant key never learns whether another tenant exists).
func requireTenant(p principal, tenant string) error {
	if p.canSee(tenant) {
		return nil
	}
	return jsonapi.NotFound("tenant %q not found", tenant)
}

// requireCluster checks that p may see cluster id, and returns it when it
// was read (for a tenant key): an admin sees every cluster, an enrollment
// token its own cluster, a tenant key (role tenant) the clusters its
// tenant owns (registered with one of its keys). Others get 404: a key
// never learns whether another tenant's cluster exists.
func (s *Server) requireCluster(r *http.Request, p principal, id string) error {
	switch p.kind {
	case kindAdmin:
		return nil
	case kindCluster:
		if p.cluster.ID == id {
			return nil
		}
	case kindOwner:
		var cl ledger.Cluster
		err := s.view(r, func(tx *bolt.Tx) error {
			var err error
			cl, err = ledger.GetCluster(tx, id)
			return err
		})
		if err != nil && !errors.Is(err, ledger.ErrNotFound) {
			return err
		}
		if err == nil && cl.Owner == p.tenant {
			return nil
		}
	}
	return jsonapi.NotFound("cluster %q not found", id)
}

// errOwnTenantOnly refuses a tenant key that names another tenant in a
// request it may make for its own.
func errOwnTenantOnly(p principal, what string) error {
	return fmt.Errorf("%w: a tenant key %s of its own tenant %q only; other tenants need the admin key", ErrPermissionDenied, what, p.tenant)
}
