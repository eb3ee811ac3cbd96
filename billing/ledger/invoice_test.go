package ledger

import (
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/rating"
	"github.com/aerolithdb/aerolith/billing/tier"
)

var (
	feb = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	mar = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
)

func closeCmd(h Header, tenant string, start, end, cs, ce time.Time) CloseDraft {
	return CloseDraft{Header: h, Tenant: tenant, PeriodStart: start.UnixNano(), PeriodEnd: end.UnixNano(), CycleStart: cs.UnixNano(), CycleEnd: ce.UnixNano()}
}

// rateTotal rates usage directly with billing/rating.
func rateTotal(t *testing.T, tierName string, u rating.Usage, p rating.Period) int64 {
	t.Helper()
	tr, ok := tier.Defaults().Get(tierName)
	if !ok {
		t.Fatalf("no tier %s", tierName)
	}
	ls, err := rating.Rate(tr, u, p)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ls.TotalCents()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) dueForDraft(c Cycle) []DraftDue {
	f.t.Helper()
	var ds []DraftDue
	f.view(func(tx *bolt.Tx) (err error) { ds, err = DueForDraft(tx, f.now, c); return })
	return ds
}

func (f *fixture) dueForFinalize(grace time.Duration) []Invoice {
	f.t.Helper()
	var is []Invoice
	f.view(func(tx *bolt.Tx) (err error) { is, err = DueForFinalize(tx, f.now, grace); return })
	return is
}

func TestInvoiceLifecycle(t *testing.T) {
	f := usageFixture(t)
	f.now = t0.Add(2 * time.Hour)
	f.ingest("c1", rec("n1", 1, "t1", t0.Add(time.Hour), 2_000_000, 0))

	f.now = feb.Add(time.Hour)
	f.actor = "scheduler"
	due := f.dueForDraft(Cycle{})
	if len(due) != 3 || due[0].Tenant != "other" || due[1].Tenant != "t1" || !due[1].PeriodStart.Equal(t0) || !due[1].PeriodEnd.Equal(feb) {
		t.Fatalf("DueForDraft = %+v", due)
	}
	r := f.ok(due[1].Command(f.h()))
	inv := *r.Invoice
	want := rateTotal(t, "starter", rating.Usage{Reads: 2_000_000}, rating.Month(t0))
	if inv.Status != InvoiceDraft || inv.TotalCents != want || want != 1025 || inv.ID != InvoiceID("t1", t0) {
		t.Fatalf("draft = %+v, want total %d", inv, want)
	}
	// Exactly one invoice per tenant and period: closing again changes nothing.
	again := f.ok(due[1].Command(f.h()))
	if !again.Unchanged || again.Invoice.ID != inv.ID {
		t.Fatalf("second close = %+v", again)
	}
	if d := f.dueForDraft(Cycle{}); len(d) != 2 {
		t.Fatalf("after closing t1, due = %+v", d)
	}

	// Late usage during the grace period lands in the draft.
	f.actor = "cluster:c1"
	f.ingest("c1", rec("n1", 2, "t1", t0.Add(20*24*time.Hour), 1_000_000, 0))
	if got := f.invoice(inv.ID); got.TotalCents != 1050 || got.Status != InvoiceDraft {
		t.Fatalf("draft after late usage = %d (%s), want 1050", got.TotalCents, got.Status)
	}
	if d := f.dueForFinalize(24 * time.Hour); len(d) != 0 {
		t.Fatalf("due for finalize inside grace = %+v", d)
	}
	f.now = feb.Add(25 * time.Hour)
	d := f.dueForFinalize(24 * time.Hour)
	if len(d) != 1 || d[0].ID != inv.ID {
		t.Fatalf("due for finalize = %+v", d)
	}
	f.actor = "scheduler"
	dueAt := f.now.Add(14 * 24 * time.Hour)
	fin := f.ok(FinalizeInvoice{Header: f.h(), InvoiceID: inv.ID, DueAt: dueAt.UnixNano()}).Invoice
	if fin.Status != InvoiceOpen || fin.TotalCents != 1050 || fin.AmountDueCents != 1050 || !fin.DueAt.Equal(dueAt) || !fin.FinalizedAt.Equal(f.now) {
		t.Fatalf("finalized = %+v", fin)
	}
	if r := f.ok(FinalizeInvoice{Header: f.h(), InvoiceID: inv.ID, DueAt: dueAt.UnixNano()}); !r.Unchanged {
		t.Fatal("finalizing twice should be unchanged")
	}
	if e := f.lastAudit("t1"); e.Action != "invoice.finalized" || e.Actor != "scheduler" || e.Details["total_cents"] != "1050" {
		t.Fatalf("audit = %+v", e)
	}

	// Usage reported after finalization becomes an adjustment on the next invoice.
	f.actor = "cluster:c1"
	f.ingest("c1", rec("n1", 3, "t1", t0.Add(21*24*time.Hour), 1_000_000, 0))
	if got := f.invoice(inv.ID); got.TotalCents != 1050 || len(got.Lines) != len(fin.Lines) {
		t.Fatalf("finalized invoice changed after late usage: %+v", got)
	}
	f.now = mar.Add(time.Hour)
	f.actor = "scheduler"
	next := f.ok(closeCmd(f.h(), "t1", feb, mar, feb, mar)).Invoice
	if next.TotalCents != 1025 {
		t.Fatalf("february draft total = %d, want 1000 base + 25 late", next.TotalCents)
	}
	fin2 := f.ok(FinalizeInvoice{Header: f.h(), InvoiceID: next.ID, DueAt: f.now.UnixNano()}).Invoice
	adj := fin2.Lines[len(fin2.Lines)-1]
	if adj.Kind != rating.KindAdjustment || adj.Cents != 25 || !strings.Contains(adj.Description, "reads +1000000") || !strings.Contains(adj.Description, inv.ID) {
		t.Fatalf("adjustment line = %+v", adj)
	}
	// Consumed: a third invoice carries no adjustment.
	f.now = time.Date(2026, 4, 1, 1, 0, 0, 0, time.UTC)
	third := f.ok(closeCmd(f.h(), "t1", mar, f.now.Truncate(time.Hour).Add(-time.Hour), mar, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))).Invoice
	if third.TotalCents != 1000 {
		t.Fatalf("march draft = %+v", third)
	}
}

