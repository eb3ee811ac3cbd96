package tenancy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// laggingFollower is a follower's view of the state: commands committed
// on the leader (pending) reach its state only when a linearizable read
// barrier runs, as a read index makes a follower apply up to the leader's
// commit index. Barriers can be held at a gate to see them shared.
type laggingFollower struct {
	t      testing.TB
	f      *fakeStore
	leader bool

	mu        sync.Mutex
	pending   []Command
	barriers  int
	inBarrier int
	maxIn     int
	barErr    error         // returned by barriers when set
	gate      chan struct{} // barriers wait for it when not nil
	entered   chan struct{} // told when a barrier reaches the gate
}

func newLaggingFollower(t testing.TB) *laggingFollower {
	return &laggingFollower{t: t, f: newFakeStore(t)}
}

// commit records c as committed on the leader, not yet applied here.
func (l *laggingFollower) commit(c Command) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append(l.pending, c)
}

func (l *laggingFollower) View(ctx context.Context, c store.Consistency, fn func(*bolt.Tx) error) error {
	if c == store.Stale {
		return l.f.View(ctx, c, fn)
	}
	l.mu.Lock()
	l.barriers++
	l.inBarrier++
	l.maxIn = max(l.maxIn, l.inBarrier)
	gate, entered, err := l.gate, l.entered, l.barErr
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.inBarrier--
		l.mu.Unlock()
	}()
	if gate != nil {
		entered <- struct{}{}
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil {
		return err
	}
	l.mu.Lock()
	pending := l.pending
	l.pending = nil
	l.mu.Unlock()
	for _, cmd := range pending {
		l.f.mustApply(l.t, cmd)
	}
	return l.f.View(ctx, c, fn)
}

func (l *laggingFollower) IsLeader() bool { return l.leader }
func (l *laggingFollower) Ready() bool    { return true }

func (l *laggingFollower) barrierCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.barriers
}

// TestAuthenticateCatchesUp: a key acknowledged by the leader but not yet
// applied on this follower is accepted after one read barrier; known keys,
// malformed keys, wrong secrets and a ready leader never wait for one; an
// unknown id is refused (401) after it.
func TestAuthenticateCatchesUp(t *testing.T) {
	l := newLaggingFollower(t)
	a := NewAuthenticator(l, nil)
	k, token := newTestKey(t, "acme", "readwrite")
	l.commit(CreateKey{Key: k})
	want := auth.Principal{Tenant: "acme", Role: auth.RoleReadWrite, KeyID: k.ID}
	_, unknown := newTestKey(t, "acme", "read") // never stored
	_, otherSecret, _ := ParseKey(unknown)

	steps := []struct {
		name     string
		token    string
		leader   bool
		refused  string // "" for accepted
		barriers int    // total after the step
	}{
		{"new key on a lagging follower", token, false, "", 1},
		{"known key: fast path", token, false, "", 1},
		{"wrong secret of a known key", KeyPrefix + k.ID + "_" + otherSecret, false, "invalid api key", 1},
		{"malformed key", token[:30], false, "malformed api key", 1},
		{"unknown id", unknown, false, "invalid api key", 2},
		{"unknown id on a ready leader", unknown, true, "invalid api key", 2},
	}
	for _, st := range steps {
		l.leader = st.leader
		p, err := a.Authenticate(request(st.token))
		switch {
		case st.refused == "" && (err != nil || p != want):
			t.Fatalf("%s: Authenticate = %+v, %v; want %+v", st.name, p, err, want)
		case st.refused != "" && (!errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), st.refused)):
			t.Fatalf("%s: Authenticate = %+v, %v; want refused with %q", st.name, p, err, st.refused)
		}
		if n := l.barrierCount(); n != st.barriers {
			t.Fatalf("%s: %d read barriers in all, want %d", st.name, n, st.barriers)
		}
	}
}

// TestAuthenticateBarrierShared: a flood of unknown key ids runs one read
// barrier at a time; the requests arriving while one runs share the next.
func TestAuthenticateBarrierShared(t *testing.T) {
	l := newLaggingFollower(t)
	l.gate, l.entered = make(chan struct{}), make(chan struct{}, 4)
	a := NewAuthenticator(l, nil)
	_, unknown := newTestKey(t, "acme", "read")

	const flood = 50
	var wg sync.WaitGroup
	errs := make(chan error, flood+1)
	try := func() {
		defer wg.Done()
		_, err := a.Authenticate(request(unknown))
		errs <- err
	}
	wg.Add(1)
	go try()
	<-l.entered // the first round is running, held at the gate
	for range flood {
		wg.Add(1)
		go try()
	}
	storetest.Eventually(t, storetest.WaitTimeout, func() error {
		a.barrier.mu.Lock()
		defer a.barrier.mu.Unlock()
		if a.barrier.next == nil || a.barrier.next.waiters != flood {
			return errors.New("the flood has not joined the next round yet")
		}
		return nil
	})
	close(l.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("Authenticate(unknown id) = %v, want ErrUnauthenticated", err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.barriers != 2 || l.maxIn != 1 {
		t.Fatalf("%d read barriers, at most %d at once; want 2, 1", l.barriers, l.maxIn)
	}
}

// TestAuthenticateBarrierFails: when the barrier fails (no leader), an
// unknown id is not answered "invalid" (the key may exist): the store's
// error stops a Chain and becomes 503. A request whose context ends stops
// waiting.
func TestAuthenticateBarrierFails(t *testing.T) {
	l := newLaggingFollower(t)
	l.barErr = store.ErrNoLeader
	a := NewAuthenticator(l, nil)
	_, unknown := newTestKey(t, "acme", "read")
	_, err := a.Authenticate(request(unknown))
	if !errors.Is(err, store.ErrNoLeader) || errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("Authenticate with the barrier failing = %v, want ErrNoLeader", err)
	}

	l.barErr = nil
	l.gate, l.entered = make(chan struct{}), make(chan struct{}, 1)
	defer close(l.gate)
	ctx, cancel := context.WithCancel(context.Background())
	r := request(unknown).WithContext(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := a.Authenticate(r)
		done <- err
	}()
	<-l.entered
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Authenticate with its request canceled = %v, want context.Canceled", err)
		}
	case <-time.After(storetest.WaitTimeout):
		t.Fatal("Authenticate kept waiting after its request was canceled")
	}
}
