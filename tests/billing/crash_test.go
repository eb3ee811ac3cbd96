package billing

import (
	"context"
	"fmt"
	"testing"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/internal/testwait"
)

// TestKillDuringIngestion SIGKILLs a single billing replica three times
// while eight senders ingest usage; senders resend each batch until it is
// acknowledged. Afterwards every tenant's metered usage equals the distinct
// records sent.
func TestKillDuringIngestion(t *testing.T) {
	rs := startReplicas(t, 1, "--period", "month", "--tiers", writeTiers(t))
	admin := rs.admin()
	tenants, token := createTenants(t, admin, 5, "metered")
	l := newLoad(t, rs.client(token), tenants, 50)
	stop := make(chan struct{})
	wait := l.run(8, 0, stop)
	for range 3 {
		l.waitAcked(l.acked.Load() + 100)
		rs.kill(0)
		rs.start(0)
		rs.waitReady(0)
	}
	l.waitAcked(l.acked.Load() + 100) // progress after the last restart
	close(stop)
	wait()
	if t.Failed() {
		return
	}
	checkUsage(t, admin, l)
}

// TestKillDuringInvoiceGeneration runs a 2-second billing period with 60
// tenants and SIGKILLs the replica inside the scheduler's draft runs: it
// polls the drafts without pause and kills as soon as some, not all,
// tenants have their draft for a new period, three times (a run seen only
// complete does not count; the next period is tried), while usage keeps
// arriving. Afterwards every tenant has exactly one invoice per period
// and its invoices bill every read sent exactly once.
func TestKillDuringInvoiceGeneration(t *testing.T) {
	const tenantCount = 60
	rs := startReplicas(t, 1, "--period", "2s", "--usage-bucket", "1s", "--grace", "500ms",
		"--payment-terms", "1h", "--dunning-grace", "1h", "--schedule-interval", "100ms", "--tiers", writeTiers(t))
	admin := rs.admin()
	tenants, token := createTenants(t, admin, tenantCount, "metered")
	l := newLoad(t, rs.client(token), tenants, 20)
	stop := make(chan struct{})
	wait := l.run(4, 0, stop)

	// Tenants created on both sides of a period boundary have different
	// first periods: start once one period is drafted for all of them.
	var seen time.Time // end of the latest period whose draft run was watched
	testwait.For(t, waitLimit, "a period drafted for every tenant", func() error {
		invs, err := admin.ListInvoices(context.Background(), billingclient.InvoiceQuery{})
		if err != nil {
			return err
		}
		for end, n := range countByPeriodEnd(invs) {
			if n == tenantCount && end.After(seen) {
				seen = end
			}
		}
		if seen.IsZero() {
			return fmt.Errorf("%d invoices, no period has all %d tenants", len(invs), tenantCount)
		}
		return nil
	})
	kills, missed := 0, 0
	for kills < 3 {
		if missed >= 15 {
			t.Fatalf("only %d of 3 kills landed inside a draft run; %d runs were seen only complete", kills, missed)
		}
		end, drafted := nextDraftRun(t, admin, seen)
		seen = end
		if drafted == tenantCount {
			missed++
			continue
		}
		rs.kill(0)
		kills++
		t.Logf("killed with %d of %d drafts of the period ending %s written", drafted, tenantCount, end.Format(time.RFC3339))
		rs.start(0)
		rs.waitReady(0)
	}
	l.waitAcked(l.acked.Load() + 10)
	close(stop)
	wait()
	if t.Failed() {
		return
	}
	checkUsage(t, admin, l)
	waitBilled(t, admin, l)
	checkInvoices(t, admin, tenants, 2*time.Second)
}

// nextDraftRun polls the drafts without pause until some exist for a
// period ending after seen, and returns that period's end and how many
// tenants had a draft for it at that moment.
func nextDraftRun(t *testing.T, admin *billingclient.Client, seen time.Time) (time.Time, int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		drafts, err := admin.ListInvoices(context.Background(), billingclient.InvoiceQuery{Status: string(contract.InvoiceDraft)})
		if err != nil {
			t.Fatal(err)
		}
		var latest time.Time
		counts := countByPeriodEnd(drafts)
		for end := range counts {
			if end.After(latest) {
				latest = end
			}
		}
		if latest.After(seen) {
			return latest, counts[latest]
		}
	}
	t.Fatalf("no draft of a period ending after %s within %v", seen.Format(time.RFC3339), waitLimit)
	return time.Time{}, 0
}

// countByPeriodEnd counts invoices by the end of their period.
func countByPeriodEnd(invs []contract.Invoice) map[time.Time]int {
	out := map[time.Time]int{}
	for _, inv := range invs {
		out[inv.PeriodEnd.UTC()]++
	}
	return out
}

