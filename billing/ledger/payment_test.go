package ledger

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/contract"
)

// openInvoice creates tenant t1 (starter, $10/month) and finalizes its
// January invoice of 1000 cents, due Feb 15.
func openInvoice(t *testing.T) (*fixture, Invoice) {
	t.Helper()
	f := newFixture(t)
	f.createTenant("t1", "starter")
	f.now = feb.Add(time.Hour)
	id := f.ok(closeCmd(f.h(), "t1", t0, feb, t0, feb)).Invoice.ID
	inv := f.ok(FinalizeInvoice{Header: f.h(), InvoiceID: id, DueAt: feb.Add(14 * 24 * time.Hour).UnixNano()}).Invoice
	if inv.TotalCents != 1000 {
		t.Fatalf("january total = %d, want 1000", inv.TotalCents)
	}
	return f, *inv
}

func pay(h Header, id, invoice string, cents int64, ref string) RecordPayment {
	return RecordPayment{Header: h, PaymentID: id, InvoiceID: invoice, AmountCents: cents, Method: "manual", ExternalRef: ref}
}

func TestPartialAndOverpayment(t *testing.T) {
	f, inv := openInvoice(t)
	r := f.ok(pay(f.h(), "p1", inv.ID, 400, "bank-1"))
	if r.Invoice.Status != InvoiceOpen || r.Invoice.AmountPaidCents != 400 || r.Invoice.AmountDueCents != 600 || r.Payment.AppliedCents != 400 {
		t.Fatalf("partial payment = %+v / %+v", r.Invoice, r.Payment)
	}
	over := pay(f.h(), "p2", inv.ID, 1000, "bank-2")
	over.Credit = true
	r = f.ok(over)
	if r.Invoice.Status != InvoicePaid || r.Invoice.AmountDueCents != 0 || r.Payment.AppliedCents != 600 || r.Payment.CreditedCents != 400 {
		t.Fatalf("overpayment = %+v / %+v", r.Invoice, r.Payment)
	}
	if r.Tenant == nil || r.Tenant.CreditCents != 400 {
		t.Fatalf("credit after overpayment = %+v", r.Tenant)
	}
	// The credit is applied to the next invoice.
	f.now = mar.Add(time.Hour)
	next := f.ok(closeCmd(f.h(), "t1", feb, mar, feb, mar)).Invoice
	if next.SubtotalCents != 1000 || next.CreditAppliedCents != 400 || next.TotalCents != 600 {
		t.Fatalf("february draft preview = %+v", next)
	}
	if f.tenant("t1").CreditCents != 400 {
		t.Fatal("a draft consumed credit")
	}
	fin := f.ok(FinalizeInvoice{Header: f.h(), InvoiceID: next.ID, DueAt: f.now.UnixNano()}).Invoice
	last := fin.Lines[len(fin.Lines)-1]
	if fin.TotalCents != 600 || last.Kind != LineCredit || last.Cents != -400 {
		t.Fatalf("finalized = %+v", fin)
	}
	if got := f.tenant("t1").CreditCents; got != 0 {
		t.Fatalf("credit after use = %d", got)
	}
	var ps []Payment
	f.view(func(tx *bolt.Tx) (err error) { ps, err = Payments(tx, "t1"); return })
	if len(ps) != 2 || ps[0].ID != "p1" || ps[1].ID != "p2" {
		t.Fatalf("payments = %+v", ps)
	}
}

func TestCreditCoversWholeInvoice(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "starter")
	f.ok(RecordPayment{Header: f.h(), PaymentID: "p0", Tenant: "t1", AmountCents: 2500, Method: "admin", ExternalRef: "prepay"})
	f.now = feb.Add(time.Hour)
	id := f.ok(closeCmd(f.h(), "t1", t0, feb, t0, feb)).Invoice.ID
	inv := f.ok(FinalizeInvoice{Header: f.h(), InvoiceID: id, DueAt: f.now.UnixNano()}).Invoice
	if inv.Status != InvoicePaid || inv.TotalCents != 0 || inv.CreditAppliedCents != 1000 || !inv.PaidAt.Equal(f.now) {
		t.Fatalf("invoice paid by credit = %+v", inv)
	}
	if got := f.tenant("t1").CreditCents; got != 1500 {
		t.Fatalf("credit left = %d, want 1500", got)
	}
	f.fail(VoidInvoice{Header: f.h(), InvoiceID: id}, ErrState, "is paid")
}

