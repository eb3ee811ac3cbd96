package proctest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"
)

// StartupTimeout bounds how long StartCluster waits for a fresh cluster to
// become ready and elect a leader.
const StartupTimeout = 90 * time.Second

// RunMain is a TestMain body for packages that run agent processes: it
// parses flags, builds the aerolith binary once (with fault injection,
// build tag faults: see Cluster.Isolate) into a temporary directory
// (unless -short, where process tests skip themselves), stores its path in
// *binary, runs the tests and removes the directory. Use:
//
//	var binary string
//	func TestMain(m *testing.M) { os.Exit(proctest.RunMain(m, &binary)) }
func RunMain(m *testing.M, binary *string) int {
	flag.Parse()
	if !testing.Short() {
		dir, err := os.MkdirTemp("", "aerolith-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "proctest:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		bin, err := BuildBinary(ctx, dir, FaultsTag)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "proctest:", err)
			return 1
		}
		*binary = bin
	}
	return m.Run()
}

// SkipIfShort skips process-level tests under go test -short.
func SkipIfShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("process-level test: skipped with -short")
	}
}

// StartCluster starts cfg.Nodes agents (cfg.Dir defaults to t.TempDir()),
// waits until all are ready and agree on a leader, and registers cleanup:
// every process is killed when the test ends, and each node's log tail is
// logged if the test failed.
func StartCluster(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent logs:\n%s", c.LogTails(40))
		}
		if crashes := c.Crashes(60); crashes != "" {
			t.Errorf("an agent crashed:\n%s", crashes)
		}
		if err := c.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), StartupTimeout)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	if err := c.WaitAllReady(ctx); err != nil {
		t.Fatalf("cluster not ready: %v", err)
	}
	if _, err := c.WaitLeader(ctx); err != nil {
		t.Fatalf("cluster has no leader: %v", err)
	}
	return c
}
