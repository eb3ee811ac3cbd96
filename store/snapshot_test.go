package store_test

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
	bolt "go.etcd.io/bbolt"
)

// smallLog makes raft compact its log quickly so lagging nodes need a
// snapshot. It uses the bolt log store: raft-wal keeps serving compacted
// entries while they sit in its open segment (64 MiB), so a lagging node
// would catch up from the log instead.
func smallLog(_ int, c *store.Config) {
	c.SnapshotThreshold = 32
	c.TrailingLogs = 8
	c.SnapshotInterval = 50 * time.Millisecond
	c.LogStore = store.LogStoreBolt
}

// writeMany proposes n puts one after another (one raft entry each).
func writeMany(t *testing.T, s *store.Store, prefix string, n int) {
	t.Helper()
	for i := range n {
		put(t, s, fmt.Sprintf("%s-%d", prefix, i), fmt.Sprintf("v%d", i))
	}
}

// TestSnapshotInstallLagging stops a follower, writes far past the leader's
// snapshot and trailing logs, and restarts it: it must catch up through a
// snapshot install that replaces its state file.
func TestSnapshotInstallLagging(t *testing.T) {
	regs := &registries{}
	c := newCluster(t, 3, regs, smallLog)
	leader := c.WaitForLeader()
	writeMany(t, leader.Store, "before", 20)
	lag := followers(c, leader)[0]
	waitConverged(t, c)
	c.Stop(lag.Index)
	writeMany(t, leader.Store, "during", 200)
	if err := leader.Store.Snapshot(ctxT(t)); err != nil {
		t.Fatalf("Snapshot = %v", err)
	}
	if st := leader.Store.Stats(); st.SnapshotIndex == 0 {
		t.Fatalf("leader has no snapshot: %+v", st)
	}
	if n := regs.value(t, leader.Index, "aerolith_store_snapshots_total"); n == 0 {
		t.Errorf("snapshot counter = 0 on leader")
	}
	c.Restart(lag.Index)
	data := waitConverged(t, c)
	if len(data) != 220 {
		t.Fatalf("%d keys after catch-up, want 220", len(data))
	}
	if n := regs.value(t, lag.Index, "aerolith_store_snapshot_restores_total"); n < 1 {
		t.Fatalf("lagging node restored %v snapshots, want >= 1", n)
	}
	// It keeps following after the install.
	put(t, leader.Store, "after", "x")
	data = waitConverged(t, c)
	if data["after"] != "x" {
		t.Fatalf("write after install missing")
	}
}

// TestCatchUpWAL is TestSnapshotInstallLagging with the WAL log store: the
// lagging node catches up (from the log or a snapshot) and converges.
func TestCatchUpWAL(t *testing.T) {
	c := newCluster(t, 3, nil, func(i int, c *store.Config) {
		smallLog(i, c)
		c.LogStore = store.LogStoreWAL
	})
	leader := c.WaitForLeader()
	lag := followers(c, leader)[0]
	c.Stop(lag.Index)
	writeMany(t, leader.Store, "during", 100)
	if err := leader.Store.Snapshot(ctxT(t)); err != nil {
		t.Fatalf("Snapshot = %v", err)
	}
	c.Restart(lag.Index)
	if data := waitConverged(t, c); len(data) != 100 {
		t.Fatalf("%d keys after catch-up, want 100", len(data))
	}
}

// TestSnapshotNewNode adds a node after the log was compacted: it must be
// brought up by a snapshot and then promoted to voter.
func TestSnapshotNewNode(t *testing.T) {
	regs := &registries{}
	c := newCluster(t, 3, regs, smallLog)
	leader := c.WaitForLeader()
	writeMany(t, leader.Store, "k", 150)
	if err := leader.Store.Snapshot(ctxT(t)); err != nil {
		t.Fatalf("Snapshot = %v", err)
	}
	nd := c.AddNode()
	data := waitConverged(t, c)
	if len(data) != 150 {
		t.Fatalf("%d keys, want 150", len(data))
	}
	if n := regs.value(t, nd.Index, "aerolith_store_snapshot_restores_total"); n < 1 {
		t.Fatalf("new node restored %v snapshots, want >= 1", n)
	}
	c.Eventually(func() error {
		st := nd.Store.Stats()
		if st.NumVoters != 4 {
			return fmt.Errorf("new node sees %d voters, want 4", st.NumVoters)
		}
		return nil
	})
}

