package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
	bolt "go.etcd.io/bbolt"
)

// TestReadConsistency writes through one node and reads through every node
// with each consistency level.
func TestReadConsistency(t *testing.T) {
	regs := &registries{}
	c := newCluster(t, 3, regs, nil)
	leader := c.WaitForLeader()
	for i, writer := range c.Nodes() {
		k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
		put(t, writer.Store, k, v)
		// Linearizable and leader reads on every node see a write
		// acknowledged before they started.
		for _, nd := range c.Nodes() {
			for _, cons := range []store.Consistency{store.Linearizable, store.Leader} {
				got, ok, err := read(ctxT(t), nd.Store, cons, k)
				if err != nil || !ok || got != v {
					t.Fatalf("%v read of %s on %s = %q, %v, %v; want %q", cons, k, nd.ID, got, ok, err, v)
				}
			}
		}
		// The writer itself sees its write even with a stale read.
		if got, _, err := read(ctxT(t), writer.Store, store.Stale, k); err != nil || got != v {
			t.Fatalf("stale read on writer %s = %q, %v; want %q", writer.ID, got, err, v)
		}
	}
	if n := regs.value(t, leader.Index, "aerolith_store_read_index_rounds_total"); n == 0 {
		t.Errorf("leader ran no read-index rounds")
	}
	for _, f := range followers(c, leader) {
		if n := regs.value(t, f.Index, "aerolith_store_read_index_rpcs_total"); n == 0 {
			t.Errorf("%s sent no read-index RPCs", f.ID)
		}
	}
	// fn's error is returned unchanged.
	errFn := errors.New("from fn")
	if err := leader.Store.View(ctxT(t), store.Linearizable, func(*bolt.Tx) error { return errFn }); err != errFn {
		t.Fatalf("View returned %v, want fn's error", err)
	}
	if err := leader.Store.View(ctxT(t), store.Consistency(42), func(*bolt.Tx) error { return nil }); err == nil {
		t.Fatalf("View with unknown consistency succeeded")
	}
}

