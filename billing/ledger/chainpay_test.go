package ledger

import (
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/payment"
)

// usdcIntent is an intent for cents of inv in USDC at par.
func usdcIntent(t *testing.T, f *fixture, inv Invoice, cents uint64, ref string) payment.Intent {
	t.Helper()
	cfg := payment.DefaultConfig(payment.Mainnet)
	in, err := payment.NewIntent(cfg, inv.ID, inv.Tenant, cents,
		payment.Quote{Token: payment.USDC, Rate: payment.ParRate(payment.USDC), Recipient: "merchant", Reference: ref, Memo: "aerolith " + inv.ID}, f.now)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// seen is a finalized USDC transfer of units to the merchant at f's clock.
func seen(f *fixture, tx string, units uint64) payment.Observation {
	return payment.Observation{Chain: payment.Solana, TxID: tx, Token: payment.USDC, Amount: units, Recipient: "merchant",
		Finality: payment.Finalized, BlockTime: f.now}
}

func TestChainPaymentCommandsRoundTrip(t *testing.T) {
	f, inv := openInvoice(t)
	in := usdcIntent(t, f, inv, 1000, "ref1")
	for _, c := range []Command{
		CreatePaymentIntent{Header: f.h(), Intent: in},
		RecordChainPayment{Header: f.h(), IntentID: in.ID, Observation: seen(f, "sig1", 10_000_000)},
	} {
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", c.Kind(), err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Errorf("%s round trip:\n got %+v\nwant %+v", c.Kind(), back, c)
		}
		for i := 2; i < len(b); i++ {
			if _, err := Decode(b[:i]); err == nil {
				t.Errorf("%s: prefix of %d/%d bytes decoded", c.Kind(), i, len(b))
			}
		}
		if c.Kind().String() == "" || strings.HasPrefix(c.Kind().String(), "kind(") {
			t.Errorf("kind %d has no name", c.Kind())
		}
	}
}

