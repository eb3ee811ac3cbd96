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
	"sync/atomic"
	"time"

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

// keyBarrierTimeout bounds one catch-up round of the Authenticator (see
// keyBarrier).
const keyBarrierTimeout = 3 * time.Second

// Authenticator authenticates tenant api keys ("ak_<id>_<secret>") against
// the node's own replicated state, read stale: a key is accepted as soon as
// this node applied its CreateKey, and refused as soon as it applied its
// RevokeKey. It implements auth.Authenticator and is safe for concurrent
// use.
//
// A key created through raft is acknowledged once the leader applied it; a
// follower may apply it a few milliseconds later. So that a key works on
// every node as soon as its creation was acknowledged, a well-formed key
// whose id this node does not know is looked up once more after a
// catch-up round: a linearizable read barrier (the leader's commit index,
// confirmed by a quorum, applied here). Known keys never wait. The rounds
// are shared: at most one is in flight per node and every request that
// arrives meanwhile waits for the single next one, so a flood of unknown
// key ids costs at most one read-index round at a time, not one per
// request. A node that leads (and is ready) skips the round: it applied
// every acknowledged key already. A round that fails (no leader within
// keyBarrierTimeout) fails the request with the store's error, which the
// API answers with 503, rather than 401 for a key that may exist.
//
// Verified key records are cached by id. Every request reads the key
// generation, which each applied CreateKey and RevokeKey advances (and a
// restored snapshot carries), in the same stale read; when it moved the
// cache is dropped, so a revocation applied on this node refuses the very
// next request. With UseGeneration a cached key costs no read at all.
type Authenticator struct {
	v       Viewer
	revoked func(tenant string) []string
	barrier keyBarrier
	// generation, when set, reports the committed key generation without
	// a read transaction (StateMachine.KeyGeneration).
	generation func() (uint64, bool)
	// lease, when set (UseLease), bounds how long a catch-up round keeps
	// this node's state trusted; fresh is when the last successful round
	// started, as nanoseconds after epoch plus one (0: never).
	lease time.Duration
	epoch time.Time
	fresh atomic.Int64

	mu   sync.RWMutex
	gen  uint64
	keys map[string]APIKey
}

var _ auth.Authenticator = (*Authenticator)(nil)

// NewAuthenticator returns an Authenticator reading keys through v.
// revoked, when not nil, returns the key ids a tenant's billing policy
// revokes (contract.Policy.RevokedAgentKeys of the policy in force); those are
// refused too. It does no I/O.
func NewAuthenticator(v Viewer, revoked func(tenant string) []string) *Authenticator {
	return &Authenticator{v: v, revoked: revoked, keys: map[string]APIKey{}, epoch: time.Now()}
}

// UseLease makes the Authenticator trust this node's applied state for at
// most d (normally Lease) after a catch-up round started (a linearizable
// read barrier: everything the leader had committed is applied here).
// Past d a tenant key waits for a new round before it is looked up; past
// d/2 a round starts in the background, so a node that serves keys
// steadily never waits. A node cut off from the leader for longer than d
// answers tenant keys with the store's error (503) rather than from state
// that may miss a revocation or a suspension; this is what lets
// Keys.Revoke and PolicyStore.Save stop waiting for a member that does not
// confirm after d. Call it before the Authenticator is used.
func (a *Authenticator) UseLease(d time.Duration) { a.lease = d }

// UseGeneration lets the Authenticator answer a cached key without a read
// of the state: gen (normally StateMachine.KeyGeneration of the node's
// tenancy state machine) reports the committed key generation, so a cache
// hit needs only an atomic load. A revocation is then refused from the
// moment its transaction's commit callback ran (microseconds after the
// commit), and after a snapshot restore once the store reloaded the state.
// Call it before the Authenticator is used.
func (a *Authenticator) UseGeneration(gen func() (uint64, bool)) { a.generation = gen }

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
		return auth.Principal{}, auth.ErrOtherCredential // an auth.Chain tries its next authenticator (the admin key)
	}
	id, secret, err := ParseKey(token)
	if err != nil {
		return auth.Principal{}, fmt.Errorf("%w: %v", auth.ErrUnauthenticated, err)
	}
	ctx := r.Context()
	if a.lease > 0 {
		if err := a.ensureFresh(ctx); err != nil {
			return auth.Principal{}, fmt.Errorf("check api key %s: %w", id, err)
		}
	}
	k, found, err := a.lookup(ctx, id)
	if err == nil && !found && a.mayLag() {
		if err = a.barrier.wait(ctx, a.catchUp); err == nil {
			k, found, err = a.lookup(ctx, id)
		}
	}
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
func (a *Authenticator) lookup(ctx context.Context, id string) (APIKey, bool, error) {
	if a.generation != nil {
		if gen, ok := a.generation(); ok {
			a.mu.RLock()
			k, found := a.keys[id]
			found = found && a.gen == gen
			a.mu.RUnlock()
			if found {
				return k, true, nil
			}
		}
	}
	return a.read(ctx, id)
}