func TestVoidReturnsAppliedCredit(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "starter")
	f.ok(RecordPayment{Header: f.h(), PaymentID: "p0", Tenant: "t1", AmountCents: 400, Method: "admin", ExternalRef: "prepay"})
	f.now = feb.Add(time.Hour)
	id := f.ok(closeCmd(f.h(), "t1", t0, feb, t0, feb)).Invoice.ID
	inv := f.ok(FinalizeInvoice{Header: f.h(), InvoiceID: id, DueAt: f.now.UnixNano()}).Invoice
	if inv.Status != InvoiceOpen || inv.CreditAppliedCents != 400 || inv.AmountDueCents != 600 || f.tenant("t1").CreditCents != 0 {
		t.Fatalf("invoice with credit = %+v", inv)
	}
	r := f.ok(VoidInvoice{Header: f.h(), InvoiceID: id})
	if r.Tenant.CreditCents != 400 {
		t.Fatalf("credit after void = %d, want 400 back", r.Tenant.CreditCents)
	}
}

func TestVoidRefundsPayments(t *testing.T) {
	f, inv := openInvoice(t)
	f.ok(pay(f.h(), "p1", inv.ID, 300, "r1"))
	r := f.ok(VoidInvoice{Header: f.h(), InvoiceID: inv.ID, Reason: "billing error"})
	if r.Invoice.Status != InvoiceVoid || r.Invoice.AmountDueCents != 0 || r.Tenant == nil || r.Tenant.CreditCents != 300 {
		t.Fatalf("void = %+v, tenant %+v", r.Invoice, r.Tenant)
	}
	if e := f.lastAudit("t1"); e.Action != "invoice.voided" || e.Details["credited_cents"] != "300" || e.Details["reason"] != "billing error" {
		t.Fatalf("audit = %+v", e)
	}
	if r := f.ok(VoidInvoice{Header: f.h(), InvoiceID: inv.ID}); !r.Unchanged {
		t.Fatal("voiding twice should be unchanged")
	}
}

func TestPaymentErrors(t *testing.T) {
	f, inv := openInvoice(t)
	f.createTenant("t2", "free")
	f.ok(pay(f.h(), "p1", inv.ID, 100, "ref-1"))
	tests := []struct {
		name string
		cmd  RecordPayment
		want error
		msg  string
	}{
		{"zero", pay(f.h(), "p2", inv.ID, 0, "ref-2"), ErrInvalid, "amount_cents: must be positive"},
		{"huge", pay(f.h(), "p2", inv.ID, MaxPaymentCents+1, "ref-2"), ErrInvalid, "amount_cents"},
		{"no ref", pay(f.h(), "p2", inv.ID, 1, ""), ErrInvalid, "external_ref: required"},
		{"no method", RecordPayment{Header: f.h(), PaymentID: "p2", InvoiceID: inv.ID, AmountCents: 1, ExternalRef: "x"}, ErrInvalid, "method: required"},
		{"ref reused", pay(f.h(), "p2", inv.ID, 1, "ref-1"), ErrConflict, `external_ref: "ref-1" is already recorded as payment "p1"`},
		{"id reused", pay(f.h(), "p1", inv.ID, 5, "ref-9"), ErrConflict, "payment_id"},
		{"no target", RecordPayment{Header: f.h(), PaymentID: "p2", AmountCents: 1, Method: "m", ExternalRef: "x"}, ErrInvalid, "tenant_id: required"},
		{"wrong tenant", RecordPayment{Header: f.h(), PaymentID: "p2", Tenant: "t2", InvoiceID: inv.ID, AmountCents: 1, Method: "m", ExternalRef: "x"}, ErrInvalid, `belongs to tenant "t1"`},
		{"unknown invoice", pay(f.h(), "p2", "in_nope", 1, "x"), ErrNotFound, "in_nope"},
		{"unknown tenant", RecordPayment{Header: f.h(), PaymentID: "p2", Tenant: "ghost", AmountCents: 1, Method: "m", ExternalRef: "x"}, ErrNotFound, "ghost"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.fail(tc.cmd, tc.want, tc.msg)
		})
	}
	f.t = t
	// The identical proposal replayed returns the recorded payment.
	h := f.h()
	f.ok(pay(h, "p9", inv.ID, 1, "ref-9"))
	if r := f.ok(pay(h, "p9", inv.ID, 1, "ref-9")); !r.Unchanged || r.Payment.ID != "p9" {
		t.Fatalf("replay = %+v", r)
	}
}

