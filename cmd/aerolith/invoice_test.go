package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/service"
	"github.com/aerolithdb/aerolith/store/storetest"
)

func TestInvoiceCommands(t *testing.T) {
	// One-second periods with an hour of grace: drafts appear every second
	// and stay drafts until finalized by hand.
	startBilling(t, func(c *service.Config) {
		c.Period, c.UsageBucket, c.Grace = "1s", time.Second, time.Hour
	})
	out := billingCLI(t, "tenant", "create", "--org", "Acme", "--name", "acme", "--email", "ap@acme.example", "--tier", "starter", "-o", "json")
	var acme contract.Tenant
	if err := json.Unmarshal([]byte(out), &acme); err != nil {
		t.Fatal(err)
	}
	var drafts []contract.Invoice
	storetest.Eventually(t, time.Minute, func() error {
		out := billingCLI(t, "invoice", "list", "--tenant", acme.ID, "--status", "draft", "-o", "json")
		if err := json.Unmarshal([]byte(out), &drafts); err != nil {
			return err
		}
		if len(drafts) < 3 {
			return fmt.Errorf("%d drafts", len(drafts))
		}
		return nil
	})
	first, second, third := drafts[0], drafts[1], drafts[2]

	out = billingCLI(t, "invoice", "list", "--tenant", acme.ID)
	if !strings.Contains(out, first.ID) || !strings.Contains(out, "draft") {
		t.Fatalf("invoice list printed:\n%s", out)
	}
	out = billingCLI(t, "invoice", "show", first.ID)
	for _, want := range []string{"status:", "draft", "DESCRIPTION", "amount due", "(draft:"} {
		if !strings.Contains(out, want) {
			t.Errorf("invoice show lacks %q:\n%s", want, out)
		}
	}
	out = billingCLI(t, "invoice", "finalize", first.ID, "--due", "2030-01-01")
	if !strings.Contains(out, "finalized invoice "+first.ID) || !strings.Contains(out, "open") || !strings.Contains(out, "2030-01-01 00:00:00") {
		t.Fatalf("finalize printed:\n%s", out)
	}
	var fin contract.Invoice
	if err := json.Unmarshal([]byte(billingCLI(t, "invoice", "show", first.ID, "-o", "json")), &fin); err != nil || fin.Status != contract.InvoiceOpen || fin.AmountDueCents <= 0 {
		t.Fatalf("finalized invoice = %+v, %v", fin, err)
	}
	rows, err := csv.NewReader(strings.NewReader(billingCLI(t, "invoice", "show", first.ID, "--format", "csv"))).ReadAll()
	if err != nil || len(rows) != len(fin.Lines)+1 {
		t.Fatalf("csv: %d rows, %v", len(rows), err)
	}
	if out = billingCLI(t, "invoice", "show", first.ID, "--format", "html"); !strings.Contains(out, "<html") {
		t.Fatalf("html printed:\n%.300s", out)
	}

	// Pay in two parts: cents, then dollars with an overpayment, which
	// needs --credit.
	billingCLI(t, "invoice", "pay", first.ID, "--amount-cents", "1", "--ref", "wire-1")
	rest := fin.AmountDueCents - 1
	over := fmt.Sprintf("%d.%02d", (rest+100)/100, (rest+100)%100)
	if r := runCLI(t, "", "invoice", "pay", first.ID, "--amount", "1000000000", "--ref", "wire-2"); r.code != 1 ||
		!strings.Contains(r.stderr, fmt.Sprintf("more than the %d due", rest)) || !strings.Contains(r.stderr, "--credit") {
		t.Fatalf("overpayment without --credit: exit %d %q", r.code, r.stderr)
	}
	out = billingCLI(t, "invoice", "pay", first.ID, "--amount", over, "--ref", "wire-2", "--note", "thanks", "--credit")
	if !strings.Contains(out, "invoice "+first.ID+" is paid, $0.00 due") || !strings.Contains(out, "$1.00 to credit") {
		t.Fatalf("pay printed:\n%s", out)
	}
	if r := runCLI(t, "", "invoice", "pay", first.ID, "--amount", "1", "--ref", "wire-2"); r.code != 1 || !strings.Contains(r.stderr, "wire-2") {
		t.Fatalf("reused ref: exit %d %q", r.code, r.stderr)
	}

	out = billingCLI(t, "invoice", "void", second.ID, "--reason", "goodwill")
	if !strings.Contains(out, "voided invoice") || !strings.Contains(out, "goodwill") {
		t.Fatalf("void printed:\n%s", out)
	}
	billingCLI(t, "invoice", "finalize", third.ID)
	out = billingCLI(t, "invoice", "uncollectible", third.ID, "--reason", "customer gone")
	if !strings.Contains(out, "marked uncollectible invoice "+third.ID) || !strings.Contains(out, "uncollectible") {
		t.Fatalf("uncollectible printed:\n%s", out)
	}

	// The audit trail records each of these, in order, page by page.
	var trail []contract.AuditEntry
	if err := json.Unmarshal([]byte(billingCLI(t, "tenant", "audit", acme.ID, "--all", "--limit", "2", "-o", "json")), &trail); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for i, e := range trail {
		if e.Seq != uint64(i+1) {
			t.Fatalf("audit entry %d has seq %d: pages skipped or repeated entries", i, e.Seq)
		}
		actions = append(actions, e.Action)
	}
	joined := strings.Join(actions, " ")
	for _, want := range []string{"tenant.created", "invoice.finalized", "payment.recorded", "invoice.paid", "invoice.voided", "invoice.marked_uncollectible"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit trail lacks %s: %s", want, joined)
		}
	}
	out = billingCLI(t, "tenant", "audit", acme.ID, "--limit", "2")
	if !strings.Contains(out, "tenant.created") || !strings.Contains(out, "(more: --after 2, or --all)") || strings.Count(out, "\n") != 4 {
		t.Fatalf("audit page printed:\n%s", out)
	}
	out = billingCLI(t, "tenant", "audit", acme.ID, "--after", fmt.Sprint(len(trail)-1))
	if !strings.Contains(out, trail[len(trail)-1].Action) || strings.Contains(out, "more:") || !strings.Contains(out, "SEQ") {
		t.Fatalf("last audit page printed:\n%s", out)
	}
	if out := billingCLI(t, "tenant", "audit", acme.ID, "--all"); !strings.Contains(out, `reason="customer gone"`) || !strings.Contains(out, third.ID) {
		t.Errorf("audit table lacks the write-off and its reason:\n%s", out)
	}

	errs := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"invoice", "void", first.ID}, 1, "paid"},
		{[]string{"invoice", "uncollectible", first.ID}, 1, "only an open invoice"},
		{[]string{"tenant", "audit", acme.ID, "--limit", "-1"}, 2, "--limit"},
		{[]string{"tenant", "audit", "tn_missing"}, 1, "not found"},
		{[]string{"invoice", "show", "in_missing"}, 1, "not found"},
		{[]string{"invoice", "pay", first.ID, "--ref", "x"}, 2, "--amount"},
		{[]string{"invoice", "pay", first.ID, "--amount", "1.999", "--ref", "x"}, 2, "two decimals"},
		{[]string{"invoice", "pay", first.ID, "--amount", "1"}, 2, "--ref"},
		{[]string{"invoice", "pay", first.ID, "--amount", "1", "--amount-cents", "5", "--ref", "x"}, 2, "one of them"},
		{[]string{"invoice", "show", first.ID, "--format", "pdf"}, 2, "--format"},
		{[]string{"invoice", "finalize", first.ID, "--due", "soon"}, 2, "--due"},
		{[]string{"invoice", "list", "--status", "late"}, 2, `--status: "late" is unknown`},
	}
	for _, e := range errs {
		r := runCLI(t, "", e.args...)
		if r.code != e.code || !strings.Contains(r.stderr, e.want) {
			t.Errorf("aerolith %s: exit %d %q; want exit %d mentioning %q", strings.Join(e.args, " "), r.code, r.stderr, e.code, e.want)
		}
	}
}

