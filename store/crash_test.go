package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aerolithdb/aerolith/store/storetest"
)

// TestUncleanStopRebuildsState: a node whose previous run did not close
// cleanly (the dirty marker is still there) must not trust its state file,
// which is written without fsync: it rebuilds it from the latest snapshot
// and the raft log. The test leaves a torn file behind — garbage that would
// not even open — and expects the node to come back with every write.
func TestUncleanStopRebuildsState(t *testing.T) {
	for _, withSnapshot := range []bool{false, true} {
		name := "log-only"
		if withSnapshot {
			name = "snapshot+log"
		}
		t.Run(name, func(t *testing.T) {
			c := storetest.NewCluster(t, 3)
			leader := c.WaitForLeader()
			writeMany(t, leader.Store, "a", 40)
			if withSnapshot {
				for _, nd := range c.Nodes() {
					if err := nd.Store.Snapshot(ctxT(t)); err != nil {
						t.Fatalf("snapshot %s: %v", nd.ID, err)
					}
				}
				writeMany(t, leader.Store, "b", 20)
			}
			want := waitConverged(t, c)
			f := followers(c, leader)[0]
			c.Stop(f.Index)

			state := filepath.Join(f.Dir, "state.db")
			if err := os.WriteFile(state, []byte("torn: not a bbolt file"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(state+".dirty", nil, 0o600); err != nil {
				t.Fatal(err)
			}
			c.Restart(f.Index)
			writeMany(t, leader.Store, "c", 5)
			got := waitConverged(t, c)
			if len(got) != len(want)+5 {
				t.Fatalf("%d keys after rebuild, want %d", len(got), len(want)+5)
			}
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("%s = %q after rebuild, want %q", k, got[k], v)
				}
			}
		})
	}
}

// TestCleanStopLeavesNoMarker: after a clean Close the marker is gone and the
// state file is trusted as it is (no rebuild, nothing re-applied).
func TestCleanStopLeavesNoMarker(t *testing.T) {
	c := storetest.NewCluster(t, 1)
	leader := c.WaitForLeader()
	writeMany(t, leader.Store, "a", 3)
	marker := filepath.Join(leader.Dir, "state.db.dirty")
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("dirty marker while running: %v, want it present", err)
	}
	c.Stop(leader.Index)
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("dirty marker after clean stop: %v, want it gone", err)
	}
}
