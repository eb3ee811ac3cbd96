package store_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/aerolithdb/aerolith/internal/seal"
	"github.com/aerolithdb/aerolith/store"
)

// TestEncryptedClusterSnapshotNewNode runs a cluster whose nodes share a
// master key: the raft logs and snapshots hold no plaintext of the
// commands, and a node added after compaction restores the encrypted
// snapshot and converges.
func TestEncryptedClusterSnapshotNewNode(t *testing.T) {
	mk, err := seal.NewLocalMasterKey(bytes.Repeat([]byte{3}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	regs := &registries{}
	c := newCluster(t, 3, regs, func(i int, cfg *store.Config) {
		smallLog(i, cfg)
		cfg.MasterKey = mk
	})
	leader := c.WaitForLeader()
	writeMany(t, leader.Store, "MARKERKEY", 150)
	if err := leader.Store.Snapshot(ctxT(t)); err != nil {
		t.Fatalf("Snapshot = %v", err)
	}
	nd := c.AddNode()
	if data := waitConverged(t, c); len(data) != 150 {
		t.Fatalf("%d keys, want 150", len(data))
	}
	if n := regs.value(t, nd.Index, "aerolith_store_snapshot_restores_total"); n < 1 {
		t.Fatalf("new node restored %v snapshots, want >= 1", n)
	}
	for _, n := range c.Nodes() {
		for _, sub := range []string{"raft", "snapshots"} {
			filepath.WalkDir(filepath.Join(n.Dir, sub), func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("MARKERKEY")) {
					t.Errorf("%s holds plaintext of a command", path)
				}
				return nil
			})
		}
	}
}