// persistedApplied reads the applied index a stopped node's state file
// carries.
func persistedApplied(t *testing.T, dir string) uint64 {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "state.db"), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("open state file: %v", err)
	}
	defer db.Close()
	var idx uint64
	if err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("_store"))
		if b == nil {
			return fmt.Errorf("no _store bucket")
		}
		v := b.Get([]byte("applied_index"))
		if len(v) != 8 {
			return fmt.Errorf("applied_index = %x", v)
		}
		idx = binary.BigEndian.Uint64(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return idx
}

// countingKV counts Apply calls.
type countingKV struct {
	storetest.KV
	n atomic.Int64
}

func (k *countingKV) Apply(tx *bolt.Tx, index uint64, cmd []byte) []byte {
	k.n.Add(1)
	return k.KV.Apply(tx, index, cmd)
}

// TestIdempotentReplay restarts nodes: the applied index comes back from
// the state file, entries already applied are not applied again, and the
// state is identical.
func TestIdempotentReplay(t *testing.T) {
	var sms [3]atomic.Pointer[countingKV]
	c := storetest.NewCluster(t, 3, storetest.WithStateMachine(func(i int) store.StateMachine {
		k := &countingKV{}
		sms[i].Store(k)
		return k
	}))
	leader := c.WaitForLeader()
	writeMany(t, leader.Store, "a", 30)
	before := waitConverged(t, c)
	f := followers(c, leader)[0]
	applied := f.Store.AppliedIndex()
	c.Stop(f.Index)
	if got := persistedApplied(t, f.Dir); got != applied {
		t.Fatalf("persisted applied index = %d, want %d", got, applied)
	}
	c.Restart(f.Index)
	if got := f.Store.AppliedIndex(); got < applied {
		t.Fatalf("applied index after restart = %d, want >= %d (persisted)", got, applied)
	}
	writeMany(t, leader.Store, "b", 10)
	after := waitConverged(t, c)
	if got := sms[f.Index].Load().n.Load(); got != 10 {
		t.Fatalf("restarted node applied %d commands, want only the 10 new ones", got)
	}
	if len(after) != len(before)+10 {
		t.Fatalf("%d keys after restart, want %d", len(after), len(before)+10)
	}

	// Whole-cluster restart: same state, applied indexes kept.
	idx := map[int]uint64{}
	for _, nd := range c.Nodes() {
		idx[nd.Index] = nd.Store.AppliedIndex()
	}
	for _, nd := range c.Nodes() {
		c.Stop(nd.Index)
	}
	for _, nd := range c.Nodes() {
		if got := persistedApplied(t, nd.Dir); got != idx[nd.Index] {
			t.Fatalf("%s persisted applied index = %d, want %d", nd.ID, got, idx[nd.Index])
		}
		c.Restart(nd.Index)
		if got := nd.Store.AppliedIndex(); got < idx[nd.Index] {
			t.Fatalf("%s applied index after restart = %d, want >= %d", nd.ID, got, idx[nd.Index])
		}
	}
	c.WaitForLeader()
	again := waitConverged(t, c)
	if len(again) != len(after) {
		t.Fatalf("%d keys after full restart, want %d", len(again), len(after))
	}
	for k, v := range after {
		if again[k] != v {
			t.Fatalf("%s = %q after full restart, want %q", k, again[k], v)
		}
	}
	for i := range sms {
		if n := sms[i].Load().n.Load(); n != 0 {
			t.Fatalf("node %d re-applied %d commands after full restart", i, n)
		}
	}
}