// Paid, underpaid then topped up, overpaid into credit, late, rejected,
// failed and pending transfers, through the replicated commands.
func TestChainPaymentOutcomes(t *testing.T) {
	f, inv := openInvoice(t) // 1000 cents due
	in := usdcIntent(t, f, inv, 1000, "ref1")
	r := f.ok(CreatePaymentIntent{Header: f.h(), Intent: in})
	if r.PaymentIntent.Status != IntentPending {
		t.Fatalf("created %+v", r.PaymentIntent)
	}
	if r := f.ok(CreatePaymentIntent{Header: f.h(), Intent: in}); !r.Unchanged {
		t.Fatal("re-proposed intent was not unchanged")
	}

	// Not final: refused, nothing recorded.
	conf := seen(f, "sig0", 10_000_000)
	conf.Finality = payment.Confirmed
	f.fail(RecordChainPayment{Header: f.h(), IntentID: in.ID, Observation: conf}, ErrState, "not final")

	// Wrong token and a failed transaction: kept with the reason.
	wrong := seen(f, "sig-wrong", 10_000_000)
	wrong.Token = payment.SOL
	r = f.ok(RecordChainPayment{Header: f.h(), IntentID: in.ID, Observation: wrong})
	if p := r.PaymentIntent; p.Status != IntentPending || len(p.Transfers) != 1 || p.Transfers[0].Outcome.Status != payment.StatusRejected ||
		!strings.Contains(p.Transfers[0].Outcome.Reason, "paid in SOL") || r.Payment != nil {
		t.Fatalf("wrong token: %+v / %+v", r.PaymentIntent, r.Payment)
	}
	failed := seen(f, "sig-failed", 10_000_000)
	failed.Failed, failed.Rejected = true, "transaction failed on chain: InstructionError"
	if r := f.ok(RecordChainPayment{Header: f.h(), IntentID: in.ID, Observation: failed}); r.PaymentIntent.Transfers[1].Outcome.Status != payment.StatusFailed {
		t.Fatalf("failed: %+v", r.PaymentIntent.Transfers[1])
	}
	if f.invoice(inv.ID).AmountPaidCents != 0 {
		t.Fatal("a rejected transfer paid the invoice")
	}

	// Underpaid: the invoice stays open for the rest.
	r = f.ok(RecordChainPayment{Header: f.h(), IntentID: in.ID, Observation: seen(f, "sig1", 4_000_000)})
	if r.PaymentIntent.Status != IntentUnderpaid || r.Invoice.AmountDueCents != 600 || r.Invoice.Status != InvoiceOpen ||
		r.Payment.Method != "solana-usdc" || r.Payment.ExternalRef != "solana:sig1" {
		t.Fatalf("underpaid: %+v / %+v / %+v", r.PaymentIntent, r.Invoice, r.Payment)
	}
	// The same transaction again: unchanged.
	if r := f.ok(RecordChainPayment{Header: f.h(), IntentID: in.ID, Observation: seen(f, "sig1", 4_000_000)}); !r.Unchanged {
		t.Fatal("replayed transaction was not unchanged")
	}
	// The rest, late (after the quote expired, within the window), and
	// more than asked: the excess is credit.
	f.now = in.Expires.Add(2 * time.Hour)
	r = f.ok(RecordChainPayment{Header: f.h(), IntentID: in.ID, Observation: seen(f, "sig2", 8_000_000)})
	if r.PaymentIntent.Status != IntentOverpaid || r.PaymentIntent.PaidCents != 1200 || r.PaymentIntent.CreditedCents != 200 ||
		r.Invoice.Status != InvoicePaid || r.Tenant == nil || r.Tenant.CreditCents != 200 || !r.PaymentIntent.Transfers[3].Outcome.Late {
		t.Fatalf("late overpayment: %+v / %+v / %+v", r.PaymentIntent, r.Invoice, r.Tenant)
	}
	var pending []PaymentIntent
	f.view(func(tx *bolt.Tx) (err error) { pending, err = PendingPaymentIntents(tx); return })
	if len(pending) != 0 {
		t.Fatalf("a paid intent is pending: %+v", pending)
	}
	// A further transfer to the paid intent is all credit.
	r = f.ok(RecordChainPayment{Header: f.h(), IntentID: in.ID, Observation: seen(f, "sig3", 1_000_000)})
	if r.Payment.InvoiceID != "" || r.Payment.CreditedCents != 100 || r.Tenant.CreditCents != 300 {
		t.Fatalf("transfer to a paid intent: %+v / %+v", r.Payment, r.Tenant)
	}
	// After the monitoring window: rejected, nothing credited.
	f.now = in.MonitorUntil.Add(time.Hour)
	r = f.ok(RecordChainPayment{Header: f.h(), IntentID: in.ID, Observation: seen(f, "sig4", 10_000_000)})
	if o := r.PaymentIntent.Transfers[len(r.PaymentIntent.Transfers)-1].Outcome; o.Status != payment.StatusRejected || r.Payment != nil {
		t.Fatalf("after the window: %+v", o)
	}
	if f.tenant(inv.Tenant).CreditCents != 300 {
		t.Fatal("a rejected transfer changed the credit")
	}
	var list []PaymentIntent
	f.view(func(tx *bolt.Tx) (err error) { list, err = PaymentIntents(tx, inv.Tenant); return })
	if len(list) != 1 || len(list[0].Transfers) != 6 {
		t.Fatalf("intents of the tenant: %+v", list)
	}
}