func TestDunning(t *testing.T) {
	f, inv := openInvoice(t)
	grace := 3 * 24 * time.Hour
	overdue := func() []TenantInvoice {
		var o []TenantInvoice
		f.view(func(tx *bolt.Tx) (err error) { o, err = Overdue(tx, f.now, grace); return })
		return o
	}
	f.now = inv.DueAt.Add(grace - time.Minute)
	if o := overdue(); len(o) != 0 {
		t.Fatalf("overdue inside grace = %+v", o)
	}
	f.now = inv.DueAt.Add(grace + time.Minute)
	o := overdue()
	if len(o) != 1 || o[0].Tenant != "t1" || o[0].InvoiceID != inv.ID || o[0].AmountDueCents != 1000 {
		t.Fatalf("overdue = %+v", o)
	}
	f.actor = "scheduler"
	r := f.ok(SuspendTenant{Header: f.h(), Tenant: "t1", Reason: ReasonDunning})
	if r.Tenant.Status != StatusSuspended || r.Tenant.SuspendReason != ReasonDunning {
		t.Fatalf("suspended = %+v", r.Tenant)
	}
	if o := overdue(); len(o) != 0 {
		t.Fatalf("suspended tenants are not listed again: %+v", o)
	}
	var p contract.Policy
	f.view(func(tx *bolt.Tx) (err error) { p, err = GetPolicy(tx, "t1"); return })
	if p.Status != contract.StatusSuspended {
		t.Fatalf("policy status = %s", p.Status)
	}
	// A partial payment leaves it past due: still suspended.
	f.actor = "admin"
	r = f.ok(pay(f.h(), "p1", inv.ID, 500, "r1"))
	if r.Tenant != nil || f.tenant("t1").Status != StatusSuspended {
		t.Fatal("a partial payment resumed the tenant")
	}
	r = f.ok(pay(f.h(), "p2", inv.ID, 500, "r2"))
	if r.Tenant == nil || r.Tenant.Status != StatusActive {
		t.Fatalf("clearing payment did not resume: %+v", r.Tenant)
	}
	es := f.audit("t1")
	if e := es[len(es)-1]; e.Action != "tenant.resumed" || e.Details["suspend_reason"] != ReasonDunning {
		t.Fatalf("audit = %+v", e)
	}
}

func TestManualSuspensionSurvivesPayment(t *testing.T) {
	f, inv := openInvoice(t)
	f.ok(SuspendTenant{Header: f.h(), Tenant: "t1", Reason: "fraud review"})
	f.now = inv.DueAt.Add(time.Hour)
	f.ok(pay(f.h(), "p1", inv.ID, 1000, "r1"))
	if tn := f.tenant("t1"); tn.Status != StatusSuspended || tn.SuspendReason != "fraud review" {
		t.Fatalf("tenant = %+v, want still suspended by the admin", tn)
	}
}

func TestUncollectibleStillPayable(t *testing.T) {
	f, inv := openInvoice(t)
	f.ok(MarkUncollectible{Header: f.h(), InvoiceID: inv.ID})
	r := f.ok(pay(f.h(), "p1", inv.ID, 1000, "late-wire"))
	if r.Invoice.Status != InvoicePaid {
		t.Fatalf("paid uncollectible = %+v", r.Invoice)
	}
}

// TestManualResumeWaivesDunning: an administrator who resumes a tenant
// suspended for dunning is not overruled by the next scheduler pass. The
// invoices past due at the resumption no longer suspend it (Overdue skips
// them and a dunning SuspendTenant naming only them is refused); an invoice
// that falls past due later does.
func TestManualResumeWaivesDunning(t *testing.T) {
	grace := 3 * 24 * time.Hour
	tests := []struct {
		name   string
		reason string // the suspension before the resumption
	}{
		{"suspended for dunning", ReasonDunning},
		{"suspended by an administrator", "fraud review"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, inv := openInvoice(t)
			overdue := func() []TenantInvoice {
				t.Helper()
				var o []TenantInvoice
				f.view(func(tx *bolt.Tx) (err error) { o, err = Overdue(tx, f.now, grace); return })
				return o
			}
			f.now = inv.DueAt.Add(grace + time.Minute)
			f.actor = "scheduler"
			f.ok(SuspendTenant{Header: f.h(), Tenant: "t1", Reason: tt.reason})
			f.actor = "admin"
			f.advance(time.Hour)
			if r := f.ok(ResumeTenant{Header: f.h(), Tenant: "t1", Reason: "promised to pay"}); r.Tenant.Status != StatusActive {
				t.Fatalf("resumed tenant = %+v", r.Tenant)
			}
			e := f.lastAudit("t1")
			if e.Action != "tenant.resumed" || e.Details["dunning_waived"] != inv.ID {
				t.Fatalf("audit of the resumption = %+v, want dunning_waived %s", e, inv.ID)
			}
			f.advance(time.Hour)
			if o := overdue(); len(o) != 0 {
				t.Fatalf("overdue after a manual resumption = %+v, want none", o)
			}
			f.actor = "scheduler"
			f.fail(SuspendTenant{Header: f.h(), Tenant: "t1", Reason: ReasonDunning}, ErrState, "no open invoice past due")
			if got := f.tenant("t1").Status; got != StatusActive {
				t.Fatalf("status = %s, want active", got)
			}

			// February's invoice falls past due later: dunning applies again.
			f.actor = "admin"
			f.now = mar.Add(time.Hour)
			id := f.ok(closeCmd(f.h(), "t1", feb, mar, feb, mar)).Invoice.ID
			next := f.ok(FinalizeInvoice{Header: f.h(), InvoiceID: id, DueAt: mar.Add(14 * 24 * time.Hour).UnixNano()}).Invoice
			f.now = next.DueAt.Add(grace + time.Minute)
			o := overdue()
			if len(o) != 1 || o[0].InvoiceID != next.ID {
				t.Fatalf("overdue = %+v, want only %s", o, next.ID)
			}
			f.actor = "scheduler"
			f.ok(SuspendTenant{Header: f.h(), Tenant: "t1", Reason: ReasonDunning})
			// Paying the new invoice resumes the tenant: the waived one
			// does not hold it suspended.
			f.actor = "admin"
			if r := f.ok(pay(f.h(), "p1", next.ID, next.AmountDueCents, "r1")); r.Tenant == nil || r.Tenant.Status != StatusActive {
				t.Fatalf("payment of the new invoice: tenant %+v, want active", r.Tenant)
			}
		})
	}
}

