package billing

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/testwait"
)

// meteredTiers is a tiers file whose only tier bills every unit of usage
// at one cent with no base fee; the load sends only reads, so that the sum of a tenant's invoice totals in
// cents equals the reads it was billed for: the invariant these suites
// check ("no usage lost or counted twice, billed exactly once").
const meteredTiers = `tiers:
  - name: metered
    display_name: Metered
    base_price: "0"
    included:
      reads: 0
      writes: 0
      queries: 0
      storage: 0
      egress: 0
      query_compute: 0
    overage:
      reads: {model: per_unit, unit: 1, unit_price: "0.01"}
      writes: {model: per_unit, unit: 1, unit_price: "0.01"}
      queries: {model: per_unit, unit: 1, unit_price: "0.01"}
      storage: {model: per_unit, unit: 1, unit_price: "0.01"}
      egress: {model: per_unit, unit: 1, unit_price: "0.01"}
      query_compute: {model: per_unit, unit: 1, unit_price: "0.01"}
    limits:
      storage_bytes: 1GB
      api_calls_per_day: 1M
      api_calls_per_hour: 100k
      requests_per_second: 1000
      concurrent_connections: 100
      max_query_duration: 30s
      max_collections: 100
      max_documents_per_collection: 1M
      retention_days: 30
    quota_action: allow_with_overage
`

// writeTiers writes the metered tiers file and returns its path.
func writeTiers(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tiers.yaml")
	if err := os.WriteFile(p, []byte(meteredTiers), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// createTenants creates n tenants on tierName and registers one cluster
// serving them all; it returns their ids and the enrollment token.
func createTenants(t *testing.T, admin *billingclient.Client, n int, tierName string) ([]string, string) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i := range n {
		ten, err := admin.CreateTenant(ctx, billingclient.TenantRequest{
			Organization: fmt.Sprintf("Org %d", i), Name: fmt.Sprintf("tenant-%d", i), Tier: tierName, Email: fmt.Sprintf("t%d@example.com", i)})
		if err != nil {
			t.Fatalf("create tenant %d: %v", i, err)
		}
		ids = append(ids, ten.ID)
	}
	enr, err := admin.RegisterCluster(ctx, "", ids)
	if err != nil {
		t.Fatal(err)
	}
	return ids, enr.EnrollmentToken
}

// load is a usage load: senders, each one node of the cluster, sending
// batches with consecutive sequence numbers and retrying each batch until
// every record of it is acknowledged (accepted or duplicate).
type load struct {
	t        *testing.T
	agent    *billingclient.Client
	tenants  []string
	batch    int
	acked    atomic.Int64 // batches acknowledged
	resent   atomic.Int64 // batch sends that failed and were retried
	accepted atomic.Int64
	dups     atomic.Int64

	mu    sync.Mutex
	reads map[string]uint64 // tenant → reads of the distinct records sent
	sent  int
	first time.Time // earliest record window
	last  time.Time // latest
}

func newLoad(t *testing.T, agent *billingclient.Client, tenants []string, batch int) *load {
	return &load{t: t, agent: agent, tenants: tenants, batch: batch, reads: map[string]uint64{}}
}

// run starts senders goroutines; each sends batches until stop is closed
// (after finishing its current batch) or it has sent max batches (0: no
// limit). It returns a function waiting for them all.
func (l *load) run(senders, max int, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(s), uint64(time.Now().UnixNano())))
			node := fmt.Sprintf("node-%d", s)
			var seq uint64
			for n := 0; max == 0 || n < max; n++ {
				select {
				case <-stop:
					return
				default:
				}
				recs := make([]billingclient.UsageRecord, l.batch)
				now := time.Now().UTC()
				for i := range recs {
					seq++
					recs[i] = billingclient.UsageRecord{NodeID: node, Seq: seq, TenantID: l.tenants[rng.IntN(len(l.tenants))],
						Start: now, End: now.Add(time.Millisecond), Reads: uint64(1 + rng.IntN(100))}
				}
				if !l.send(recs) {
					return
				}
			}
		}()
	}
	return wg.Wait
}

// send sends one batch until it is acknowledged, then records it as sent.
// It returns false when the test deadline passed.
func (l *load) send(recs []billingclient.UsageRecord) bool {
	deadline := time.Now().Add(2 * waitLimit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := l.agent.SendUsage(ctx, recs)
		cancel()
		if err == nil {
			ok := true
			for i, r := range res.Records {
				switch r.Status {
				case billingclient.RecordAccepted:
					l.accepted.Add(1)
				case billingclient.RecordDuplicate:
					l.dups.Add(1)
				default:
					l.t.Errorf("record %s/%d rejected: %s (retry %v)", recs[i].NodeID, recs[i].Seq, r.Reason, r.Retry)
					ok = false
				}
			}
			if !ok {
				return false
			}
			l.mu.Lock()
			for _, r := range recs {
				l.reads[r.TenantID] += r.Reads
				if l.first.IsZero() || r.Start.Before(l.first) {
					l.first = r.Start
				}
				if r.Start.After(l.last) {
					l.last = r.Start
				}
			}
			l.sent += len(recs)
			l.mu.Unlock()
			l.acked.Add(1)
			return true
		}
		l.resent.Add(1)
		if time.Now().After(deadline) {
			l.t.Errorf("batch of %s not acknowledged for %v: %v", recs[0].NodeID, 2*waitLimit, err)
			return false
		}
		time.Sleep(20 * time.Millisecond) // back off before resending the same batch
	}
}

