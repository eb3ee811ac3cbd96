package managed

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/internal/testwait"
)

// TestMeteringUnderInFlightFaults is the metering bound under faults that
// land on requests in flight. Unlike TestExactlyOnceMetering, nothing takes
// a node out of the load first: the workload's workers and one unpaced
// burst worker per node keep sending to every node, the victim included,
// right through each fault, and the nemesis strikes only once a burst
// request to the victim is in flight. Over two rounds it SIGKILLs (and
// restarts), SIGSTOPs (past the burst client's 2s timeout and the
// election timeout) and partitions from its peers (Isolate) the leader and
// a follower. Requests whose answer never arrived (connection reset,
// timeout) are counted apart from served (metered by the agents' rule) and
// refused ones. Once every outbox has drained, billing's usage per tenant
// must satisfy served <= billed <= served + unanswered for reads, writes
// and queries (checkBilled): a served request is never lost, and billing
// counts nothing the clients did not send. The log shows the figures of
// every tenant.
func TestMeteringUnderInFlightFaults(t *testing.T) {
	e, tl, clients := startMeteredTenants(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tenants := []string{"alpha", "beta"}

	w := newWorkload(e, clients["alpha"], clients["beta"])
	if err := w.setup(ctx); err != nil {
		t.Fatal(err)
	}
	b := newBurst(e, 2*time.Second, clients["alpha"], clients["beta"])
	w.run()
	b.run()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			w.stop()
			b.stop()
		}
	}
	defer stop()
	progress := func(what string, n int64) {
		t.Helper()
		base := w.served.Load() + b.served.Load()
		testwait.For(t, 2*waitLimit, fmt.Sprintf("%s (%d more requests served)", what, n), func() error {
			if got := w.served.Load() + b.served.Load() - base; got < n {
				return fmt.Errorf("%d served", got)
			}
			return nil
		})
	}
	// deadBefore sums the dead-letter counters of agents killed during
	// the run, read just before each kill (the counter restarts at 0).
	var deadBefore float64
	victim := func(leader bool) int {
		t.Helper()
		l, err := e.c.WaitLeader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if leader {
			return l
		}
		return (l + 1) % e.c.N()
	}
	type fault struct {
		name   string
		leader bool
	}
	progress("load starts", 300)
	for round, f := range []fault{
		{"kill", true}, {"pause", false}, {"isolate", true},
		{"kill", false}, {"pause", true}, {"isolate", false},
	} {
		v := victim(f.leader)
		role := map[bool]string{true: "leader", false: "follower"}[f.leader]
		unanswered := b.unanswered.Load()
		b.awaitInFlight(t, v)
		start := time.Now()
		switch f.name {
		case "kill":
			deadBefore += metricValue(metrics(ctx, t, e, v), "aerolith_meter_records_dead_lettered_total", "")
			b.awaitInFlight(t, v)
			if err := e.c.Kill(v); err != nil {
				t.Fatal(err)
			}
			if err := e.c.StartNode(v); err != nil {
				t.Fatal(err)
			}
		case "pause":
			if err := e.c.Pause(v); err != nil {
				t.Fatal(err)
			}
			if f.leader {
				if _, err := e.c.WaitNewLeader(ctx, v); err != nil {
					t.Fatalf("no new leader while %s is paused: %v", e.c.NodeID(v), err)
				}
			}
			// The fault lasts past the burst client's timeout, so that
			// requests queued on the frozen node go unanswered.
			time.Sleep(3*time.Second - time.Since(start))
			if err := e.c.Resume(v); err != nil {
				t.Fatal(err)
			}
		case "isolate":
			if err := e.c.Isolate(ctx, v); err != nil {
				t.Fatal(err)
			}
			if f.leader {
				if _, err := e.c.WaitNewLeader(ctx, v); err != nil {
					t.Fatalf("no new leader while %s is isolated: %v", e.c.NodeID(v), err)
				}
			}
			progress(fmt.Sprintf("load while %s is isolated", e.c.NodeID(v)), 200)
			// Past the election timeout: an isolated follower starts
			// elections it cannot win (and then rejoins with a higher term).
			time.Sleep(3*time.Second - time.Since(start))
			if err := e.c.Heal(ctx, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.c.WaitReady(ctx, v); err != nil {
			t.Fatalf("%s after %s: %v", e.c.NodeID(v), f.name, err)
		}
		t.Logf("fault %d: %s %s %s for %v with requests in flight; %d burst requests unanswered meanwhile", round+1, f.name, role,
			e.c.NodeID(v), time.Since(start).Round(time.Millisecond), b.unanswered.Load()-unanswered)
		progress(fmt.Sprintf("load after %s of %s", f.name, e.c.NodeID(v)), 200)
	}
	stop()

	barrier(ctx, t, e, clients["probe"], tl)
	dead := deadBefore
	for i := range e.c.N() {
		testwait.For(t, waitLimit, e.c.NodeID(i)+"'s outbox drains", func() error {
			n := metricValue(metrics(ctx, t, e, i), "aerolith_meter_outbox_records", "")
			if n != 0 {
				return fmt.Errorf("aerolith_meter_outbox_records = %v", n)
			}
			return nil
		})
		dead += metricValue(metrics(ctx, t, e, i), "aerolith_meter_records_dead_lettered_total", "")
	}
	var served, billed, unanswered, refused uint64
	for _, l := range append(tenants, "probe") {
		c, bl := tl.get(e.id(l)), e.mustBilled(l)
		t.Logf("%s: %s", l, meteringSummary(c, bl))
		for k := kindRead; k <= kindQuery; k++ {
			served, unanswered, refused = served+c.Served[k], unanswered+c.Ambiguous[k], refused+c.Refused[k]
		}
		billed += bl.Reads + bl.Writes + bl.Queries
		checkBilled(t, l, c, bl)
	}
	t.Logf("run total (reads+writes+queries): served %d, billed %d, unanswered %d, refused %d, dead-lettered records %v",
		served, billed, unanswered, refused, dead)
	if dead != 0 {
		t.Errorf("%v usage records dead-lettered: billing refused them for good, their usage is not billed", dead)
	}
	if unanswered == 0 {
		t.Errorf("no request went unanswered: the faults hit no request in flight, so the bound was not exercised")
	}
	w.mu.Lock()
	for _, u := range w.unexpected {
		t.Errorf("unexpected answer: %s", u)
	}
	w.mu.Unlock()
}

// meteringSummary renders one tenant's served, billed, unanswered and refused
// figures for reads, writes and queries.
func meteringSummary(c counts, b contract.Counters) string {
	billed := [numKinds]uint64{kindRead: b.Reads, kindWrite: b.Writes, kindQuery: b.Queries}
	s := ""
	for k := kindRead; k <= kindQuery; k++ {
		s += fmt.Sprintf("%s served %d billed %d unanswered %d refused %d not-sent %d; ",
			kindNames[k], c.Served[k], billed[k], c.Ambiguous[k], c.Refused[k], c.NotSent[k])
	}
	return s[:len(s)-2]
}

// burstLoad keeps one request in flight to each node at all times (an unpaced
// worker per node, alternating tenants, writes and reads), so a fault
// always lands on requests in flight. Its client gives up after a short
// timeout: requests stuck on a frozen node go unanswered.
type burstLoad struct {
	e   *env
	tcs []*tenantClient

	inflight   []atomic.Int64 // per node: requests sent, not answered
	served     atomic.Int64
	unanswered atomic.Int64

	stopc chan struct{}
	wg    sync.WaitGroup
}

// newBurst returns a burstLoad over the tenants of tcs with its own client of
// the given timeout, counting into the same tallies.
func newBurst(e *env, timeout time.Duration, tcs ...*tenantClient) *burstLoad {
	b := &burstLoad{e: e, inflight: make([]atomic.Int64, e.c.N()), stopc: make(chan struct{})}
	c := newCaller(timeout)
	for _, tc := range tcs {
		b.tcs = append(b.tcs, &tenantClient{tenant: tc.tenant, key: tc.key, c: c, tally: tc.tally})
	}
	return b
}

func (b *burstLoad) run() {
	for node := range b.e.c.N() {
		b.wg.Add(1)
		go b.worker(node)
	}
}

func (b *burstLoad) stop() {
	close(b.stopc)
	b.wg.Wait()
}

func (b *burstLoad) worker(node int) {
	defer b.wg.Done()
	ctx := context.Background() // the caller's timeout bounds each request
	for n := 0; ; n++ {
		select {
		case <-b.stopc:
			return
		default:
		}
		tc := b.tcs[n%len(b.tcs)]
		base := b.e.c.URL(node)
		b.inflight[node].Add(1)
		var a answer
		if n%2 == 0 {
			a = tc.call(ctx, kindWrite, 1, http.MethodPut, docURL(base, eventsColl, fmt.Sprintf("burst-%d-%d", node, n)), data(map[string]any{"burst": n}))
		} else {
			a = tc.call(ctx, kindRead, 1, http.MethodGet, docURL(base, itemsColl, fmt.Sprintf("item-%02d", n%numItems)), nil)
		}
		b.inflight[node].Add(-1)
		switch classify(a) {
		case outServed:
			b.served.Add(1)
		case outAmbiguous:
			b.unanswered.Add(1)
		}
		if classify(a) != outServed {
			select { // the node is down or has no leader: do not spin
			case <-b.stopc:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// awaitInFlight returns once a burst request to node is in flight.
func (b *burstLoad) awaitInFlight(t *testing.T, node int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for b.inflight[node].Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no request in flight to %s for %v", b.e.c.NodeID(node), waitLimit)
		}
		time.Sleep(100 * time.Microsecond)
	}
}
