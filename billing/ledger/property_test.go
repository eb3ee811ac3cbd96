package ledger

import (
	"math/rand/v2"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/rating"
)

// recorder wraps a fixture and keeps every command it applies, to replay
// them elsewhere.
type recorder struct {
	*fixture
	log [][]byte
}

func (r *recorder) run(c Command) Result {
	r.t.Helper()
	raw, err := Encode(c)
	if err != nil {
		r.t.Fatal(err)
	}
	r.log = append(r.log, raw)
	return r.applyRaw(raw)
}

// TestPropertyInvoicesMatchRating delivers random usage streams of several
// tenants in random order, with duplicates and with some records arriving
// after their period was finalized, while a scheduler closes and
// finalizes hourly periods (closing some twice). It then checks that every
// tenant has exactly one invoice per period, contiguous, and that the sum
// of all invoice totals (late-usage adjustments included) equals rating
// the de-duplicated usage of each period directly with billing/rating.
// Finally it replays the same commands on a second database and checks
// both states are identical (determinism).
func TestPropertyInvoicesMatchRating(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run("seed"+itoa(int(seed)), func(t *testing.T) { propertyRun(t, seed) })
	}
}

func propertyRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	rc := &recorder{fixture: newFixture(t)}
	f := rc.fixture
	f.fast = true
	tiers := map[string]string{"ta": "starter", "tb": "professional", "tc": "enterprise", "td": "free"}
	ids := []string{"ta", "tb", "tc", "td"}
	for _, id := range ids {
		rc.run(CreateTenant{Header: f.h(), ID: id, Organization: "O", Name: "N " + id, Tier: tiers[id], Email: id + "@x.example"})
	}
	rc.run(RegisterCluster{Header: f.h(), ClusterID: "c1", Tenants: []string{"ta", "tb", "tc"}, TokenHash: token("c1")})
	rc.run(RegisterCluster{Header: f.h(), ClusterID: "c2", Tenants: []string{"tc", "td"}, TokenHash: token("c2")})

	const hours = 8
	type delivery struct {
		cluster string
		r       UsageRecord
		at      time.Time // earliest delivery time
	}
	var unique []delivery
	seqs := map[string]uint64{}
	nodes := []struct{ cluster, node string }{{"c1", "n1"}, {"c1", "n2"}, {"c2", "n1"}, {"c2", "n3"}}
	for i := 0; i < 300+rng.IntN(200); i++ {
		nd := nodes[rng.IntN(len(nodes))]
		var tenant string
		if nd.cluster == "c1" {
			tenant = []string{"ta", "tb", "tc"}[rng.IntN(3)]
		} else {
			tenant = []string{"tc", "td"}[rng.IntN(2)]
		}
		key := nd.cluster + "/" + nd.node
		seqs[key]++
		start := t0.Add(time.Duration(rng.Int64N(int64(hours * time.Hour))))
		r := UsageRecord{
			NodeID: nd.node, Seq: seqs[key], Tenant: tenant,
			Start: start.UnixNano(), End: start.Add(time.Minute).UnixNano(),
			Reads: uint64(rng.Int64N(3_000_000)), Writes: uint64(rng.Int64N(600_000)),
			Queries: uint64(rng.Int64N(300_000)), QueryComputeMs: uint64(rng.Int64N(4_000_000)),
			IngressBytes: uint64(rng.Int64N(1 << 30)), EgressBytes: uint64(rng.Int64N(40_000_000_000)),
			StorageByteSeconds: uint64(rng.Int64N(1 << 52)),
		}
		// Most records arrive within minutes; a fifth arrive hours late,
		// after their period has been finalized.
		delay := time.Duration(rng.Int64N(int64(20 * time.Minute)))
		if rng.IntN(5) == 0 {
			delay = time.Duration(rng.Int64N(int64(4 * time.Hour)))
		}
		at := start.Add(delay)
		if limit := t0.Add(hours * time.Hour); at.After(limit) {
			at = limit
		}
		unique = append(unique, delivery{nd.cluster, r, at})
	}
	// Deliveries: every record once or more (duplicates), shuffled.
	var all []delivery
	for _, d := range unique {
		for n := 1 + rng.IntN(3); n > 0; n-- {
			dd := d
			if n > 1 {
				dd.at = d.at.Add(time.Duration(rng.Int64N(int64(3 * time.Hour))))
			}
			all = append(all, dd)
		}
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })

	cycle := Cycle{Every: time.Hour}
	grace := 15 * time.Minute
	end := t0.Add((hours + 3) * time.Hour)
	f.actor = "scheduler"
	for f.now = t0; !f.now.After(end.Add(30 * time.Minute)); f.now = f.now.Add(5 * time.Minute) {
		// Deliver what is due, in batches per cluster of random size.
		var due []delivery
		rest := all[:0]
		for _, d := range all {
			if !d.at.After(f.now) {
				due = append(due, d)
			} else {
				rest = append(rest, d)
			}
		}
		all = rest
		for len(due) > 0 {
			n := min(len(due), 1+rng.IntN(40))
			byCluster := map[string][]UsageRecord{}
			for _, d := range due[:n] {
				byCluster[d.cluster] = append(byCluster[d.cluster], d.r)
			}
			due = due[n:]
			for _, cl := range []string{"c1", "c2"} {
				if len(byCluster[cl]) > 0 {
					r := rc.run(IngestUsage{Header: Header{Time: f.now.UnixNano(), Actor: "cluster:" + cl}, ClusterID: cl, Records: byCluster[cl]})
					if r.Err != nil || r.Ingest.Rejected != 0 {
						t.Fatalf("ingest at %s: %v %+v", f.now, r.Err, r.Ingest)
					}
				}
			}
		}
		// The scheduler: close ended periods (sometimes twice, as a second
		// replica would), finalize drafts past grace.
		var drafts []DraftDue
		f.view(func(tx *bolt.Tx) (err error) { drafts, err = DueForDraft(tx, f.now, cycle); return })
		for _, d := range drafts {
			cmd := d.Command(f.h())
			if r := rc.run(cmd); r.Err != nil {
				t.Fatalf("close %+v: %v", d, r.Err)
			}
			if rng.IntN(3) == 0 {
				if r := rc.run(cmd); r.Err != nil || !r.Unchanged {
					t.Fatalf("repeated close = %+v", r)
				}
			}
		}
		var fin []Invoice
		f.view(func(tx *bolt.Tx) (err error) { fin, err = DueForFinalize(tx, f.now, grace); return })
		for _, inv := range fin {
			if r := rc.run(FinalizeInvoice{Header: f.h(), InvoiceID: inv.ID, DueAt: f.now.Add(24 * time.Hour).UnixNano()}); r.Err != nil {
				t.Fatalf("finalize: %v", r.Err)
			}
		}
	}
	if len(all) != 0 {
		t.Fatalf("%d deliveries left", len(all))
	}

	// Expected: each tenant's de-duplicated usage rated per hour.
	var want int64
	for _, id := range ids {
		for h := 0; h < hours+3; h++ {
			ps, pe := t0.Add(time.Duration(h)*time.Hour), t0.Add(time.Duration(h+1)*time.Hour)
			var u rating.Usage
			for _, d := range unique {
				if d.r.Tenant == id && d.r.Start >= ps.UnixNano() && d.r.Start < pe.UnixNano() {
					u.Reads += int64(d.r.Reads)
					u.Writes += int64(d.r.Writes)
					u.Queries += int64(d.r.Queries)
					u.QueryComputeMs += int64(d.r.QueryComputeMs)
					u.EgressBytes += int64(d.r.EgressBytes)
					u.StorageByteSeconds += int64(d.r.StorageByteSeconds)
				}
			}
			want += rateTotal(t, tiers[id], u, rating.Period{Start: ps, End: pe, CycleStart: ps, CycleEnd: pe})
		}
	}
	var got int64
	adjustments := 0
	f.view(func(tx *bolt.Tx) error {
		for _, id := range ids {
			invs, err := ListInvoices(tx, id)
			if err != nil {
				return err
			}
			if len(invs) != hours+3 {
				t.Fatalf("tenant %s has %d invoices, want %d", id, len(invs), hours+3)
			}
			for i, inv := range invs {
				if !inv.PeriodStart.Equal(t0.Add(time.Duration(i)*time.Hour)) || !inv.PeriodEnd.Equal(inv.PeriodStart.Add(time.Hour)) {
					t.Fatalf("tenant %s invoice %d covers %s..%s", id, i, inv.PeriodStart, inv.PeriodEnd)
				}
				if inv.Status != InvoiceOpen && inv.Status != InvoicePaid {
					t.Fatalf("invoice %s is %s", inv.ID, inv.Status)
				}
				got += inv.TotalCents
				for _, l := range inv.Lines {
					if l.Kind == rating.KindAdjustment {
						adjustments++
					}
				}
			}
		}
		return nil
	})
	if got != want {
		t.Fatalf("sum of invoice totals = %d cents, rating the de-duplicated usage = %d", got, want)
	}
	if adjustments == 0 {
		t.Fatalf("no late-usage adjustment was exercised")
	}

	// Determinism: the same commands on another database give the same state.
	other := newFixture(t)
	for _, raw := range rc.log {
		other.index++
		if err := other.db.Update(func(tx *bolt.Tx) error { other.sm.Apply(tx, other.index, raw); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := f.dump(), other.dump(); a != b {
		t.Fatalf("replayed state differs:\n%s", diffLines(a, b))
	}
}