// One transaction settles at most one intent, ever; a reference is one
// intent's.
func TestChainTransactionSettlesOnce(t *testing.T) {
	f, inv := openInvoice(t)
	a := usdcIntent(t, f, inv, 500, "ref-a")
	b := usdcIntent(t, f, inv, 500, "ref-b")
	f.ok(CreatePaymentIntent{Header: f.h(), Intent: a})
	f.ok(CreatePaymentIntent{Header: f.h(), Intent: b})
	reuse := usdcIntent(t, f, inv, 500, "ref-a")
	f.fail(CreatePaymentIntent{Header: f.h(), Intent: reuse}, ErrConflict, "already the reference")

	f.ok(RecordChainPayment{Header: f.h(), IntentID: a.ID, Observation: seen(f, "sig1", 5_000_000)})
	f.fail(RecordChainPayment{Header: f.h(), IntentID: b.ID, Observation: seen(f, "sig1", 5_000_000)}, ErrConflict, "already recorded for payment intent "+`"`+a.ID)
	if got := f.invoice(inv.ID).AmountPaidCents; got != 500 {
		t.Fatalf("paid %d, want 500 (one settlement)", got)
	}
	var owner string
	f.view(func(tx *bolt.Tx) error { owner, _ = ChainTransaction(tx, payment.Solana, "sig1"); return nil })
	if owner != a.ID {
		t.Fatalf("sig1 recorded for %q", owner)
	}
	// A transaction recorded as a manual payment's reference cannot
	// settle an intent either.
	f.ok(pay(f.h(), "p-manual", inv.ID, 100, "solana:sig9"))
	f.fail(RecordChainPayment{Header: f.h(), IntentID: b.ID, Observation: seen(f, "sig9", 5_000_000)}, ErrConflict, "external_ref")
}

// Paying an overdue invoice on chain resumes a tenant suspended for
// dunning.
func TestChainPaymentResumesSuspendedTenant(t *testing.T) {
	f, inv := openInvoice(t)
	in := usdcIntent(t, f, inv, 1000, "ref1")
	f.ok(CreatePaymentIntent{Header: f.h(), Intent: in})
	f.now = inv.DueAt.Add(4 * 24 * time.Hour)
	f.actor = "scheduler"
	f.ok(SuspendTenant{Header: f.h(), Tenant: inv.Tenant, Reason: ReasonDunning})
	f.actor = "watcher"
	// The first intent's monitoring window is over by now: the tenant
	// asks for a fresh one.
	fresh := usdcIntent(t, f, inv, 1000, "ref2")
	f.ok(CreatePaymentIntent{Header: f.h(), Intent: fresh})
	r := f.ok(RecordChainPayment{Header: f.h(), IntentID: fresh.ID, Observation: seen(f, "sig1", 10_000_000)})
	if r.Tenant == nil || r.Tenant.Status != StatusActive || r.Invoice.Status != InvoicePaid {
		t.Fatalf("after paying the overdue invoice: %+v / %+v", r.Tenant, r.Invoice)
	}
}

func TestCreatePaymentIntentErrors(t *testing.T) {
	f, inv := openInvoice(t)
	base := usdcIntent(t, f, inv, 1000, "ref1")
	tests := []struct {
		name string
		mod  func(*payment.Intent)
		want error
		msg  string
	}{
		{"id", func(in *payment.Intent) { in.ID = "x" }, ErrInvalid, "id"},
		{"token", func(in *payment.Intent) { in.Token = "BTC" }, ErrInvalid, "token"},
		{"chain", func(in *payment.Intent) { in.Chain = payment.Tron }, ErrInvalid, "chain"},
		{"amount", func(in *payment.Intent) { in.Amount++ }, ErrInvalid, "amount"},
		{"more than due", func(in *payment.Intent) { in.AmountCents, in.Amount = 1001, 10_010_000 }, ErrInvalid, "more than the 1000 due"},
		{"tenant", func(in *payment.Intent) { in.TenantID = "t2" }, ErrInvalid, "belongs to tenant"},
		{"invoice", func(in *payment.Intent) { in.InvoiceID = "inv_nope" }, ErrNotFound, "inv_nope"},
		{"reference", func(in *payment.Intent) { in.Reference = "" }, ErrInvalid, "reference"},
		{"times", func(in *payment.Intent) { in.MonitorUntil = in.Created }, ErrInvalid, "times"},
	}
	for _, tc := range tests {
		in := base
		tc.mod(&in)
		f.fail(CreatePaymentIntent{Header: f.h(), Intent: in}, tc.want, tc.msg)
	}
	f.ok(CreatePaymentIntent{Header: f.h(), Intent: base})
	changed := base
	changed.Memo = "other"
	f.fail(CreatePaymentIntent{Header: f.h(), Intent: changed}, ErrConflict, "already exists")
	f.fail(RecordChainPayment{Header: f.h(), IntentID: "pi_nope", Observation: seen(f, "s", 1)}, ErrNotFound, "pi_nope")
	moon := seen(f, "s", 1)
	moon.Chain = "moon"
	f.fail(RecordChainPayment{Header: f.h(), IntentID: base.ID, Observation: moon}, ErrInvalid, "chain")
	// A transfer on the wrong chain is recorded, rejected with the reason.
	tron := seen(f, "s", 1)
	tron.Chain, tron.Token = payment.Tron, payment.USDT
	r := f.ok(RecordChainPayment{Header: f.h(), IntentID: base.ID, Observation: tron})
	if o := r.PaymentIntent.Transfers[0].Outcome; o.Status != payment.StatusRejected || !strings.Contains(o.Reason, "paid on tron") || r.Payment != nil {
		t.Fatalf("wrong chain: %+v", o)
	}
}

