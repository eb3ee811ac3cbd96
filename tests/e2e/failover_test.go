package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/tests/proctest"
)

// TestKillLeaderUnderWriteLoad SIGKILLs the leader while several writers
// load the cluster, restarts it while the load continues, and then checks
// that every acknowledged write is on every node with the acknowledged
// content and version, read both linearizably and (after convergence) stale.
func TestKillLeaderUnderWriteLoad(t *testing.T) {
	proctest.SkipIfShort(t)
	const (
		writers   = 8
		ops       = 90 // per writer
		killAt    = writers * ops / 4
		restartAt = writers * ops * 2 / 3
	)
	c := proctest.StartCluster(t, proctest.Config{Binary: binary})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	l := newLedger("failover")
	loadDone := make(chan error, 1)
	go func() { loadDone <- runWriters(ctx, c, l, writers, ops) }()

	// Nemesis: kill the leader once a quarter of the writes are acknowledged,
	// restart it once two thirds are.
	waitAcked := func(n int64) bool {
		for l.acked.Load() < n {
			select {
			case err := <-loadDone:
				loadDone <- err
				return false
			case <-time.After(5 * time.Millisecond):
			}
		}
		return true
	}
	if !waitAcked(killAt) {
		t.Fatalf("load ended before %d writes were acknowledged: %v", killAt, <-loadDone)
	}
	old, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(old); err != nil {
		t.Fatal(err)
	}
	ackedAtKill := l.acked.Load()
	t.Logf("killed leader %s after %d acknowledged writes", c.NodeID(old), ackedAtKill)
	newLeader, err := c.WaitNewLeader(ctx, old)
	if err != nil {
		t.Fatalf("no new leader after killing %s: %v", c.NodeID(old), err)
	}
	t.Logf("new leader %s (%d acknowledged writes so far)", c.NodeID(newLeader), l.acked.Load())
	if !waitAcked(restartAt) {
		// The load finished early; restart after it instead.
		t.Logf("load finished before %d acks; restarting %s afterwards", restartAt, c.NodeID(old))
	}
	if err := c.StartNode(old); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted %s after %d acknowledged writes", c.NodeID(old), l.acked.Load())

	if err := <-loadDone; err != nil {
		t.Fatalf("write load: %v", err)
	}
	if got, want := l.acked.Load(), int64(writers*ops); got != want {
		t.Fatalf("acknowledged writes = %d, want %d", got, want)
	}
	if l.acked.Load() <= ackedAtKill {
		t.Fatalf("no write was acknowledged after the leader was killed")
	}
	t.Logf("load done: %d acknowledged, %d unknown outcome, %d failed attempts retried", l.acked.Load(), l.unk.Load(), l.retry.Load())

	if err := c.WaitReady(ctx, old); err != nil {
		t.Fatalf("restarted node: %v", err)
	}
	if _, err := c.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	reportErrs(t, l.verify(ctx, c, proctest.Linearizable))
	if t.Failed() {
		return
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	reportErrs(t, l.verify(ctx, c, proctest.Stale))
}