func TestCloseDraftErrors(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "starter")
	f.now = feb.Add(time.Hour)
	f.ok(closeCmd(f.h(), "t1", t0, feb, t0, feb))
	tests := []struct {
		name string
		cmd  CloseDraft
		want error
		msg  string
	}{
		{"not ended", closeCmd(f.h(), "t1", feb, mar, feb, mar), ErrState, "has not passed yet"},
		{"gap", closeCmd(f.h(), "t1", feb.Add(time.Hour), feb.Add(2*time.Hour), feb, mar), ErrInvalid, "leaves a gap"},
		{"overlap", closeCmd(f.h(), "t1", t0.Add(time.Hour), feb, t0, feb), ErrConflict, "overlaps"},
		{"outside cycle", closeCmd(f.h(), "t1", feb, feb.Add(time.Hour), t0, feb), ErrInvalid, "not inside the cycle"},
		{"empty", closeCmd(f.h(), "t1", feb, feb, feb, mar), ErrInvalid, "period_end"},
		{"fractional", closeCmd(f.h(), "t1", feb.Add(time.Millisecond), feb.Add(time.Hour), feb, mar), ErrInvalid, "period_start: 2026-02-01T00:00:00.001Z is not a whole second"},
		{"missing", CloseDraft{Header: f.h(), Tenant: "t1"}, ErrInvalid, "period_start: required"},
		{"unknown tenant", closeCmd(f.h(), "ghost", feb, mar, feb, mar), ErrNotFound, "ghost"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.fail(tc.cmd, tc.want, tc.msg)
		})
	}
}

func TestProratedTierChange(t *testing.T) {
	f := newFixture(t)
	created := time.Date(2026, 1, 10, 6, 0, 0, 0, time.UTC)
	change := time.Date(2026, 1, 20, 12, 0, 0, 0, time.UTC)
	f.now = created
	f.createTenant("t1", "starter")
	f.registerCluster("c1", "t1")
	f.now = change.Add(-time.Hour)
	f.ingest("c1", rec("n1", 1, "t1", created.Add(time.Hour), 1_500_000, 300_000))
	f.now = change
	f.ok(ChangeTier{Header: f.h(), Tenant: "t1", Tier: "professional"})
	f.now = feb
	f.ingest("c1", rec("n1", 2, "t1", change.Add(2*time.Hour), 12_000_000, 0))
	f.advance(time.Hour)
	due := f.dueForDraft(Cycle{})
	if len(due) != 1 || !due[0].PeriodStart.Equal(created) || !due[0].CycleStart.Equal(t0) {
		t.Fatalf("due = %+v", due)
	}
	inv := f.ok(due[0].Command(f.h())).Invoice
	cycle := rating.Month(t0)
	want := rateTotal(t, "starter", rating.Usage{Reads: 1_500_000, Writes: 300_000}, rating.Period{Start: created, End: change, CycleStart: cycle.Start, CycleEnd: cycle.End}) +
		rateTotal(t, "professional", rating.Usage{Reads: 12_000_000}, rating.Period{Start: change, End: feb, CycleStart: cycle.Start, CycleEnd: cycle.End})
	if inv.TotalCents != want {
		t.Fatalf("prorated total = %d, want %d; lines %+v", inv.TotalCents, want, inv.Lines)
	}
	var bases int
	for _, l := range inv.Lines {
		if l.Kind == rating.KindBase {
			bases++
			if !strings.Contains(l.Description, "prorated") {
				t.Errorf("base line %q does not say it is prorated", l.Description)
			}
		}
	}
	if bases != 2 {
		t.Fatalf("want one base line per tier segment, got %d: %+v", bases, inv.Lines)
	}
	// History before the invoiced period is pruned.
	if h := f.tenant("t1").TierHistory; len(h) != 1 || h[0].Tier != "professional" {
		t.Fatalf("tier history after close = %+v", h)
	}
}