// read looks key id up in a read of the node's state (and caches it).
func (a *Authenticator) read(ctx context.Context, id string) (k APIKey, found bool, err error) {
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

// leaderState is what the Authenticator asks of a Viewer that can tell
// whether it leads; *store.Store implements it.
type leaderState interface {
	IsLeader() bool
	Ready() bool
}

// mayLag reports whether this node may not have applied a key whose
// creation was already acknowledged: false only on a ready leader.
func (a *Authenticator) mayLag() bool {
	ls, ok := a.v.(leaderState)
	return !ok || !ls.IsLeader() || !ls.Ready()
}

// catchUp waits until this node applied everything committed when it was
// called (a linearizable read barrier), and renews the lease from the
// moment it started.
func (a *Authenticator) catchUp(ctx context.Context) error {
	start := int64(time.Since(a.epoch)) + 1
	if err := a.v.View(ctx, store.Linearizable, func(*bolt.Tx) error { return nil }); err != nil {
		return err
	}
	for {
		cur := a.fresh.Load()
		if cur >= start || a.fresh.CompareAndSwap(cur, start) {
			return nil
		}
	}
}

// ensureFresh returns once this node's state is within the lease: at once
// when a round started less than lease ago (starting one in the
// background past half of it), else after a new round.
func (a *Authenticator) ensureFresh(ctx context.Context) error {
	if f := a.fresh.Load(); f != 0 {
		age := time.Since(a.epoch) - time.Duration(f-1)
		if age < a.lease/2 {
			return nil
		}
		if age < a.lease {
			a.barrier.kick(a.catchUp)
			return nil
		}
	}
	return a.barrier.wait(ctx, a.catchUp)
}

// keyBarrier shares catch-up rounds among concurrent requests: one round
// runs at a time, and the requests that arrive while it runs share the
// next one (which starts after they arrived, so it covers every key
// acknowledged before them). The zero value is ready to use.
type keyBarrier struct {
	mu      sync.Mutex
	running *barrierRound // nil when idle
	next    *barrierRound // starts when running ends; nil when none asked
	rounds  int           // rounds started, for tests
}

type barrierRound struct {
	done    chan struct{}
	err     error
	waiters int // requests sharing the round, for tests
}

// wait runs (or joins) a round that starts after the call, and
// returns its error, or ctx's error once ctx ends first. Each round runs
// with its own keyBarrierTimeout deadline, not a request's context, since
// many requests share it.
func (b *keyBarrier) wait(ctx context.Context, round func(context.Context) error) error {
	b.mu.Lock()
	var r *barrierRound
	switch {
	case b.running == nil:
		r = &barrierRound{done: make(chan struct{})}
		b.running = r
		b.rounds++
		go b.run(r, round)
	case b.next == nil:
		r = &barrierRound{done: make(chan struct{})}
		b.next = r
	default:
		r = b.next
	}
	r.waiters++
	b.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// kick starts a round unless one is running; it does not wait.
func (b *keyBarrier) kick(round func(context.Context) error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running != nil {
		return
	}
	r := &barrierRound{done: make(chan struct{})}
	b.running = r
	b.rounds++
	go b.run(r, round)
}

// run runs r, then each next round asked for meanwhile, until none is.
func (b *keyBarrier) run(r *barrierRound, round func(context.Context) error) {
	for r != nil {
		ctx, cancel := context.WithTimeout(context.Background(), keyBarrierTimeout)
		r.err = round(ctx)
		cancel()
		close(r.done)
		b.mu.Lock()
		r, b.next = b.next, nil
		b.running = r
		if r != nil {
			b.rounds++
		}
		b.mu.Unlock()
	}
}
