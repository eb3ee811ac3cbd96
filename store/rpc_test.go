package store_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// dialCounter wraps Config.Dial and counts, per node, the outgoing
// connections by the protocol byte the store writes first.
type dialCounter struct {
	mu    sync.Mutex
	conns map[int]map[byte]int
}

func (d *dialCounter) dial(i int) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		var nd net.Dialer
		c, err := nd.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return &firstByteConn{Conn: c, seen: func(b byte) {
			d.mu.Lock()
			defer d.mu.Unlock()
			if d.conns == nil {
				d.conns = map[int]map[byte]int{}
			}
			if d.conns[i] == nil {
				d.conns[i] = map[byte]int{}
			}
			d.conns[i][b]++
		}}, nil
	}
}

func (d *dialCounter) count(i int, proto byte) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns[i][proto]
}

type firstByteConn struct {
	net.Conn
	once sync.Once
	seen func(byte)
}

func (c *firstByteConn) Write(p []byte) (int, error) {
	if len(p) > 0 {
		c.once.Do(func() { c.seen(p[0]) })
	}
	return c.Conn.Write(p)
}

// TestMultiplexedRPC runs many concurrent proposals and linearizable reads
// on a follower: they share a single RPC connection to the leader, and all
// connections go through Config.Dial.
func TestMultiplexedRPC(t *testing.T) {
	dc := &dialCounter{}
	c := newCluster(t, 3, nil, func(i int, cfg *store.Config) { cfg.Dial = dc.dial(i) })
	leader := c.WaitForLeader()
	f := followers(c, leader)[0]
	if dc.count(leader.Index, 'R') == 0 {
		t.Fatalf("raft connections did not use Config.Dial")
	}
	const n = 100
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, _, err := f.Store.Propose(ctxT(t), storetest.Put(fmt.Sprint(i), "v")); err != nil {
				t.Errorf("Propose = %v", err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, _, err := read(ctxT(t), f.Store, store.Linearizable, "x"); err != nil {
				t.Errorf("View = %v", err)
			}
		}()
	}
	wg.Wait()
	if got := dc.count(f.Index, 'P'); got < 1 || got > 2 {
		t.Fatalf("follower opened %d RPC connections for %d concurrent calls, want 1 (2 with a redial)", got, 2*n)
	}
}

func TestProposeErrors(t *testing.T) {
	c := newCluster(t, 1, nil, func(_ int, cfg *store.Config) { cfg.MaxCommandBytes = 64 })
	s := c.Leader()
	if _, _, err := s.Propose(ctxT(t), make([]byte, 65)); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Propose(65 bytes) = %v, want ErrTooLarge", err)
	}
	if _, _, err := s.Propose(ctxT(t), make([]byte, 64)); err != nil {
		t.Errorf("Propose(64 bytes) = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.Propose(ctx, storetest.Put("a", "b")); !errors.Is(err, context.Canceled) {
		t.Errorf("Propose with cancelled ctx = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.WaitForApplied(ctx, s.AppliedIndex()+1000); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitForApplied(future) = %v, want deadline exceeded", err)
	}
	if err := s.LeadershipTransfer(ctxT(t)); err == nil {
		t.Errorf("LeadershipTransfer with no other voter succeeded")
	}

	unopened, err := store.New(store.Config{NodeID: "x", Dir: t.TempDir(), RaftAddr: "127.0.0.1:1"}, storetest.KV{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := unopened.Propose(ctxT(t), storetest.Put("a", "b")); err == nil {
		t.Errorf("Propose before Open succeeded")
	}
	if err := unopened.Close(); err != nil {
		t.Errorf("Close before Open = %v", err)
	}
}

func TestMetricsAndStats(t *testing.T) {
	regs := &registries{}
	c := newCluster(t, 3, regs, nil)
	leader := c.WaitForLeader()
	put(t, leader.Store, "k", "v")
	mfs, err := regs.get(leader.Index).Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	for _, name := range []string{
		"aerolith_store_raft_state", "aerolith_store_raft_term", "aerolith_store_commit_index",
		"aerolith_store_applied_index", "aerolith_store_commit_latency_seconds",
		"aerolith_store_apply_batch_duration_seconds", "aerolith_store_batch_commands",
		"aerolith_store_proposals_total", "aerolith_store_proposals_failed_total",
		"aerolith_store_forwarded_proposals_total", "aerolith_store_read_index_rounds_total",
		"aerolith_store_snapshots_total", "aerolith_store_snapshot_duration_seconds",
		"aerolith_store_propose_duration_seconds", "aerolith_store_proposals_pending",
	} {
		if !have[name] {
			t.Errorf("metric %s not registered", name)
		}
	}
	if v := regs.value(t, leader.Index, "aerolith_store_raft_state"); v != 2 {
		t.Errorf("raft_state on leader = %v, want 2", v)
	}
	if v := regs.value(t, leader.Index, "aerolith_store_commit_latency_seconds"); v == 0 {
		t.Errorf("no commit latency observed on leader")
	}
	st := leader.Store.Stats()
	if st.State != "Leader" || st.Term == 0 || st.CommitIndex == 0 || st.AppliedIndex < st.CommitIndex-1 ||
		st.LastLogIndex < st.CommitIndex || st.DBSizeBytes == 0 || st.NumVoters != 3 || st.LeaderID != leader.ID || !st.Ready {
		t.Errorf("leader Stats() = %+v", st)
	}
	f := followers(c, leader)[0]
	if st := f.Store.Stats(); st.State != "Follower" || st.LeaderID != leader.ID || st.LastContact <= 0 {
		t.Errorf("follower Stats() = %+v", st)
	}
	if err := leader.Store.Snapshot(ctxT(t)); err != nil {
		t.Fatalf("Snapshot = %v", err)
	}
	if st := leader.Store.Stats(); st.SnapshotIndex == 0 {
		t.Errorf("SnapshotIndex = 0 after Snapshot")
	}
	// Stats serialise with snake_case keys for the HTTP API.
	if b := string(mustJSON(t, st)); !strings.Contains(b, `"applied_index"`) || !strings.Contains(b, `"num_voters"`) {
		t.Errorf("Stats JSON = %s", b)
	}
}