// TestOverpaymentNeedsCredit: a payment above the amount due used to be
// accepted and credited without a word ($1,000,000,000 against $5.30).
func TestOverpaymentNeedsCredit(t *testing.T) {
	f, inv := openInvoice(t)
	f.fail(pay(f.h(), "p1", inv.ID, 100_000_000_000, "bank-1"), ErrInvalid,
		"amount_cents: 100000000000 is more than the 1000 due on invoice "+inv.ID, `"credit": true`, "--credit")
	if got := f.invoice(inv.ID); got.AmountDueCents != 1000 || f.tenant("t1").CreditCents != 0 {
		t.Fatalf("a refused overpayment changed the invoice (%+v) or the credit", got)
	}
	f.ok(pay(f.h(), "p2", inv.ID, 1000, "bank-2")) // exactly the amount due
	if e := f.lastAudit("t1"); e.Action != "invoice.paid" {
		t.Fatalf("last audit after an exact payment = %+v", e)
	}

	f2, inv2 := openInvoice(t)
	p := pay(f2.h(), "p1", inv2.ID, 1500, "bank-1")
	p.Credit = true
	r := f2.ok(p)
	if r.Payment.AppliedCents != 1000 || r.Payment.CreditedCents != 500 || r.Tenant.CreditCents != 500 {
		t.Fatalf("prepayment = %+v, tenant %+v", r.Payment, r.Tenant)
	}
	var credited *AuditEntry
	for _, e := range f2.audit("t1") {
		if e.Action == "tenant.credited" {
			credited = &e
		}
	}
	if credited == nil || credited.Details["credited_cents"] != "500" || credited.Details["payment_id"] != "p1" ||
		credited.Details["source"] != "overpayment of invoice "+inv2.ID || credited.Details["credit_cents"] != "500" {
		t.Fatalf("tenant.credited audit = %+v", credited)
	}
}

// TestLegacyPaymentFormat: a payment of the first command format (before
// the credit flag) is applied as it was then, so replaying an old log
// reaches the same state.
func TestLegacyPaymentFormat(t *testing.T) {
	f, inv := openInvoice(t)
	raw, err := Encode(pay(f.h(), "p1", inv.ID, 1500, "bank-1"))
	if err != nil {
		t.Fatal(err)
	}
	if raw[0] != commandFormat || raw[len(raw)-1] != 0 {
		t.Fatalf("encoded payment = %v, want format %d ending with the credit flag", raw, commandFormat)
	}
	v1 := append([]byte{commandFormatV1}, raw[1:len(raw)-1]...)
	c, err := Decode(v1)
	if err != nil {
		t.Fatal(err)
	}
	if p := c.(RecordPayment); !p.legacy || p.Credit {
		t.Fatalf("decoded format 1 payment = %+v, want legacy", p)
	}
	r := f.applyRaw(v1)
	if r.Err != nil || r.Payment.CreditedCents != 500 {
		t.Fatalf("format 1 overpayment = %+v, %v; want 500 credited as before", r.Payment, r.Err)
	}
	// A format 2 command without the flag is truncated, not legacy.
	if _, err := Decode(raw[:len(raw)-1]); err == nil {
		t.Fatal("format 2 payment without its credit flag decoded")
	}
}