func TestInvoiceStateTransitions(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "starter")
	f.now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	cyc := Cycle{}
	ids := map[string]string{}
	for _, name := range []string{"a", "b", "c", "d"} {
		d := f.dueForDraft(cyc)
		ids[name] = f.ok(d[0].Command(f.h())).Invoice.ID
	}
	due := f.now.Add(24 * time.Hour).UnixNano()
	tests := []struct {
		name   string
		cmd    Command
		want   error
		status InvoiceStatus
		inv    string
	}{
		{"uncollectible draft", MarkUncollectible{Header: f.h(), InvoiceID: ids["a"]}, ErrState, InvoiceDraft, "a"},
		{"due before now", FinalizeInvoice{Header: f.h(), InvoiceID: ids["a"], DueAt: f.now.Add(-time.Second).UnixNano()}, ErrInvalid, InvoiceDraft, "a"},
		{"no due date", FinalizeInvoice{Header: f.h(), InvoiceID: ids["a"]}, ErrInvalid, InvoiceDraft, "a"},
		{"finalize", FinalizeInvoice{Header: f.h(), InvoiceID: ids["a"], DueAt: due}, nil, InvoiceOpen, "a"},
		{"uncollectible", MarkUncollectible{Header: f.h(), InvoiceID: ids["a"], Reason: "customer gone"}, nil, InvoiceUncollectible, "a"},
		{"void uncollectible", VoidInvoice{Header: f.h(), InvoiceID: ids["a"]}, nil, InvoiceVoid, "a"},
		{"finalize void", FinalizeInvoice{Header: f.h(), InvoiceID: ids["a"], DueAt: due}, ErrState, InvoiceVoid, "a"},
		{"uncollectible void", MarkUncollectible{Header: f.h(), InvoiceID: ids["a"]}, ErrState, InvoiceVoid, "a"},
		{"void draft", VoidInvoice{Header: f.h(), InvoiceID: ids["b"], Reason: "test tenant"}, nil, InvoiceVoid, "b"},
		{"finalize c", FinalizeInvoice{Header: f.h(), InvoiceID: ids["c"], DueAt: due}, nil, InvoiceOpen, "c"},
		{"pay c", RecordPayment{Header: f.h(), PaymentID: "p1", InvoiceID: ids["c"], AmountCents: 1000, Method: "manual", ExternalRef: "r1"}, nil, InvoicePaid, "c"},
		{"void paid", VoidInvoice{Header: f.h(), InvoiceID: ids["c"]}, ErrState, InvoicePaid, "c"},
		{"uncollectible paid", MarkUncollectible{Header: f.h(), InvoiceID: ids["c"]}, ErrState, InvoicePaid, "c"},
		{"pay paid", RecordPayment{Header: f.h(), PaymentID: "p2", InvoiceID: ids["c"], AmountCents: 1, Method: "manual", ExternalRef: "r2"}, ErrState, InvoicePaid, "c"},
		{"pay draft", RecordPayment{Header: f.h(), PaymentID: "p3", InvoiceID: ids["d"], AmountCents: 1, Method: "manual", ExternalRef: "r3"}, ErrState, InvoiceDraft, "d"},
		{"unknown invoice", FinalizeInvoice{Header: f.h(), InvoiceID: "in_nope", DueAt: due}, ErrNotFound, InvoiceDraft, "d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			if tc.want != nil {
				f.fail(tc.cmd, tc.want)
			} else {
				f.ok(tc.cmd)
			}
			if got := f.invoice(ids[tc.inv]).Status; got != tc.status {
				t.Fatalf("status = %s, want %s", got, tc.status)
			}
		})
	}
	f.t = t
	actions := map[string]bool{}
	for _, e := range f.audit("t1") {
		actions[e.Action] = true
	}
	for _, a := range []string{"invoice.drafted", "invoice.finalized", "invoice.marked_uncollectible", "invoice.voided", "invoice.paid", "payment.recorded"} {
		if !actions[a] {
			t.Errorf("no %s audit entry", a)
		}
	}
}

