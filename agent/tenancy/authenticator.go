package tenancy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/store"
)

// Viewer reads the node's replicated state; *store.Store implements it.
type Viewer interface {
	View(ctx context.Context, c store.Consistency, fn func(*bolt.Tx) error) error
}

// Proposer replicates a command; *store.Store implements it.
type Proposer interface {
	Propose(ctx context.Context, cmd []byte) ([]byte, uint64, error)
}

// maxCachedKeys bounds the Authenticator's cache; past it the cache starts
// over. Only keys that exist are cached, so this is a memory bound for
// clusters with very many keys, not a defence.
const maxCachedKeys = 1 << 16

// Authenticator authenticates tenant api keys ("ak_<id>_<secret>") against
// the node's own replicated state, read stale: a key is accepted as soon as
// this node applied its CreateKey, and refused as soon as it applied its
// RevokeKey. It implements auth.Authenticator and is safe for concurrent
// use.
//
// Verified key records are cached by id. Every request reads the key
// generation, which each applied CreateKey and RevokeKey advances (and a
// restored snapshot carries), in the same stale read; when it moved the
// cache is dropped, so a revocation applied on this node refuses the very
// next request.
type Authenticator struct {
	v       Viewer
	revoked func(tenant string) []string

	mu   sync.RWMutex
	gen  uint64
	keys map[string]APIKey
}

var _ auth.Authenticator = (*Authenticator)(nil)

// NewAuthenticator returns an Authenticator reading keys through v.
// revoked, when not nil, returns the key ids a tenant's billing policy
// revokes (ledger.Policy.RevokedAgentKeys of the policy in force); those are
// refused too. It does no I/O.
func NewAuthenticator(v Viewer, revoked func(tenant string) []string) *Authenticator {
	return &Authenticator{v: v, revoked: revoked, keys: map[string]APIKey{}}
}

// dummyHash is compared against when the id is unknown, so unknown ids and
// wrong secrets take the same work.
var dummyHash [sha256.Size]byte

// Authenticate implements auth.Authenticator. It returns a Principal with
// the key's tenant, role and id. Failures wrap auth.ErrUnauthenticated
// (a token that is not an api key, so an auth.Chain tries its next
// authenticator; a malformed key; an unknown id or wrong secret, both
// "invalid api key"; a revoked key, "api key revoked", said only once the
// secret matched), except a failure to read the state, which is returned as
// is and stops a Chain. No message names a tenant or echoes the token.
func (a *Authenticator) Authenticate(r *http.Request) (auth.Principal, error) {
	token, err := auth.BearerToken(r)
	if err != nil {
		return auth.Principal{}, err
	}
	if !strings.HasPrefix(token, KeyPrefix) {
		return auth.Principal{}, fmt.Errorf("%w: invalid key", auth.ErrUnauthenticated)
	}
	id, secret, err := ParseKey(token)
	if err != nil {
		return auth.Principal{}, fmt.Errorf("%w: %v", auth.ErrUnauthenticated, err)
	}
	k, found, err := a.lookup(r.Context(), id)
	if err != nil {
		return auth.Principal{}, fmt.Errorf("look up api key %s: %w", id, err)
	}
	want := &dummyHash
	if found {
		want = &k.Hash
	}
	got := HashSecret(secret)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !found {
		return auth.Principal{}, fmt.Errorf("%w: invalid api key", auth.ErrUnauthenticated)
	}
	if k.Revoked || (a.revoked != nil && slices.Contains(a.revoked(k.Tenant), k.ID)) {
		return auth.Principal{}, fmt.Errorf("%w: api key revoked", auth.ErrUnauthenticated)
	}
	role, err := auth.ParseRole(k.Role)
	if err != nil {
		return auth.Principal{}, fmt.Errorf("api key %s: stored role: %w", k.ID, err)
	}
	return auth.Principal{Tenant: k.Tenant, Role: role, KeyID: k.ID}, nil
}

// lookup returns key id from the cache or the node's state.
func (a *Authenticator) lookup(ctx context.Context, id string) (k APIKey, found bool, err error) {
	err = a.v.View(ctx, store.Stale, func(tx *bolt.Tx) error {
		gen := keyGenerationOf(tx)
		a.mu.RLock()
		if a.gen == gen {
			k, found = a.keys[id]
		}
		a.mu.RUnlock()
		if found {
			return nil
		}
		var err error
		if k, found, err = GetKey(tx, id); err != nil || !found {
			return err
		}
		a.mu.Lock()
		if a.gen != gen || len(a.keys) >= maxCachedKeys {
			// A newer generation may already be cached by a request
			// that read later state; starting over is always safe.
			a.gen, a.keys = gen, make(map[string]APIKey)
		}
		a.keys[id] = k
		a.mu.Unlock()
		return nil
	})
	return k, found, err
}
