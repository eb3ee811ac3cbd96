package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/tests/proctest"
)

// TestStopAndRestartAllNodes stops all three agents gracefully (SIGTERM),
// starts them again on the same data directories and checks that the
// cluster re-forms with an agreed leader and all three voters, that every
// acknowledged document is intact on every node, and that writes continue.
func TestStopAndRestartAllNodes(t *testing.T) {
	proctest.SkipIfShort(t)
	tests := []struct {
		name  string
		order func(c *proctest.Cluster, leader int) []int
	}{
		{"leader first", func(c *proctest.Cluster, leader int) []int {
			out := []int{leader}
			for i := 0; i < c.N(); i++ {
				if i != leader {
					out = append(out, i)
				}
			}
			return out
		}},
		{"all at once", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := proctest.StartCluster(t, proctest.Config{Binary: binary})
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()

			before := newLedger("restart")
			if err := runWriters(ctx, c, before, 4, 30); err != nil {
				t.Fatalf("writes before restart: %v", err)
			}
			leader, err := c.WaitLeader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tt.order == nil {
				if err := c.StopAll(ctx); err != nil {
					t.Fatalf("graceful stop: %v", err)
				}
			} else {
				for _, i := range tt.order(c, leader) {
					if err := c.Stop(ctx, i); err != nil {
						t.Fatalf("graceful stop: %v", err)
					}
				}
			}
			for i := 0; i < c.N(); i++ {
				if c.Running(i) {
					t.Fatalf("%s still running after stop", c.NodeID(i))
				}
			}

			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.WaitAllReady(ctx); err != nil {
				t.Fatalf("after restart: %v", err)
			}
			leader, err = c.WaitLeader(ctx)
			if err != nil {
				t.Fatalf("after restart: %v", err)
			}
			info, err := c.API().Cluster(ctx, c.URL(leader))
			if err != nil {
				t.Fatal(err)
			}
			if err := checkMembers(c, info); err != nil {
				t.Error(err)
			}
			reportErrs(t, before.verify(ctx, c, proctest.Linearizable))

			after := newLedger("restart-after")
			if err := runWriters(ctx, c, after, 4, 15); err != nil {
				t.Fatalf("writes after restart: %v", err)
			}
			reportErrs(t, after.verify(ctx, c, proctest.Linearizable))
			if err := c.WaitConverged(ctx); err != nil {
				t.Fatal(err)
			}
			reportErrs(t, before.verify(ctx, c, proctest.Stale))
			reportErrs(t, after.verify(ctx, c, proctest.Stale))
		})
	}
}

// checkMembers checks that info lists every node of c exactly once, as a
// voter, with the addresses the harness gave it.
func checkMembers(c *proctest.Cluster, info proctest.ClusterInfo) error {
	if len(info.Members) != c.N() {
		return fmt.Errorf("cluster lists %d members %+v, want %d", len(info.Members), info.Members, c.N())
	}
	seen := map[string]bool{}
	for _, m := range info.Members {
		i := c.Index(m.ID)
		if i < 0 || seen[m.ID] {
			return fmt.Errorf("unexpected or duplicate member %+v", m)
		}
		seen[m.ID] = true
		if !m.Voter {
			return fmt.Errorf("member %s is not a voter after restart", m.ID)
		}
		if m.RaftAddr != c.RaftAddr(i) {
			return fmt.Errorf("member %s raft_addr = %q, want %q", m.ID, m.RaftAddr, c.RaftAddr(i))
		}
		if m.HTTPAddr != c.HTTPAddr(i) {
			return fmt.Errorf("member %s http_addr = %q, want %q", m.ID, m.HTTPAddr, c.HTTPAddr(i))
		}
	}
	return nil
}

// reportErrs fails t with the first few errors and a count of the rest.
func reportErrs(t *testing.T, errs []error) {
	t.Helper()
	const max = 20
	for i, err := range errs {
		if i == max {
			t.Errorf("... and %d more", len(errs)-max)
			return
		}
		t.Error(err)
	}
}
