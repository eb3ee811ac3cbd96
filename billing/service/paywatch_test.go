package service

import (
	"context"
	"fmt"
	"testing"
	"time"

	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc"
	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/solana"
	"github.com/aerolithdb/aerolith/billing/payment/solana/solanatest"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// TestPaymentWatcher: a tenant suspended for an overdue invoice pays it in
// USDC with a real signed Solana Pay transfer to the fake node; the
// watcher records nothing while the transfer is only confirmed, then —
// with nobody calling confirm — settles the invoice once it finalizes,
// which resumes the tenant. Later passes change nothing.
func TestPaymentWatcher(t *testing.T) {
	c := ledgerCluster(t, 1)
	st := c.Leader()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	h := func() ledger.Header { return ledger.Header{Time: clk.Now().UnixNano(), Actor: "test"} }
	mustPropose(t, st, ledger.CreateTenant{Header: h(), ID: "payer", Organization: "O", Name: "payer", Tier: "starter", Email: "p@example.com"})
	sched, err := NewScheduler(SchedulerConfig{Store: st, Cycle: ledger.Cycle{Every: time.Minute}, Grace: 5 * time.Second,
		PaymentTerms: 10 * time.Second, DunningGrace: 5 * time.Second, Interval: time.Second, Now: clk.Now, Logger: storetest.TestLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	clk.Add(time.Minute + 6*time.Second)
	if err := sched.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Add(20 * time.Second)
	if err := sched.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	invID := ledger.InvoiceID("payer", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	read := func() (inv ledger.Invoice, tn ledger.Tenant, pi []ledger.PaymentIntent) {
		t.Helper()
		if err := st.View(ctx, store.Linearizable, func(tx *bolt.Tx) (err error) {
			if inv, err = ledger.GetInvoice(tx, invID); err != nil {
				return err
			}
			if tn, err = ledger.GetTenant(tx, "payer"); err != nil {
				return err
			}
			pi, err = ledger.PaymentIntents(tx, "payer")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return
	}
	inv, tn, _ := read()
	if tn.Status != ledger.StatusSuspended || inv.Status != ledger.InvoiceOpen || inv.AmountDueCents <= 0 {
		t.Fatalf("setup: tenant %s, invoice %s due %d", tn.Status, inv.Status, inv.AmountDueCents)
	}

	// The chain, the merchant's verifier and a funded payer.
	node := solanatest.New()
	defer node.Close()
	node.SetClock(clk.Now)
	merchant, payer := mustKey(t).PublicKey(), mustKey(t)
	mint := sol.MustPublicKeyFromBase58(payment.MainnetUSDCMint)
	node.AddMint(mint, 6)
	node.Fund(payer.PublicKey(), 1_000_000_000)
	node.FundToken(payer.PublicKey(), mint, 1_000_000_000)
	node.FundToken(merchant, mint, 0)
	cfg := payment.DefaultConfig(payment.Mainnet)
	cfg.Solana.RPCURL, cfg.Solana.Merchant = node.URL(), merchant.String()
	client := rpc.New(node.URL())
	v, err := solana.New(cfg.Solana, client)
	if err != nil {
		t.Fatal(err)
	}
	q, err := v.Quote(payment.USDC, payment.ParRate(payment.USDC), "aerolith "+invID)
	if err != nil {
		t.Fatal(err)
	}
	in, err := payment.NewIntent(cfg, invID, "payer", uint64(inv.AmountDueCents), q, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	mustPropose(t, st, ledger.CreatePaymentIntent{Header: h(), Intent: in})

	w, err := NewPaymentWatcher(PaymentWatcherConfig{Store: st, Verifiers: []payment.Verifier{v}, Interval: 20 * time.Millisecond,
		Now: clk.Now, Logger: storetest.TestLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.RunOnce(ctx); err != nil {
		t.Fatalf("pass before any payment: %v", err)
	}

	// The payer's wallet scans the Solana Pay URL and pays.
	req, err := v.TransferRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	ixs, err := solana.Instructions(req, payer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	tx, err := sol.NewTransaction(ixs, node.LatestBlockhash(), sol.TransactionPayer(payer.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Sign(func(sol.PublicKey) *sol.PrivateKey { return &payer }); err != nil {
		t.Fatal(err)
	}
	sig, err := client.SendTransaction(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	node.SetCommitment(sig, solanatest.Confirmed)
	if err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, pi := read(); len(pi) != 1 || pi[0].Status != ledger.IntentPending || len(pi[0].Transfers) != 0 {
		t.Fatalf("a confirmed transfer was recorded: %+v", pi)
	}

	// Finalized: the running watcher settles it by itself.
	if err := w.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	node.SetCommitment(sig, solanatest.Finalized)
	testwait.Until(t, 30*time.Second, "the watcher settles the finalized payment", func() bool {
		_, _, pi := read()
		return pi[0].Status == ledger.IntentPaid
	})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	inv, tn, pi := read()
	if inv.Status != ledger.InvoicePaid || tn.Status != ledger.StatusActive || len(pi[0].Transfers) != 1 ||
		pi[0].Transfers[0].TxID != sig.String() || pi[0].Transfers[0].PaymentID == "" {
		t.Fatalf("after the watcher: invoice %s, tenant %s, intent %+v", inv.Status, tn.Status, pi[0])
	}
	// Further passes change nothing (a paid intent is no longer pending,
	// and the transaction is recorded once).
	if err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, again := read(); len(again[0].Transfers) != 1 {
		t.Fatalf("transfer recorded twice: %+v", again[0].Transfers)
	}
}

// An RPC failure is reported and leaves the intent pending for the next
// pass.
func TestPaymentWatcherRPCError(t *testing.T) {
	c := ledgerCluster(t, 1)
	st := c.Leader()
	node := solanatest.New()
	defer node.Close()
	cfg := payment.DefaultConfig(payment.Mainnet)
	cfg.Solana.Merchant = mustKey(t).PublicKey().String()
	v, err := solana.New(cfg.Solana, rpc.New(node.URL()))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	mustPropose(t, st, ledger.CreateTenant{Header: ledger.Header{Time: now.UnixNano(), Actor: "t"}, ID: "t1", Organization: "O", Name: "t1", Tier: "starter", Email: "a@example.com"})
	sched, err := NewScheduler(SchedulerConfig{Store: st, Cycle: ledger.Cycle{Every: time.Minute}, Grace: time.Second, PaymentTerms: time.Hour,
		DunningGrace: time.Hour, Interval: time.Second, Now: func() time.Time { return now }, Logger: storetest.TestLogger()})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if err := sched.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	invID := ledger.InvoiceID("t1", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	q, err := v.Quote(payment.USDC, payment.ParRate(payment.USDC), "")
	if err != nil {
		t.Fatal(err)
	}
	in, err := payment.NewIntent(cfg, invID, "t1", 100, q, now)
	if err != nil {
		t.Fatal(err)
	}
	mustPropose(t, st, ledger.CreatePaymentIntent{Header: ledger.Header{Time: now.UnixNano(), Actor: "t"}, Intent: in})
	w, err := NewPaymentWatcher(PaymentWatcherConfig{Store: st, Verifiers: []payment.Verifier{v}, Interval: time.Second,
		Now: func() time.Time { return now }, Logger: storetest.TestLogger()})
	if err != nil {
		t.Fatal(err)
	}
	node.SetFault("getSignaturesForAddress", solanatest.Fault{Code: -32005, Message: "Node is behind"})
	if err := w.RunOnce(context.Background()); err == nil {
		t.Fatal("a failed chain read was not reported")
	}
	node.SetFault("getSignaturesForAddress", solanatest.Fault{})
	if err := w.RunOnce(context.Background()); err != nil {
		t.Fatalf("after the fault cleared: %v", err)
	}
	// Unpaid past the monitoring window and the slack: expired, unwatched.
	now = in.MonitorUntil.Add(DefaultWatchSlack + time.Minute)
	calls := node.Calls("getSignaturesForAddress")
	if err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var p ledger.PaymentIntent
	if err := st.View(context.Background(), store.Linearizable, func(tx *bolt.Tx) (err error) {
		p, err = ledger.GetPaymentIntent(tx, in.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if p.Status != ledger.IntentExpired || node.Calls("getSignaturesForAddress") != calls {
		t.Fatalf("after the window: status %s, chain asked %d more times", p.Status, node.Calls("getSignaturesForAddress")-calls)
	}
	if err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func mustKey(t *testing.T) sol.PrivateKey {
	t.Helper()
	k, err := sol.NewRandomPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestServicePaysOnChain: `billing serve` configured with a Solana
// merchant runs the payment watcher. A tenant suspended for an unpaid
// invoice pays it with a real USDC transfer to the fake node; with no one
// calling confirm, the service settles the invoice and resumes the tenant.
func TestServicePaysOnChain(t *testing.T) {
	node := solanatest.New()
	defer node.Close()
	node.SetLandingCommitment(solanatest.Finalized)
	merchant, payer := mustKey(t).PublicKey(), mustKey(t)
	mint := sol.MustPublicKeyFromBase58(payment.MainnetUSDCMint)
	node.AddMint(mint, 6)
	node.Fund(payer.PublicKey(), 1_000_000_000)
	node.FundToken(payer.PublicKey(), mint, 1_000_000_000)
	node.FundToken(merchant, mint, 0)
	s, admin := startService(t, t.TempDir(), func(c *Config) {
		c.Payment.SolanaRPCURL, c.Payment.SolanaMerchant = node.URL(), merchant.String()
		c.Payment.WatchInterval = 50 * time.Millisecond
	})
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

	pc, err := s.cfg.PaymentSettings()
	if err != nil {
		t.Fatal(err)
	}
	v, err := solana.New(pc.Solana, rpc.New(node.URL()))
	if err != nil {
		t.Fatal(err)
	}
	q, err := v.Quote(payment.USDC, payment.ParRate(payment.USDC), "aerolith "+open.ID)
	if err != nil {
		t.Fatal(err)
	}
	in, err := payment.NewIntent(pc, open.ID, ten.ID, uint64(open.AmountDueCents), q, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	mustPropose(t, s.store, ledger.CreatePaymentIntent{Header: ledger.Header{Time: time.Now().UnixNano(), Actor: "test"}, Intent: in})

	req, err := v.TransferRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	ixs, err := solana.Instructions(req, payer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	tx, err := sol.NewTransaction(ixs, node.LatestBlockhash(), sol.TransactionPayer(payer.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Sign(func(sol.PublicKey) *sol.PrivateKey { return &payer }); err != nil {
		t.Fatal(err)
	}
	if _, err := rpc.New(node.URL()).SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
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
}
