package linearizability

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/tests/proctest"
)

var (
	faultSeeds    = flag.Int("fault-seeds", 5, "number of seeds (fresh clusters) of TestLinearizableUnderLeaderPausesAndPartitions")
	faultDuration = flag.Duration("fault-duration", 16*time.Second, "length of the operation phase per seed of TestLinearizableUnderLeaderPausesAndPartitions")
)

// TestLinearizableUnderLeaderPausesAndPartitions is
// TestLinearizableUnderLeaderKills with a nemesis that leaves the old
// leader's process alive: it alternately freezes the leader (SIGSTOP) and
// partitions it from both followers while it keeps running and answering
// HTTP (proctest.Isolate), holds the fault a random while after the others
// elected a new leader, then resumes or heals it. Half of the clients send
// every operation to the old leader throughout, the others to the other
// nodes, so the old leader receives linearizable gets and conditional puts
// while it still believes it leads (before it notices the partition, and
// right after SIGCONT, with the requests that queued while it was frozen,
// sent after the new leader acknowledged writes). consistency=leader reads are not part of
// the model: they may be stale under a partition (README, Data API).
func TestLinearizableUnderLeaderPausesAndPartitions(t *testing.T) {
	proctest.SkipIfShort(t)
	for s := *firstSeed; s < *firstSeed+int64(*faultSeeds); s++ {
		t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) { runSeed(t, s, *faultDuration, pauseAndPartitionNemesis) })
	}
	if !t.Failed() {
		t.Logf("%d seeds, no linearizability violation", *faultSeeds)
	}
}

// pauseAndPartitionNemesis alternates SIGSTOP and isolation of the leader
// (see TestLinearizableUnderLeaderPausesAndPartitions) until ctx ends,
// aiming the clients at the leader it is about to fault and keeping them
// on it until the next round. Each round completes even when ctx ends in
// the middle, so the cluster is whole when the clients stop.
func pauseAndPartitionNemesis(ctx context.Context, t *testing.T, c *proctest.Cluster, target *atomic.Int32, rng *rand.Rand) (int64, error) {
	wait := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	var faults int64
	for round := 0; wait(time.Second); round++ {
		wctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := func() error {
			l, err := c.WaitLeader(wctx)
			if err != nil {
				return err
			}
			target.Store(int32(l))
			time.Sleep(300 * time.Millisecond) // requests in flight to the leader when the fault lands
			pause := round%2 == 0
			if pause {
				err = c.Pause(l)
			} else {
				err = c.Isolate(wctx, l)
			}
			if err != nil {
				return err
			}
			faults++
			nl, err := c.WaitNewLeader(wctx, l)
			if err != nil {
				return fmt.Errorf("after faulting %s: %w", c.NodeID(l), err)
			}
			// Both leaders exist for a while: the old one only learns of
			// the new term once it runs again or is reconnected.
			// Up to a little over the clients' 3s request timeout: the
			// clients on the old leader then also send requests while
			// it is frozen (after writes the new leader acknowledged),
			// which it answers once continued.
			hold := 500*time.Millisecond + time.Duration(rng.IntN(3000))*time.Millisecond
			time.Sleep(hold)
			if pause {
				err = c.Resume(l)
			} else {
				err = c.Heal(wctx, l)
			}
			if err != nil {
				return err
			}
			what := map[bool]string{true: "paused (SIGSTOP)", false: "partitioned from both followers"}[pause]
			t.Logf("%s leader %s; %s led; held %v after the election", what, c.NodeID(l), c.NodeID(nl), hold)
			if err := c.WaitReady(wctx, l); err != nil {
				return fmt.Errorf("%s back: %w", c.NodeID(l), err)
			}
			return nil
		}()
		cancel()
		if err != nil {
			return faults, err
		}
	}
	return faults, nil
}
