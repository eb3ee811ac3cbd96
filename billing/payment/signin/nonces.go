package signin

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Nonce is one issued challenge nonce and whom it was issued to.
type Nonce struct {
	Value   string
	Chain   Chain
	Address string
	Expires time.Time
}

// NonceStore keeps issued nonces until they are used or expire. Take must
// succeed at most once per nonce, also when called concurrently (the
// billing ledger's implementation does it through raft).
type NonceStore interface {
	// Put records an issued nonce.
	Put(ctx context.Context, n Nonce) error
	// Take removes and returns a nonce; ErrNonceUnknown when it was never
	// issued, was already taken or has expired.
	Take(ctx context.Context, value string) (Nonce, error)
}

// MemoryNonces is an in-memory NonceStore for tests and a single
// process. Expired nonces are dropped as new ones are put. Safe for
// concurrent use.
type MemoryNonces struct {
	mu  sync.Mutex
	m   map[string]Nonce
	Now func() time.Time // default time.Now
}

var _ NonceStore = (*MemoryNonces)(nil)

func (s *MemoryNonces) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Put records n; a nonce already present is an error (nonces are random,
// so this is a bug or an attack).
func (s *MemoryNonces) Put(_ context.Context, n Nonce) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]Nonce{}
	}
	now := s.now()
	for k, v := range s.m {
		if !now.Before(v.Expires) {
			delete(s.m, k)
		}
	}
	if _, ok := s.m[n.Value]; ok {
		return fmt.Errorf("nonce %s already issued", n.Value)
	}
	s.m[n.Value] = n
	return nil
}

// Take removes and returns the nonce.
func (s *MemoryNonces) Take(_ context.Context, value string) (Nonce, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.m[value]
	if !ok {
		return Nonce{}, fmt.Errorf("%w: %s", ErrNonceUnknown, clip(value))
	}
	delete(s.m, value)
	if !s.now().Before(n.Expires) {
		return Nonce{}, fmt.Errorf("%w: %s expired", ErrNonceUnknown, clip(value))
	}
	return n, nil
}