// chainPaySeeds are the chain payment commands of allCommands (round trip
// and FuzzApply seeds).
func chainPaySeeds(h Header) []Command {
	at := time.Unix(0, h.Time).UTC()
	in := payment.Intent{ID: "pi_aaaaaaaaaaaaaaaaaaaaaaaaaa", InvoiceID: "inv_t1_1767225600", TenantID: "t1", Chain: payment.Solana,
		Token: payment.USDC, AmountCents: 1000, Amount: 10_000_000, Rate: payment.ParRate(payment.USDC), Recipient: "merchant",
		Reference: "ref1", Memo: "aerolith", Created: at, Expires: at.Add(15 * time.Minute), MonitorUntil: at.Add(24*time.Hour + 15*time.Minute)}
	return []Command{
		ExpirePaymentIntent{h, in.ID},
		CreatePaymentIntent{h, in},
		RecordChainPayment{h, in.ID, payment.Observation{Chain: payment.Solana, TxID: "sig1", Token: payment.USDC, Amount: 10_000_000,
			Recipient: "merchant", Finality: payment.Finalized, BlockTime: at.Add(time.Minute)}},
	}
}

func TestExpirePaymentIntent(t *testing.T) {
	f, inv := openInvoice(t)
	unpaid := usdcIntent(t, f, inv, 500, "ref-a")
	partial := usdcIntent(t, f, inv, 500, "ref-b")
	f.ok(CreatePaymentIntent{Header: f.h(), Intent: unpaid})
	f.ok(CreatePaymentIntent{Header: f.h(), Intent: partial})
	f.ok(RecordChainPayment{Header: f.h(), IntentID: partial.ID, Observation: seen(f, "sig1", 1_000_000)})
	f.fail(ExpirePaymentIntent{Header: f.h(), IntentID: unpaid.ID}, ErrState, "watched until")
	f.now = unpaid.MonitorUntil.Add(time.Second)
	if p := f.ok(ExpirePaymentIntent{Header: f.h(), IntentID: unpaid.ID}).PaymentIntent; p.Status != IntentExpired {
		t.Fatalf("expired unpaid intent: %+v", p)
	}
	if p := f.ok(ExpirePaymentIntent{Header: f.h(), IntentID: partial.ID}).PaymentIntent; p.Status != IntentUnderpaid {
		t.Fatalf("expired underpaid intent: %+v", p)
	}
	if r := f.ok(ExpirePaymentIntent{Header: f.h(), IntentID: unpaid.ID}); !r.Unchanged {
		t.Fatal("expiring twice changed something")
	}
	var pending []PaymentIntent
	f.view(func(tx *bolt.Tx) (err error) { pending, err = PendingPaymentIntents(tx); return })
	if len(pending) != 0 {
		t.Fatalf("pending after expiry: %+v", pending)
	}
	f.fail(ExpirePaymentIntent{Header: f.h(), IntentID: "pi_nope"}, ErrNotFound, "pi_nope")
}