// TestConcurrentLinearizableReads checks that concurrent linearizable
// readers share quorum rounds and RPCs rather than running one each.
func TestConcurrentLinearizableReads(t *testing.T) {
	regs := &registries{}
	c := newCluster(t, 3, regs, nil)
	leader := c.WaitForLeader()
	follower := followers(c, leader)[0]
	put(t, leader.Store, "k", "v")
	const n = 200
	for _, nd := range []*storetest.Node{leader, follower} {
		roundsBefore := regs.value(t, leader.Index, "aerolith_store_read_index_rounds_total")
		rpcsBefore := regs.value(t, nd.Index, "aerolith_store_read_index_rpcs_total")
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if v, ok, err := read(ctxT(t), nd.Store, store.Linearizable, "k"); err != nil || !ok || v != "v" {
					t.Errorf("read on %s = %q, %v, %v", nd.ID, v, ok, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		rounds := regs.value(t, leader.Index, "aerolith_store_read_index_rounds_total") - roundsBefore
		rpcs := regs.value(t, nd.Index, "aerolith_store_read_index_rpcs_total") - rpcsBefore
		t.Logf("%s: %d reads, %v quorum rounds, %v read-index RPCs", nd.ID, n, rounds, rpcs)
		if rounds < 1 || rounds >= n {
			t.Errorf("%d reads on %s took %v quorum rounds; want between 1 and %d", n, nd.ID, rounds, n-1)
		}
		if nd != leader && (rpcs < 1 || rpcs >= n) {
			t.Errorf("%d reads on %s took %v RPCs; want between 1 and %d", n, nd.ID, rpcs, n-1)
		}
	}
}

// TestNoLeader stops a quorum: the survivor refuses linearizable and leader
// reads and writes with ErrNoLeader but still serves stale reads.
func TestNoLeader(t *testing.T) {
	c := newCluster(t, 3, nil, func(i int, cfg *store.Config) {
		cfg.LeaderWait = 500 * time.Millisecond
	})
	leader := c.WaitForLeader()
	put(t, leader.Store, "k", "v")
	survivor := followers(c, leader)[0]
	if err := survivor.Store.WaitForApplied(ctxT(t), leader.Store.AppliedIndex()); err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.Running() {
		if nd.ID != survivor.ID {
			c.Stop(nd.Index)
		}
	}
	s := survivor.Store
	// Once the survivor has noticed, strong reads and writes fail. A
	// stopping leader hands leadership over first, so the survivor may
	// itself lead for a moment (until its lease runs out without a quorum):
	// it has noticed only once it is no leader and knows none.
	c.Eventually(func() error {
		if id, _ := s.Leader(); id != "" {
			return fmt.Errorf("survivor still sees leader %q", id)
		}
		if st := s.Stats().State; st == "Leader" {
			return fmt.Errorf("survivor still in state %s", st)
		}
		return nil
	})
	if s.Ready() {
		t.Fatalf("Ready() = true without a leader")
	}
	for _, cons := range []store.Consistency{store.Linearizable, store.Leader} {
		if _, _, err := read(ctxT(t), s, cons, "k"); !errors.Is(err, store.ErrNoLeader) {
			t.Errorf("%v read without leader = %v, want ErrNoLeader", cons, err)
		}
	}
	if _, _, err := s.Propose(ctxT(t), storetest.Put("k", "w")); !errors.Is(err, store.ErrNoLeader) {
		t.Errorf("Propose without leader = %v, want ErrNoLeader", err)
	}
	if v, ok, err := read(ctxT(t), s, store.Stale, "k"); err != nil || !ok || v != "v" {
		t.Errorf("stale read without leader = %q, %v, %v; want v", v, ok, err)
	}
	// A short ctx wins over LeaderWait.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.WaitForLeader(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitForLeader = %v, want deadline exceeded", err)
	}
}

// gateSM is KV whose Apply blocks on the command "block" until the gate
// opens, to hold a node's state machine behind a committed entry.
type gateSM struct {
	storetest.KV
	gate    chan struct{}
	once    sync.Once
	blocked atomic.Bool
}

func newGateSM() *gateSM { return &gateSM{gate: make(chan struct{})} }

func (g *gateSM) Apply(tx *bolt.Tx, index uint64, cmd []byte) []byte {
	if string(cmd) == "block" {
		g.blocked.Store(true)
		<-g.gate
		return []byte("unblocked")
	}
	return g.KV.Apply(tx, index, cmd)
}

func (g *gateSM) open() { g.once.Do(func() { close(g.gate) }) }

// TestNotReady holds every state machine behind a committed entry and moves
// leadership: the new leader cannot apply its barrier, so linearizable and
// leader reads are refused with ErrNotReady until the state machines run
// again.
func TestNotReady(t *testing.T) {
	sms := []*gateSM{newGateSM(), newGateSM(), newGateSM()}
	c := storetest.NewCluster(t, 3, storetest.WithStateMachine(func(i int) store.StateMachine { return sms[i] }))
	t.Cleanup(func() {
		for _, g := range sms {
			g.open()
		}
	})
	old := c.WaitForLeader()
	idx := put(t, old.Store, "k", "v")
	// Every node applies "k" before "block" is proposed, so no follower
	// gets both in one batch (the gate would hold "k" back too).
	for _, nd := range c.Running() {
		if err := nd.Store.WaitForApplied(ctxT(t), idx); err != nil {
			t.Fatal(err)
		}
	}
	res := make(chan error, 1)
	go func() {
		_, _, err := old.Store.Propose(context.Background(), []byte("block"))
		res <- err
	}()
	c.Eventually(func() error {
		for i, g := range sms {
			if !g.blocked.Load() {
				return fmt.Errorf("state machine %d not blocked yet", i)
			}
		}
		return nil
	})
	if err := old.Store.LeadershipTransfer(ctxT(t)); err != nil {
		t.Fatalf("LeadershipTransfer = %v", err)
	}
	var nl *storetest.Node
	c.Eventually(func() error {
		for _, nd := range c.Running() {
			if nd.ID != old.ID && nd.Store.IsLeader() {
				nl = nd
				return nil
			}
		}
		return errors.New("no new leader")
	})
	if nl.Store.Ready() {
		t.Fatalf("new leader Ready() before its barrier applied")
	}
	for _, nd := range c.Running() {
		for _, cons := range []store.Consistency{store.Linearizable, store.Leader} {
			c.Eventually(func() error {
				_, _, err := read(ctxT(t), nd.Store, cons, "k")
				if !errors.Is(err, store.ErrNotReady) {
					return fmt.Errorf("%v read on %s = %v, want ErrNotReady", cons, nd.ID, err)
				}
				return nil
			})
		}
		// Stale reads still work.
		if v, _, err := read(ctxT(t), nd.Store, store.Stale, "k"); err != nil || v != "v" {
			t.Fatalf("stale read on %s = %q, %v", nd.ID, v, err)
		}
	}
	for _, g := range sms {
		g.open()
	}
	if err := <-res; err != nil && !errors.Is(err, store.ErrLeadershipLost) {
		t.Fatalf("blocked Propose = %v", err)
	}
	c.Eventually(func() error {
		if !nl.Store.Ready() {
			return errors.New("new leader not ready")
		}
		return nil
	})
	for _, nd := range c.Running() {
		if v, _, err := read(ctxT(t), nd.Store, store.Linearizable, "k"); err != nil || v != "v" {
			t.Fatalf("read on %s after barrier = %q, %v", nd.ID, v, err)
		}
	}
}
