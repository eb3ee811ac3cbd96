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
	kindTenant                   // a tenant read key
	kindCluster                  // a cluster's enrollment token
)

// Access sets: which credential kinds a route accepts.
const (
	open       = kindNone
	adminOnly  = kindAdmin
	adminOrTen = kindAdmin | kindTenant
	anyKey     = kindAdmin | kindTenant | kindCluster
	clusterKey = kindCluster
)

func (k kind) String() string {
	switch k {
	case kindAdmin:
		return "admin key"
	case kindTenant:
		return "tenant read key"
	case kindCluster:
		return "cluster enrollment token"
	}
	return "no credential"
}

// describeAccess names the credentials an access set accepts.
func describeAccess(a kind) string {
	var names []string
	for _, k := range []kind{kindAdmin, kindTenant, kindCluster} {
		if a&k != 0 {
			names = append(names, "a "+k.String())
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
	// tenant is the tenant of a tenant read key.
	tenant string
	// cluster is the cluster of an enrollment token.
	cluster ledger.Cluster
}

// actor is the principal as recorded in the audit trail.
func (p principal) actor() string {
	switch p.kind {
	case kindAdmin:
		return "admin:" + p.keyID
	case kindTenant:
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
	case kindTenant:
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