// TestInvoiceListFirstPeriodHint: an empty draft list during a tenant's
// first period said nothing; it now says when that period ends.
func TestInvoiceListFirstPeriodHint(t *testing.T) {
	startBilling(t, func(c *service.Config) { c.Period = "1h" })
	var acme contract.Tenant
	out := billingCLI(t, "tenant", "create", "--org", "Acme", "--name", "acme", "--email", "ap@acme.example", "-o", "json")
	if err := json.Unmarshal([]byte(out), &acme); err != nil {
		t.Fatal(err)
	}
	_, end := ledger.Cycle{Every: time.Hour}.Containing(acme.CreatedAt)
	out = billingCLI(t, "invoice", "list", "--tenant", acme.ID, "--status", "draft")
	if want := "no draft invoices yet: the first billing period of tenant " + acme.ID + " ends at " + billingTime(end) + " UTC"; !strings.Contains(out, want) {
		t.Fatalf("empty draft list printed %q, want %q", out, want)
	}
	if out = billingCLI(t, "invoice", "list", "--status", "draft"); !strings.Contains(out, "billing period (1h0m0s) ends") {
		t.Fatalf("empty draft list of every tenant printed %q", out)
	}
	if out = billingCLI(t, "invoice", "list", "--tenant", acme.ID, "--status", "draft", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("-o json printed %q, want []", out)
	}
}
