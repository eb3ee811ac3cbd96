package service

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/tron"
	"github.com/aerolithdb/aerolith/billing/payment/tron/trongridtest"
	"github.com/aerolithdb/aerolith/internal/testwait"
)

// suspendedForDunning makes a tenant with usage and waits until its
// invoice is open and overdue and the tenant suspended for it.
func suspendedForDunning(t *testing.T, s *Service, admin *client.Client) (contract.Tenant, contract.Invoice) {
	t.Helper()
	ctx := context.Background()
	ten, err := admin.CreateTenant(ctx, client.TenantRequest{Organization: "Acme", Name: "acme", Tier: "starter", Email: "ap@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	enr, err := admin.RegisterCluster(ctx, "", []string{ten.ID})
	if err != nil {
		t.Fatal(err)
	}
	agent, err := client.New(client.Config{URL: "http://" + s.HTTPAddr(), Key: enr.EnrollmentToken})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := agent.SendUsage(ctx, []client.UsageRecord{{NodeID: "n1", Seq: 1, TenantID: ten.ID, Start: now, End: now.Add(time.Second), Reads: 100, Writes: 10}}); err != nil {
		t.Fatal(err)
	}
	var open contract.Invoice
	testwait.For(t, time.Minute, "suspended for an unpaid invoice", func() error {
		tn, err := admin.GetTenant(ctx, ten.ID)
		if err != nil {
			return err
		}
		invs, err := admin.ListInvoices(ctx, client.InvoiceQuery{TenantID: ten.ID, Status: "open"})
		if err != nil {
			return err
		}
		if tn.SuspendReason != ledger.ReasonDunning || len(invs) != 1 {
			return fmt.Errorf("tenant %s (%s), %d open invoices", tn.Status, tn.SuspendReason, len(invs))
		}
		open = invs[0]
		return nil
	})
	return ten, open
}

// TestServicePaysOnChainTron: `billing serve --tron-merchant
// --tron-api-url --tron-usdt-contract` runs the watcher on Tron too. A
// tenant suspended for an unpaid invoice pays it with a real signed
// USDT-TRC20 transfer of the intent's unique amount to the fake
// TronGrid; nothing is recorded until the block is solidified, then —
// with no one calling confirm — the invoice is paid and the tenant
// resumed. A second intent cannot take the same amount while the first
// is open.
func TestServicePaysOnChainTron(t *testing.T) {
	node := trongridtest.New()
	defer node.Close()
	usdtContract := trongridtest.Addr(trongridtest.Key("usdt contract"))
	merchant := trongridtest.Addr(trongridtest.Key("merchant"))
	payer := trongridtest.Key("payer")
	node.AddToken(usdtContract, "USDT")
	node.Fund(trongridtest.Addr(payer), 1_000_000_000)
	node.Mint(usdtContract, trongridtest.Addr(payer), big.NewInt(1_000_000_000_000))
	s, admin := startService(t, t.TempDir(), func(c *Config) {
		c.Payment.TronAPIURL, c.Payment.TronMerchant, c.Payment.TronUSDT = node.URL(), merchant.String(), usdtContract.String()
		c.Payment.WatchInterval = 50 * time.Millisecond
	})
	ctx := context.Background()
	ten, open := suspendedForDunning(t, s, admin)

	pc, err := s.cfg.PaymentSettings()
	if err != nil {
		t.Fatal(err)
	}
	q := payment.Quote{Token: payment.USDT, Rate: payment.ParRate(payment.USDT), Recipient: merchant.String(), Reference: tron.NewReference()}
	newIntent := func() payment.Intent {
		t.Helper()
		in, err := payment.NewIntent(pc, open.ID, ten.ID, uint64(open.AmountDueCents), q, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		q.Reference = tron.NewReference()
		return in
	}
	in := newIntent()
	quoted := in.Amount
	if err := tron.UniqueIntent(&in, nil); err != nil {
		t.Fatal(err)
	}
	if in.Amount != quoted+1 {
		t.Fatalf("unique amount %d, want the quote %d plus 1", in.Amount, quoted)
	}
	mustPropose(t, s.store, ledger.CreatePaymentIntent{Header: ledger.Header{Time: time.Now().UnixNano(), Actor: "test"}, Intent: in})

	// The same amount for another open intent is refused by the ledger.
	twin := newIntent()
	twin.Amount = in.Amount
	_, err = propose(ctx, s.store, ledger.CreatePaymentIntent{Header: ledger.Header{Time: time.Now().UnixNano(), Actor: "test"}, Intent: twin})
	if !errors.Is(err, ledger.ErrConflict) {
		t.Fatalf("second intent with amount %d: %v, want ErrConflict", in.Amount, err)
	}

	// Paid, in a block, not yet solidified: the watcher waits.
	id := node.SendTRC20(payer, usdtContract, merchant, new(big.Int).SetUint64(in.Amount))
	if node.Solid() >= node.Head() {
		t.Fatalf("setup: the transfer's block %d is already solidified", node.Head())
	}
	v, err := tron.NewPaymentVerifier(mustTronSettings(t, pc))
	if err != nil {
		t.Fatal(err)
	}
	if ob, err := v.VerifyTx(ctx, in, id); err != nil || ob.Finality != payment.Confirmed || payment.Assess(in, ob).Status != payment.StatusPending {
		t.Fatalf("before solidification: %+v, %v; want confirmed, pending", ob, err)
	}
	if obs, err := v.Verify(ctx, in); err != nil || len(obs) != 0 {
		t.Fatalf("before solidification the watcher's search finds %+v, %v; want nothing", obs, err)
	}
	if inv, err := admin.GetInvoice(ctx, open.ID); err != nil || inv.Status != contract.InvoiceOpen {
		t.Fatalf("before solidification: invoice %+v, %v", inv.Status, err)
	}
	node.Solidify()
	testwait.For(t, time.Minute, "invoice paid on chain, tenant resumed", func() error {
		inv, err := admin.GetInvoice(ctx, open.ID)
		if err != nil {
			return err
		}
		tn, err := admin.GetTenant(ctx, ten.ID)
		if err != nil {
			return err
		}
		if inv.Status != contract.InvoicePaid || tn.Status != contract.StatusActive {
			return fmt.Errorf("invoice %s, tenant %s", inv.Status, tn.Status)
		}
		return nil
	})
	pays, err := admin.Payments(ctx, ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(pays) != 1 || pays[0].ExternalRef != "tron:"+id || pays[0].Method != "tron-usdt" {
		t.Fatalf("payments %+v, want one tron-usdt payment of tx %s", pays, id)
	}
}

func mustTronSettings(t *testing.T, pc payment.Config) tron.Settings {
	t.Helper()
	s, err := tron.SettingsFrom(pc)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