func TestDueForDraftHourlyAndDeletion(t *testing.T) {
	f := newFixture(t)
	f.now = t0.Add(30*time.Minute + 500*time.Millisecond)
	f.createTenant("t1", "starter")
	f.now = t0.Add(3*time.Hour + 10*time.Minute)
	hourly := Cycle{Every: time.Hour}
	due := f.dueForDraft(hourly)
	want := [][2]time.Time{{t0.Add(30 * time.Minute), t0.Add(time.Hour)}, {t0.Add(time.Hour), t0.Add(2 * time.Hour)}, {t0.Add(2 * time.Hour), t0.Add(3 * time.Hour)}}
	if len(due) != len(want) {
		t.Fatalf("due = %+v", due)
	}
	for i, w := range want {
		if !due[i].PeriodStart.Equal(w[0]) || !due[i].PeriodEnd.Equal(w[1]) {
			t.Fatalf("due[%d] = %+v, want %v", i, due[i], w)
		}
		f.ok(due[i].Command(f.h()))
	}
	f.now = t0.Add(3*time.Hour + 20*time.Minute)
	f.ok(DeleteTenant{Header: f.h(), Tenant: "t1"})
	// The final, partial period ends at the deletion: it is due at once.
	d := f.dueForDraft(hourly)
	if len(d) != 1 || !d[0].PeriodEnd.Equal(t0.Add(3*time.Hour+20*time.Minute)) || !d[0].CycleEnd.Equal(t0.Add(4*time.Hour)) {
		t.Fatalf("final period = %+v", d)
	}
	final := f.ok(d[0].Command(f.h())).Invoice
	// 20 minutes of a $10/month... prorated against the one-hour cycle: a third of $10.
	if final.TotalCents != 333 {
		t.Fatalf("final invoice total = %d, want 333", final.TotalCents)
	}
	if d := f.dueForDraft(hourly); len(d) != 0 {
		t.Fatalf("after the final invoice: %+v", d)
	}
	f.fail(closeCmd(f.h(), "t1", t0.Add(3*time.Hour+20*time.Minute), t0.Add(4*time.Hour), t0.Add(3*time.Hour), t0.Add(4*time.Hour)), ErrInvalid, "deletion")
}

func TestParseCycle(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{{"month", 0, false}, {"", 0, false}, {"1h", time.Hour, false}, {"90s", 90 * time.Second, false}, {"1.5s", 0, true}, {"weekly", 0, true}, {"0s", 0, true}, {"-1h", 0, true}} {
		c, err := ParseCycle(tc.in)
		if (err != nil) != tc.err || (err == nil && c.Every != tc.want) {
			t.Errorf("ParseCycle(%q) = %v, %v", tc.in, c, err)
		}
	}
	s, e := Cycle{}.Containing(time.Date(2024, 2, 29, 23, 0, 0, 0, time.UTC))
	if !s.Equal(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) || !e.Equal(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("month containing Feb 29 = %v..%v", s, e)
	}
	s, e = Cycle{Every: time.Hour}.Containing(t0.Add(90 * time.Minute))
	if !s.Equal(t0.Add(time.Hour)) || !e.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("hour containing 01:30 = %v..%v", s, e)
	}
	if err := (Cycle{Every: time.Millisecond}).Validate(); err == nil {
		t.Error("1ms cycle validated")
	}
	if _, err := DueForDraft(nil, t0, Cycle{Every: time.Millisecond}); !errors.Is(err, ErrInvalid) {
		t.Errorf("DueForDraft with bad cycle: %v", err)
	}
}

func TestCurrentPeriod(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "starter")
	created := f.tenant("t1").CreatedAt
	var p OpenPeriod
	f.view(func(tx *bolt.Tx) (err error) { p, err = CurrentPeriod(tx, "t1", Cycle{}); return })
	if !p.First || !p.Start.Equal(truncSec(created)) || !p.End.Equal(feb) {
		t.Fatalf("first period = %+v, want from creation to %s", p, feb)
	}
	f.view(func(tx *bolt.Tx) (err error) { p, err = CurrentPeriod(tx, "t1", Cycle{Every: time.Hour}); return })
	if _, want := (Cycle{Every: time.Hour}).Containing(created); !p.End.Equal(want) {
		t.Fatalf("first hourly period = %+v, want end %s", p, want)
	}
	f.now = feb.Add(time.Hour)
	f.ok(closeCmd(f.h(), "t1", t0, feb, t0, feb))
	f.view(func(tx *bolt.Tx) (err error) { p, err = CurrentPeriod(tx, "t1", Cycle{}); return })
	if p.First || !p.Start.Equal(feb) || !p.End.Equal(mar) {
		t.Fatalf("second period = %+v, want %s to %s", p, feb, mar)
	}
	f.view(func(tx *bolt.Tx) error {
		if _, err := CurrentPeriod(tx, "ghost", Cycle{}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown tenant: %v", err)
		}
		return nil
	})
}