// waitAcked waits until at least n batches are acknowledged.
func (l *load) waitAcked(n int64) {
	l.t.Helper()
	testwait.For(l.t, waitLimit, fmt.Sprintf("%d batches acknowledged", n), func() error {
		if got := l.acked.Load(); got < n {
			return fmt.Errorf("%d acknowledged", got)
		}
		return nil
	})
}

// expected returns the reads per tenant of the distinct records sent.
func (l *load) expected() (map[string]uint64, int, time.Time, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]uint64, len(l.reads))
	for k, v := range l.reads {
		out[k] = v
	}
	return out, l.sent, l.first, l.last
}

// checkUsage checks that every tenant's metered reads equal the reads of
// the distinct records sent: nothing lost, nothing counted twice.
func checkUsage(t *testing.T, admin *billingclient.Client, l *load) {
	t.Helper()
	want, sent, first, last := l.expected()
	for _, ten := range l.tenants {
		s, err := admin.Usage(context.Background(), ten, billingclient.UsageQuery{From: first.Add(-time.Hour), To: last.Add(time.Hour), Granularity: "hour"})
		if err != nil {
			t.Fatal(err)
		}
		if s.Total.Reads != want[ten] {
			t.Errorf("tenant %s: metered %d reads, sent %d (distinct records)", ten, s.Total.Reads, want[ten])
		}
	}
	t.Logf("%d records in %d batches acknowledged; %d batch sends retried; outcomes seen: %d accepted, %d duplicate",
		sent, l.acked.Load(), l.resent.Load(), l.accepted.Load(), l.dups.Load())
	if got := l.accepted.Load(); got > int64(sent) {
		t.Errorf("%d records acknowledged as accepted, more than the %d sent", got, sent)
	}
}

// checkInvoices checks every tenant's invoices: exactly one per period,
// contiguous from the tenant's creation, each inside one cycle of the
// given length. It returns them by tenant.
func checkInvoices(t *testing.T, admin *billingclient.Client, tenants []string, cycle time.Duration) map[string][]contract.Invoice {
	t.Helper()
	out := map[string][]contract.Invoice{}
	for _, ten := range tenants {
		invs, err := admin.ListInvoices(context.Background(), billingclient.InvoiceQuery{TenantID: ten})
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(invs, func(i, j int) bool { return invs[i].PeriodStart.Before(invs[j].PeriodStart) })
		tn, err := admin.GetTenant(context.Background(), ten)
		if err != nil {
			t.Fatal(err)
		}
		for i, inv := range invs {
			if i == 0 && !inv.PeriodStart.Equal(tn.CreatedAt.Truncate(time.Second)) {
				t.Errorf("tenant %s: first period starts %s, tenant created %s", ten, inv.PeriodStart, tn.CreatedAt)
			}
			if i > 0 && !inv.PeriodStart.Equal(invs[i-1].PeriodEnd) {
				t.Errorf("tenant %s: invoice %s starts %s but the previous period ended %s (gap or overlap)", ten, inv.ID, inv.PeriodStart, invs[i-1].PeriodEnd)
			}
			if inv.CycleEnd.Sub(inv.CycleStart) != cycle || inv.PeriodStart.Before(inv.CycleStart) || inv.PeriodEnd.After(inv.CycleEnd) {
				t.Errorf("tenant %s: invoice %s period %s-%s is not inside one %s cycle (%s-%s)", ten, inv.ID, inv.PeriodStart, inv.PeriodEnd, cycle, inv.CycleStart, inv.CycleEnd)
			}
			if inv.ID != ledger.InvoiceID(ten, inv.PeriodStart) {
				t.Errorf("tenant %s: invoice id %s is not the period's id", ten, inv.ID)
			}
		}
		out[ten] = invs
	}
	return out
}

// waitBilled waits until the sum of every tenant's invoice totals (cents,
// one per read on the metered tier) equals the reads sent, with every
// invoice finalized; it fails at once if a sum exceeds what was sent
// (something billed twice).
func waitBilled(t *testing.T, admin *billingclient.Client, l *load) {
	t.Helper()
	want, _, _, last := l.expected()
	testwait.For(t, waitLimit, "every read billed exactly once", func() error {
		for _, ten := range l.tenants {
			invs, err := admin.ListInvoices(context.Background(), billingclient.InvoiceQuery{TenantID: ten})
			if err != nil {
				return err
			}
			var billed int64
			covered := false
			for _, inv := range invs {
				if inv.Status == contract.InvoiceDraft {
					continue // not final yet
				}
				billed += inv.TotalCents
				covered = covered || inv.PeriodStart.After(last)
			}
			if billed > int64(want[ten]) {
				t.Fatalf("tenant %s: finalized invoices bill %d reads, only %d were sent (double billing)", ten, billed, want[ten])
			}
			if billed != int64(want[ten]) || !covered {
				return fmt.Errorf("tenant %s: %d of %d reads billed (a finalized period after the last usage: %v)", ten, billed, want[ten], covered)
			}
		}
		return nil
	})
}
