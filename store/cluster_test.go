package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// TestBootstrapExpect starts three nodes at once with BootstrapExpect 3:
// they must form one cluster of three voters with one leader, and every
// node's Meta must be replicated.
func TestBootstrapExpect(t *testing.T) {
	c := storetest.NewCluster(t, 3)
	leader := c.WaitForLeader()
	for _, nd := range c.Nodes() {
		nd := nd
		c.Eventually(func() error {
			ms, err := nd.Store.Members(ctxT(t))
			if err != nil {
				return err
			}
			if len(ms) != 3 {
				return fmt.Errorf("%s sees %d members, want 3", nd.ID, len(ms))
			}
			for i, m := range ms {
				want := c.Node(i)
				if m.ID != want.ID || m.RaftAddr != want.Addr || !m.Voter {
					return fmt.Errorf("%s member %d = %+v, want voter %s at %s", nd.ID, i, m, want.ID, want.Addr)
				}
				if m.Leader != (m.ID == leader.ID) {
					return fmt.Errorf("%s member %s Leader = %v, leader is %s", nd.ID, m.ID, m.Leader, leader.ID)
				}
				if m.Meta["index"] != fmt.Sprint(i) {
					return fmt.Errorf("%s member %s Meta = %v, want index %d", nd.ID, m.ID, m.Meta, i)
				}
			}
			return nil
		})
		st := nd.Store.Stats()
		if st.NumVoters != 3 || st.NumNonvoters != 0 || st.LeaderID != leader.ID {
			t.Errorf("%s Stats() = %+v, want 3 voters and leader %s", nd.ID, st, leader.ID)
		}
	}
	leaders := 0
	for _, nd := range c.Nodes() {
		if nd.Store.IsLeader() {
			leaders++
		}
	}
	if leaders != 1 {
		t.Fatalf("%d leaders, want 1", leaders)
	}
}

// TestSingleNode covers a node without Join or BootstrapExpect: it
// bootstraps alone, and Propose/View work.
func TestSingleNode(t *testing.T) {
	c := storetest.NewCluster(t, 1)
	s := c.Leader()
	res, idx, err := s.Propose(ctxT(t), storetest.CAS("k", "", "v1"))
	if err != nil {
		t.Fatalf("Propose = %v", err)
	}
	if r, _ := storetest.DecodeResult(res); !r.OK || r.Value != "v1" {
		t.Fatalf("cas result = %+v, want OK v1", r)
	}
	if idx == 0 || s.AppliedIndex() < idx {
		t.Fatalf("index %d, applied %d", idx, s.AppliedIndex())
	}
	res, _, err = s.Propose(ctxT(t), storetest.CAS("k", "", "v2"))
	if r, _ := storetest.DecodeResult(res); err != nil || r.OK || r.Value != "v1" {
		t.Fatalf("second cas = %+v, %v; want failure showing v1", r, err)
	}
	for _, cons := range []store.Consistency{store.Linearizable, store.Leader, store.Stale} {
		if v, ok, err := read(ctxT(t), s, cons, "k"); err != nil || !ok || v != "v1" {
			t.Errorf("read %v = %q, %v, %v; want v1", cons, v, ok, err)
		}
	}
}

// TestForwarding proposes on followers: results come back from the leader,
// and the write is visible on the follower to linearizable reads as soon as
// Propose returns, and to stale reads once it applied the returned index.
func TestForwarding(t *testing.T) {
	regs := &registries{}
	c := newCluster(t, 3, regs, nil)
	leader := c.WaitForLeader()
	for _, f := range followers(c, leader) {
		for i := range 5 {
			k, v := fmt.Sprintf("%s-%d", f.ID, i), fmt.Sprintf("v%d", i)
			idx := put(t, f.Store, k, v)
			if got, ok, err := read(ctxT(t), f.Store, store.Linearizable, k); err != nil || !ok || got != v {
				t.Fatalf("linearizable read on %s after own write = %q, %v, %v; want %q", f.ID, got, ok, err, v)
			}
			if err := f.Store.WaitForApplied(ctxT(t), idx); err != nil {
				t.Fatal(err)
			}
			if got, ok, err := read(ctxT(t), f.Store, store.Stale, k); err != nil || !ok || got != v {
				t.Fatalf("stale read on %s after own write = %q, %v, %v; want %q", f.ID, got, ok, err, v)
			}
		}
		if n := regs.value(t, f.Index, "aerolith_store_forwarded_proposals_total"); n < 5 {
			t.Errorf("%s forwarded %v proposals, want >= 5", f.ID, n)
		}
	}
	if n := regs.value(t, leader.Index, "aerolith_store_forwarded_proposals_total"); n != 0 {
		t.Errorf("leader forwarded %v proposals, want 0", n)
	}
	waitConverged(t, c)
}