// TestLeaderKilledDuringIngestion runs three replicas and SIGKILLs the
// leader twice while usage is ingested through all of them (the client
// fails over) and invoices are generated on a 3-second period; the killed
// replica restarts and rejoins. Same guarantees as on one replica.
func TestLeaderKilledDuringIngestion(t *testing.T) {
	rs := startReplicas(t, 3, "--period", "3s", "--usage-bucket", "1s", "--grace", "1s",
		"--payment-terms", "1h", "--dunning-grace", "1h", "--schedule-interval", "200ms", "--tiers", writeTiers(t))
	admin := rs.admin()
	tenants, token := createTenants(t, admin, 8, "metered")
	l := newLoad(t, rs.client(token), tenants, 50)
	stop := make(chan struct{})
	wait := l.run(8, 0, stop)
	for range 2 {
		l.waitAcked(l.acked.Load() + 100)
		leader := rs.leader()
		rs.kill(leader)
		l.waitAcked(l.acked.Load() + 10) // the survivors elect a leader and carry on
		rs.start(leader)
		rs.waitReady(leader)
	}
	l.waitAcked(l.acked.Load() + 20)
	close(stop)
	wait()
	if t.Failed() {
		return
	}
	checkUsage(t, admin, l)
	waitBilled(t, admin, l)
	checkInvoices(t, admin, tenants, 3*time.Second)

	// Every replica, the restarted ones too, serves the same ledger.
	want := checkInvoices(t, admin, tenants[:1], 3*time.Second)[tenants[0]]
	for i := range rs.nodes {
		c2, err := billingclient.New(billingclient.Config{URL: rs.url(i), Key: rs.key})
		if err != nil {
			t.Fatal(err)
		}
		testwait.For(t, waitLimit, "replica "+rs.nodes[i].id+" serves the ledger", func() error {
			invs, err := c2.ListInvoices(context.Background(), billingclient.InvoiceQuery{TenantID: tenants[0]})
			if err != nil {
				return err
			}
			if len(invs) < len(want) || invs[len(want)-1].ID != want[len(want)-1].ID {
				return fmt.Errorf("%d invoices, want at least %d", len(invs), len(want))
			}
			return nil
		})
	}
}

// TestDunningEndToEnd drives dunning on a 2-second period through the
// process: an unpaid invoice suspends the tenant (its signed policy says
// suspended), paying resumes it (the policy says active).
func TestDunningEndToEnd(t *testing.T) {
	rs := startReplicas(t, 1, "--period", "2s", "--usage-bucket", "1s", "--grace", "300ms",
		"--payment-terms", "500ms", "--dunning-grace", "300ms", "--schedule-interval", "100ms")
	admin := rs.admin()
	ctx := context.Background()
	tenants, token := createTenants(t, admin, 1, "starter")
	ten := tenants[0]
	agent := rs.client(token)
	testwait.For(t, waitLimit, "suspended for an unpaid invoice", func() error {
		pol, err := agent.VerifiedPolicy(ctx, ten)
		if err != nil {
			return err
		}
		if pol.Status != contract.StatusSuspended {
			return fmt.Errorf("policy says %s", pol.Status)
		}
		return nil
	})
	tn, err := admin.GetTenant(ctx, ten)
	if err != nil || tn.SuspendReason != contract.ReasonDunning {
		t.Fatalf("tenant = %+v, %v; want suspended for dunning", tn, err)
	}
	// Pay what is open, the first payment with credit for the periods to
	// come, until the tenant is active with nothing open.
	credit := int64(1_000_000)
	testwait.For(t, waitLimit, "active after payment", func() error {
		open, err := admin.ListInvoices(ctx, billingclient.InvoiceQuery{TenantID: ten, Status: "open"})
		if err != nil {
			return err
		}
		for _, inv := range open {
			if _, err := admin.PayInvoice(ctx, inv.ID, billingclient.Payment{AmountCents: inv.AmountDueCents + credit, ExternalRef: "wire-" + inv.ID, Credit: credit > 0}); err != nil {
				return err
			}
			credit = 0
		}
		pol, err := agent.VerifiedPolicy(ctx, ten)
		if err != nil {
			return err
		}
		if pol.Status != contract.StatusActive || len(open) > 0 {
			return fmt.Errorf("policy says %s with %d invoices open", pol.Status, len(open))
		}
		return nil
	})
	// Credit pays the next invoices as they are finalized: the tenant
	// stays active over further periods.
	invs, err := admin.ListInvoices(ctx, billingclient.InvoiceQuery{TenantID: ten})
	if err != nil {
		t.Fatal(err)
	}
	n := len(invs)
	testwait.For(t, waitLimit, "two more periods billed from credit", func() error {
		invs, err := admin.ListInvoices(ctx, billingclient.InvoiceQuery{TenantID: ten, Status: "paid"})
		if err != nil {
			return err
		}
		paid := 0
		for _, inv := range invs {
			if inv.CreditAppliedCents > 0 {
				paid++
			}
		}
		if paid < 2 {
			return fmt.Errorf("%d invoices paid from credit (of %d at payment time)", paid, n)
		}
		return nil
	})
	if tn, err := admin.GetTenant(ctx, ten); err != nil || tn.Status != contract.StatusActive {
		t.Fatalf("tenant after credit-paid periods = %+v, %v", tn, err)
	}
	audit, err := admin.Audit(ctx, ten, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var suspended, resumed bool
	for _, e := range audit.Entries {
		suspended = suspended || (e.Action == "tenant.suspended" && e.Actor == "scheduler")
		resumed = resumed || e.Action == "tenant.resumed"
	}
	if !suspended || !resumed {
		t.Fatalf("audit trail lacks the scheduler's suspension (%v) or the resumption (%v): %+v", suspended, resumed, audit.Entries)
	}
}
