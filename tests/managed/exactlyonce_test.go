package managed

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/internal/testwait"
)

// TestExactlyOnceMetering runs a known workload of two tenants on one
// shared three-node cluster while the nemesis pauses the raft leader past
// the election timeout (SIGSTOP: the process is frozen), partitions the
// next leader away from its peers while it keeps running (and metering,
// and reporting to billing), SIGKILLs a follower agent while reporters
// ship usage and restarts it, and stops billing for a few seconds. Every request is counted by the client as
// served (metered by the agents' rule), refused, never sent, or ambiguous
// (sent, no answer). Once every node's outbox has shipped (see barrier),
// billing's totals per tenant must satisfy, for reads, writes and queries,
// served <= billed <= served + ambiguous: equality when nothing was
// ambiguous, which the nemesis arranges by taking a node out of the load
// before it is killed, paused or isolated. Ingress and egress bytes are checked the
// same way, and storage byte-seconds against the test's own integral (see
// checkStorage for the bound).
func TestExactlyOnceMetering(t *testing.T) {
	e, tl, clients := startMeteredTenants(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tenants := []string{"alpha", "beta"}

	smp := startSampler(e, clients["alpha"], clients["beta"])
	w := newWorkload(e, clients["alpha"], clients["beta"])
	if err := w.setup(ctx); err != nil {
		t.Fatal(err)
	}
	w.run()
	stopped := false
	defer func() {
		if !stopped {
			w.stop()
			smp.stop()
		}
	}()
	progress := func(what string, n int64) {
		t.Helper()
		base := w.served.Load()
		testwait.For(t, 2*waitLimit, fmt.Sprintf("%s (%d more requests served)", what, n), func() error {
			if got := w.served.Load() - base; got < n {
				return fmt.Errorf("%d served", got)
			}
			return nil
		})
	}
	billedReads := func() uint64 {
		var n uint64
		for _, l := range tenants {
			c, err := e.billed(ctx, l)
			if err != nil {
				return 0
			}
			n += c.Reads
		}
		return n
	}
	shipping := func(what string) {
		t.Helper()
		before := billedReads()
		testwait.For(t, 2*waitLimit, what, func() error {
			if n := billedReads(); n <= before {
				return fmt.Errorf("billed reads still %d", n)
			}
			return nil
		})
	}

	// 1. Usage reaches billing.
	progress("load starts", 300)
	shipping("usage reaches billing")

	// 2. Pause the leader past the election timeout; the others elect a
	// new one and serve writes; resume it.
	old, err := e.c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.gates[old].Lock()
	pauseAt := time.Now()
	if err := e.c.Pause(old); err != nil {
		t.Fatal(err)
	}
	newLeader, err := e.c.WaitNewLeader(ctx, old)
	if err != nil {
		t.Fatalf("no new leader while %s is paused: %v", e.c.NodeID(old), err)
	}
	// The new leader serves writes while the old one is cut off. (Writes
	// that followers had forwarded to the old leader wait for it: they
	// are answered once it resumes, within the clients' timeout.)
	for _, l := range tenants {
		for j := range 3 {
			a := w.write(ctx, clients[l], kindWrite, 1, http.MethodPut,
				docURL(e.c.URL(newLeader), eventsColl, fmt.Sprintf("pause-%d", j)), data(map[string]any{"during": "pause", "n": j}))
			if a.Status != http.StatusCreated {
				t.Fatalf("write of %s to the new leader %s while %s is paused: %s", l, e.c.NodeID(newLeader), e.c.NodeID(old), a)
			}
		}
	}
	if err := e.c.Resume(old); err != nil {
		t.Fatal(err)
	}
	resumeAt := time.Now()
	if err := e.c.WaitReady(ctx, old); err != nil {
		t.Fatal(err)
	}
	w.gates[old].Unlock()
	smp.handover(pauseAt, resumeAt)
	t.Logf("paused leader %s for %v; %s led meanwhile", e.c.NodeID(old), resumeAt.Sub(pauseAt).Round(time.Millisecond), e.c.NodeID(newLeader))

	// 3. Partition the leader away from its peers while its process keeps
	// running: its meter keeps counting, its reporter keeps shipping to
	// billing (which it still reaches) and it integrates storage as leader
	// until it steps down; the other two elect a leader and serve the load.
	progress("load after the pause", 200)
	shipping("usage reaches billing after the pause")
	iso, err := e.c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.gates[iso].Lock()
	isoAt := time.Now()
	if err := e.c.Isolate(ctx, iso); err != nil {
		t.Fatal(err)
	}
	isoLeader, err := e.c.WaitNewLeader(ctx, iso)
	if err != nil {
		t.Fatalf("no new leader while %s is isolated: %v", e.c.NodeID(iso), err)
	}
	// The isolated node still answers HTTP: it steps down within raft's
	// leader lease.
	testwait.For(t, waitLimit, e.c.NodeID(iso)+" steps down while isolated", func() error {
		info, err := e.c.API().Cluster(ctx, e.c.URL(iso))
		if err != nil {
			return err
		}
		if strings.EqualFold(info.State, "leader") {
			return fmt.Errorf("%s still leads term %d", e.c.NodeID(iso), info.Term)
		}
		return nil
	})
	stepDownAt := time.Now()
	progress("load while a node is isolated", 200)
	if err := e.c.Heal(ctx, iso); err != nil {
		t.Fatal(err)
	}
	if err := e.c.WaitReady(ctx, iso); err != nil {
		t.Fatal(err)
	}
	w.gates[iso].Unlock()
	smp.handover(isoAt, stepDownAt)
	t.Logf("isolated leader %s from its peers for %v (stepped down after %v); %s led meanwhile", e.c.NodeID(iso),
		time.Since(isoAt).Round(time.Millisecond), stepDownAt.Sub(isoAt).Round(time.Millisecond), e.c.NodeID(isoLeader))

	// 4. SIGKILL a follower while the reporters ship, restart it.
	progress("load after the partition", 200)
	shipping("usage reaches billing after the partition")
	leader, err := e.c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	victim := (leader + 1) % e.c.N()
	w.gates[victim].Lock()
	if err := e.c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	if err := e.c.StartNode(victim); err != nil {
		t.Fatal(err)
	}
	if err := e.c.WaitReady(ctx, victim); err != nil {
		t.Fatal(err)
	}
	w.gates[victim].Unlock()
	t.Logf("killed and restarted follower %s", e.c.NodeID(victim))

	// 5. Billing down for a few seconds under load.
	progress("load after the kill", 200)
	e.bill.kill()
	down := time.Now()
	progress("load while billing is down", 200)
	for time.Since(down) < 3*time.Second { // the outage lasts at least three meter windows
		progress("load while billing is down", 50)
	}
	e.bill.start()
	e.bill.waitReady()
	t.Logf("billing was down for %v", time.Since(down).Round(time.Millisecond))

	// 6. More load, then stop.
	progress("load after billing's outage", 300)
	w.stop()
	smp.stop()
	stopped = true
	w.mu.Lock()
	for _, u := range w.unexpected {
		t.Errorf("unexpected answer: %s", u)
	}
	w.mu.Unlock()

	// Storage: the settled figure, then empty the tenants' stores so the
	// integral stops growing.
	finals := map[string]int64{}
	for _, l := range tenants {
		finals[l] = storedBytes(ctx, t, e, clients[l])
	}
	// Dropping a collection is the tenant admin's; its key counts into the
	// same tally.
	admins := map[string]*tenantClient{}
	for _, l := range tenants {
		admins[l] = e.client(l, e.createKey(0, l, "admin", "drop").Key, tl)
	}
	dropFrom := time.Now()
	for _, l := range tenants {
		for _, coll := range []string{eventsColl, itemsColl} {
			a := admins[l].call(ctx, kindWrite, 1, http.MethodDelete, collURL(e.c.URL(0), coll), nil)
			if a.Status != http.StatusNoContent && a.Status != http.StatusOK {
				t.Fatalf("drop %s of %s: %s", coll, l, a)
			}
		}
	}
	dropTo := time.Now()
	for _, l := range tenants {
		if n := storedBytes(ctx, t, e, clients[l]); n != 0 {
			t.Fatalf("%s stores %d bytes after dropping all its collections, want 0 (the storage integral cannot be closed)", l, n)
		}
	}

	barrier(ctx, t, e, clients["probe"], tl)
	// Every outbox drains, and nothing was dead-lettered (billing
	// rejecting a record for good would lose usage).
	for i := range e.c.N() {
		testwait.For(t, waitLimit, e.c.NodeID(i)+"'s outbox drains", func() error {
			m := metrics(ctx, t, e, i)
			if n := metricValue(m, "aerolith_meter_outbox_records", ""); n != 0 {
				return fmt.Errorf("aerolith_meter_outbox_records = %v", n)
			}
			if n := metricValue(m, "aerolith_meter_records_dead_lettered_total", ""); n != 0 {
				return fmt.Errorf("%w: aerolith_meter_records_dead_lettered_total = %v", errExited, n)
			}
			return nil
		})
	}

	for _, l := range append(tenants, "probe") {
		checkBilled(t, l, tl.get(e.id(l)), e.mustBilled(l))
	}
	for _, l := range tenants {
		checkStorage(t, l, smp.samplesOf(e.id(l)), finals[l], w.spansOf(e.id(l)), smp.start, dropFrom, dropTo,
			smp.handovers(), e.mustBilled(l).StorageByteSeconds)
	}
}

// storedBytes reads the tenant's stored bytes through the leader-checked
// stats (linearizable).
func storedBytes(ctx context.Context, t *testing.T, e *env, tc *tenantClient) int64 {
	t.Helper()
	var n int64
	testwait.For(t, waitLimit, "stats of "+tc.tenant, func() error {
		var err error
		n, err = stats(ctx, e, tc, 0)
		return err
	})
	return n
}

// statsOut is the part of GET /api/v1/stats the suites read.
type statsOut struct {
	NodeID string `json:"node_id"`
	Data   struct {
		Tenant      string `json:"tenant"`
		Collections int    `json:"collections"`
		Documents   int64  `json:"documents"`
		Bytes       int64  `json:"bytes"`
	} `json:"data"`
}

// stats returns the tenant's stored bytes as node i sees them with a
// linearizable read.
func stats(ctx context.Context, e *env, tc *tenantClient, i int) (int64, error) {
	a := tc.call(ctx, kindMeta, 1, http.MethodGet, e.c.URL(i)+"/api/v1/stats?consistency=linearizable", nil)
	if a.Status != http.StatusOK {
		return 0, fmt.Errorf("stats: %s", a)
	}
	var s statsOut
	if err := a.decode(&s); err != nil {
		return 0, err
	}
	if s.Data.Tenant != tc.tenant {
		return 0, fmt.Errorf("stats of key of %s answered for tenant %q", tc.tenant, s.Data.Tenant)
	}
	return s.Data.Bytes, nil
}

// barrier waits until every node's meter has shipped every window holding
// a request served before the call. On each node in turn it serves one
// read of the probe tenant (which the workload never uses) and waits until
// billing counts it: a node closes windows in time order and its reporter
// ships its outbox oldest first, deleting a record only once billing
// acknowledged it (agent/meter), so once the probe's window is billed,
// every earlier window of that node is too.
func barrier(ctx context.Context, t *testing.T, e *env, probe *tenantClient, tl *tally) {
	t.Helper()
	for i := range e.c.N() {
		testwait.For(t, waitLimit, "probe read on "+e.c.NodeID(i), func() error {
			a := probe.call(ctx, kindRead, 1, http.MethodGet, docURL(e.c.URL(i), "nothing", "here"), nil)
			if classify(a) != outServed {
				return fmt.Errorf("probe read: %s", a)
			}
			return nil
		})
		want := tl.get(probe.tenant).Served[kindRead]
		err := testwait.Poll(2*waitLimit, fmt.Sprintf("billing counts %d probe reads (the last through %s)", want, e.c.NodeID(i)), func() error {
			c, err := e.billed(ctx, "probe")
			if err != nil {
				return err
			}
			if c.Reads < want {
				return fmt.Errorf("billed %d", c.Reads)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%v\nagent logs:\n%s", err, e.agentLogs(30))
		}
	}
}

// checkBilled asserts served <= billed <= served + ambiguous for reads,
// writes and queries and the body bytes, and query compute of at least a
// millisecond per query (compute is rounded up).
func checkBilled(t *testing.T, label string, c counts, b contract.Counters) {
	t.Helper()
	t.Logf("%s client: %s", label, c)
	t.Logf("%s billed: reads %d writes %d queries %d compute %dms ingress %d egress %d storage %d byte-s",
		label, b.Reads, b.Writes, b.Queries, b.QueryComputeMs, b.IngressBytes, b.EgressBytes, b.StorageByteSeconds)
	within := func(what string, got, lo, hi uint64) {
		if got < lo || got > hi {
			if lo == hi {
				t.Errorf("%s: billed %s = %d, want %d (served exactly that many, none ambiguous)", label, what, got, lo)
			} else {
				t.Errorf("%s: billed %s = %d, want within [%d served, %d served+ambiguous]", label, what, got, lo, hi)
			}
		}
	}
	within("reads", b.Reads, c.Served[kindRead], c.Served[kindRead]+c.Ambiguous[kindRead])
	within("writes", b.Writes, c.Served[kindWrite], c.Served[kindWrite]+c.Ambiguous[kindWrite])
	within("queries", b.Queries, c.Served[kindQuery], c.Served[kindQuery]+c.Ambiguous[kindQuery])
	within("ingress bytes", b.IngressBytes, c.Ingress, c.Ingress+c.AmbiguousIngress)
	var amb uint64
	for _, n := range c.Ambiguous {
		amb += n
	}
	if amb == 0 {
		within("egress bytes", b.EgressBytes, c.Egress, c.Egress)
	} else if b.EgressBytes < c.Egress {
		t.Errorf("%s: billed egress bytes = %d, want at least the %d served", label, b.EgressBytes, c.Egress)
	}
	if b.QueryComputeMs < c.Served[kindQuery] {
		t.Errorf("%s: billed query compute = %dms for %d served queries, want at least 1ms each (rounded up)", label, b.QueryComputeMs, c.Served[kindQuery])
	}
}

// handoverSlack is the storage time one leadership handover may count
// twice or not at all: the old leader's last window can be closed after
// the new term began, it steps down within raft's leader lease, and each
// node reports the change when it observes it (store.Config.OnLeadership);
// two meter windows of 1s and a second for the lease and the observation.
const handoverSlack = 3 * time.Second

// handover is a time a leadership change may have made storage be counted
// twice ([From, To]: the old leader integrates through it) or not at all.
type handover struct{ From, To time.Time }

// checkStorage asserts that the storage byte-seconds billed lie within the
// bound of the integral of the tenant's stored bytes computed from the
// samples and the write spans (storageBounds: [lo, hi]), widened for each
// leadership handover h by S(h) x (h.To - h.From + handoverSlack) on both
// sides, where S(h) is the upper bound of the stored bytes at h.To: a
// paused leader integrates its last known figure through the pause (it
// learns of the new term only once resumed), and each handover may be
// counted twice or missed for up to handoverSlack. One byte-second is
// added for rounding.
func checkStorage(t *testing.T, label string, samples []storageSample, final int64, writes []writeSpan, from, loTo, hiTo time.Time, hs []handover, billed uint64) {
	t.Helper()
	lo, hi := storageBounds(samples, final, writes, from, loTo, hiTo)
	hs = mergeHandovers(hs)
	up := newUpper(samples, final, writes)
	var slack float64
	for _, h := range hs {
		slack += float64(up.at(h.To)) * (h.To.Sub(h.From) + handoverSlack).Seconds()
	}
	t.Logf("%s storage: billed %d byte-s; sampling bound [%.0f, %.0f] from %d samples and %d writes; %d handovers add ±%.0f",
		label, billed, lo, hi, len(samples), len(writes), len(hs), slack)
	lo, hi = lo-slack-1, hi+slack+1
	if float64(billed) < lo || float64(billed) > hi {
		t.Errorf("%s: billed storage = %d byte-seconds, want within [%.0f, %.0f]", label, billed, lo, hi)
	}
}

// mergeHandovers merges handovers less than handoverSlack apart (the
// sampler also observes the handovers the test causes).
func mergeHandovers(hs []handover) []handover {
	hs = append([]handover(nil), hs...)
	sort.Slice(hs, func(i, j int) bool { return hs[i].From.Before(hs[j].From) })
	var out []handover
	for _, h := range hs {
		if n := len(out); n > 0 && !h.From.After(out[n-1].To.Add(handoverSlack)) {
			out[n-1].To = maxTime(out[n-1].To, h.To)
			continue
		}
		out = append(out, h)
	}
	return out
}

// sampler reads the tenants' stored bytes every 100ms (through the active
// nodes in turn, linearizably) and watches the raft leader.
type sampler struct {
	e     *env
	tcs   []*tenantClient
	start time.Time
	stopc chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	samples map[string][]storageSample
	leader  int
	hs      []handover
	node    int // the node the last sample was read from (sampler goroutine only)
}

func startSampler(e *env, tcs ...*tenantClient) *sampler {
	s := &sampler{e: e, tcs: tcs, start: time.Now(), stopc: make(chan struct{}), done: make(chan struct{}),
		samples: map[string][]storageSample{}, leader: -1}
	s.round() // the stores are empty: the first samples read 0
	go s.loop()
	return s
}

func (s *sampler) loop() {
	defer close(s.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.stopc:
			return
		case <-tick.C:
			s.round()
		}
	}
}

func (s *sampler) round() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for _, tc := range s.tcs {
		i := s.nextNode()
		if i < 0 {
			return
		}
		a := time.Now()
		n, err := stats(ctx, s.e, tc, i)
		if err != nil {
			continue
		}
		s.mu.Lock()
		s.samples[tc.tenant] = append(s.samples[tc.tenant], storageSample{A: a, B: time.Now(), Bytes: n})
		s.mu.Unlock()
	}
	if l, err := s.e.c.Leader(ctx); err == nil {
		now := time.Now()
		s.mu.Lock()
		if s.leader >= 0 && l != s.leader {
			s.hs = append(s.hs, handover{now, now}) // observed within a sampling period
		}
		s.leader = l
		s.mu.Unlock()
	}
}

// nextNode returns the next active node in turn (-1: none).
func (s *sampler) nextNode() int {
	for range s.e.c.N() {
		s.node = (s.node + 1) % s.e.c.N()
		if s.e.c.Active(s.node) {
			return s.node
		}
	}
	return -1
}

// handover records a leadership handover the test caused: the old leader
// was paused from from to to, or isolated at from and stepped down at to.
func (s *sampler) handover(from, to time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hs = append(s.hs, handover{from, to})
}

func (s *sampler) stop() {
	close(s.stopc)
	<-s.done
}

func (s *sampler) samplesOf(tenant string) []storageSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]storageSample(nil), s.samples[tenant]...)
}

func (s *sampler) handovers() []handover {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]handover(nil), s.hs...)
}

// startMeteredTenants starts the metering suites' cluster: tenants alpha and
// beta carry the load, probe checks that the nodes serve; each has a
// readwrite key whose requests are counted in the returned tally.
func startMeteredTenants(t *testing.T) (*env, *tally, map[string]*tenantClient) {
	t.Helper()
	e := newEnv(t, envConfig{
		tiers:   []string{tierYAML("roomy", "block", nil)},
		tenants: []tenantSpec{{"alpha", "roomy"}, {"beta", "roomy"}, {"probe", "roomy"}},
	})
	tl := newTally()
	clients := map[string]*tenantClient{}
	for _, l := range []string{"alpha", "beta", "probe"} {
		clients[l] = e.client(l, e.createKey(0, l, "readwrite", "load").Key, tl)
	}
	e.waitServing(clients["alpha"], clients["beta"], clients["probe"])
	return e, tl, clients
}