// TestCoalescing sends many concurrent proposals on the leader and on a
// follower: they must share raft entries (and forward RPCs), and each
// caller must get its own result.
func TestCoalescing(t *testing.T) {
	regs := &registries{}
	c := newCluster(t, 3, regs, nil)
	leader := c.WaitForLeader()
	follower := followers(c, leader)[0]
	const n = 200
	for _, nd := range []*storetest.Node{leader, follower} {
		before := leader.Store.Stats().LastLogIndex
		rpcsBefore := regs.value(t, nd.Index, "aerolith_store_forward_rpcs_total")
		var wg sync.WaitGroup
		var failed atomic.Int32
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				k := fmt.Sprintf("%s-%d", nd.ID, i)
				v := fmt.Sprintf("value-%d", i)
				// Each caller's result carries its own value.
				res, idx, err := nd.Store.Propose(ctxT(t), storetest.CAS(k, "", v))
				if err != nil {
					t.Errorf("Propose %d = %v", i, err)
					failed.Add(1)
					return
				}
				r, err := storetest.DecodeResult(res)
				if err != nil || !r.OK || r.Value != v || idx == 0 {
					t.Errorf("Propose %d = %+v, %d, %v; want its own value %q", i, r, idx, err, v)
				}
			}()
		}
		close(start)
		wg.Wait()
		if failed.Load() > 0 {
			t.FailNow()
		}
		entries := leader.Store.Stats().LastLogIndex - before
		t.Logf("%s: %d proposals in %d raft entries", nd.ID, n, entries)
		if entries >= n {
			t.Errorf("%d proposals used %d raft entries; want fewer (coalescing)", n, entries)
		}
		if nd != leader {
			rpcs := regs.value(t, nd.Index, "aerolith_store_forward_rpcs_total") - rpcsBefore
			t.Logf("%s: %d proposals in %v forward RPCs", nd.ID, n, rpcs)
			if rpcs >= n || rpcs == 0 {
				t.Errorf("%d forwarded proposals used %v RPCs; want between 1 and %d", n, rpcs, n-1)
			}
		}
	}
	if got := regs.value(t, leader.Index, "aerolith_store_batch_commands"); got == 0 {
		t.Errorf("batch size histogram empty on leader")
	}
	data := waitConverged(t, c)
	if len(data) != 2*n {
		t.Fatalf("%d keys, want %d", len(data), 2*n)
	}
}

// TestFailover stops the leader while clients write: a new leader takes
// over, writes continue, and no acknowledged write is lost.
func TestFailover(t *testing.T) {
	c := storetest.NewCluster(t, 3)
	old := c.WaitForLeader()
	var mu sync.Mutex
	acked := map[string]string{}
	ctx, cancel := context.WithCancel(ctxT(t))
	var wg sync.WaitGroup
	var afterFailover atomic.Int32
	var failedOver atomic.Bool
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				stores := c.Stores()
				s := stores[(w+i)%len(stores)]
				k, v := fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("v%d", i)
				res, _, err := s.Propose(ctx, storetest.Put(k, v))
				if err != nil {
					continue // unacknowledged: may or may not be applied
				}
				if r, _ := storetest.DecodeResult(res); !r.OK {
					t.Errorf("put %s = %+v", k, r)
				}
				mu.Lock()
				acked[k] = v
				mu.Unlock()
				if failedOver.Load() {
					afterFailover.Add(1)
				}
			}
		}()
	}
	c.Eventually(func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < 50 {
			return fmt.Errorf("%d writes acknowledged", len(acked))
		}
		return nil
	})
	c.Stop(old.Index)
	nl := c.WaitForNewLeader(old)
	failedOver.Store(true)
	c.Eventually(func() error {
		if n := afterFailover.Load(); n < 50 {
			return fmt.Errorf("%d writes acknowledged after failover", n)
		}
		return nil
	})
	cancel()
	wg.Wait()
	t.Logf("new leader %s; %d writes acknowledged", nl.ID, len(acked))
	data := waitConverged(t, c)
	for k, v := range acked {
		if data[k] != v {
			t.Fatalf("acknowledged write %s=%s lost (have %q)", k, v, data[k])
		}
	}
	// The old leader comes back as a follower and catches up.
	c.Restart(old.Index)
	c.WaitForLeader()
	data = waitConverged(t, c)
	for k, v := range acked {
		if data[k] != v {
			t.Fatalf("after restart: acknowledged write %s=%s lost", k, v)
		}
	}
}

// TestCloseTransfersLeadership closes the leader: it must hand leadership
// over before shutting down.
func TestCloseTransfersLeadership(t *testing.T) {
	var transferred atomic.Bool
	c := newCluster(t, 3, nil, func(i int, cfg *store.Config) {
		cfg.Logger = newRecordingLogger(func(msg string) {
			if msg == "leadership transferred before close" {
				transferred.Store(true)
			}
		})
	})
	old := c.WaitForLeader()
	put(t, old.Store, "k", "v")
	c.Stop(old.Index)
	if !transferred.Load() {
		t.Fatalf("leader closed without transferring leadership")
	}
	nl := c.WaitForNewLeader(old)
	if v, ok, err := read(ctxT(t), nl.Store, store.Linearizable, "k"); err != nil || !ok || v != "v" {
		t.Fatalf("read on new leader = %q, %v, %v", v, ok, err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	c := storetest.NewCluster(t, 1)
	s := c.Leader()
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, _, err := s.Propose(context.Background(), storetest.Put("a", "b")); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Propose after Close = %v, want ErrClosed", err)
	}
	if _, _, err := read(context.Background(), s, store.Stale, "a"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("View after Close = %v, want ErrClosed", err)
	}
	if st := s.Stats(); st.State != "Shutdown" {
		t.Fatalf("Stats().State = %q after Close, want Shutdown", st.State)
	}
}
