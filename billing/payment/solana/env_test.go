package solana

import (
	"context"
	"testing"
	"time"

	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc"

	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/solana/solanatest"
)

// env is a fake Solana node with a funded payer, a merchant and the USDC
// mint, and a verifier talking to the node over HTTP with solana-go.
type env struct {
	srv      *solanatest.Server
	client   *rpc.Client
	v        *Verifier
	cfg      payment.Config
	payer    sol.PrivateKey
	merchant sol.PublicKey
	mint     sol.PublicKey
	now      time.Time
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv := solanatest.New()
	t.Cleanup(srv.Close)
	e := &env{srv: srv, client: rpc.New(srv.URL()), payer: newKey(t), merchant: newKey(t).PublicKey(),
		mint: sol.MustPublicKeyFromBase58(payment.MainnetUSDCMint), now: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	srv.SetClock(func() time.Time { return e.now })
	srv.AddMint(e.mint, 6)
	srv.Fund(e.payer.PublicKey(), 100_000_000_000)
	srv.FundToken(e.payer.PublicKey(), e.mint, 1_000_000_000)
	srv.FundToken(e.merchant, e.mint, 0)
	e.cfg = payment.DefaultConfig(payment.Mainnet)
	e.cfg.Solana.RPCURL = srv.URL()
	e.cfg.Solana.Merchant = e.merchant.String()
	e.cfg.Solana.Label = "Aerolith"
	v, err := New(e.cfg.Solana, e.client)
	if err != nil {
		t.Fatal(err)
	}
	e.v = v
	return e
}

func newKey(t testing.TB) sol.PrivateKey {
	t.Helper()
	k, err := sol.NewRandomPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// intent creates an intent for cents in the token at $150.25/SOL.
func (e *env) intent(t testing.TB, tok payment.Token, cents uint64) payment.Intent {
	t.Helper()
	rate := payment.ParRate(tok)
	if tok == payment.SOL {
		var err error
		if rate, err = payment.ParseUSDRate(tok, "150.25"); err != nil {
			t.Fatal(err)
		}
	}
	q, err := e.v.Quote(tok, rate, "aerolith inv_1")
	if err != nil {
		t.Fatal(err)
	}
	in, err := payment.NewIntent(e.cfg, "inv_1", "t1", cents, q, e.now)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// payOpts vary how a payment is made.
type payOpts struct {
	// req changes the transfer request before the wallet builds it.
	req func(*TransferRequest)
	// ixs changes the instructions before signing.
	ixs func([]sol.Instruction) []sol.Instruction
	// v0 puts the reference and the merchant's token account in a lookup
	// table.
	v0            bool
	skipPreflight bool
	// level the transaction is advanced to (default finalized).
	level *solanatest.Commitment
}

// pay builds, signs and sends the payment of the intent as a wallet
// following Solana Pay does, over RPC.
func (e *env) pay(t testing.TB, in payment.Intent, o payOpts) sol.Signature {
	t.Helper()
	req, err := e.v.TransferRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	// A wallet gets the request from the URL.
	req, err = ParseTransferRequest(req.String(), func(sol.PublicKey) (uint8, error) { return 6, nil })
	if err != nil {
		t.Fatal(err)
	}
	if o.req != nil {
		o.req(&req)
	}
	ixs, err := Instructions(req, e.payer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if o.ixs != nil {
		ixs = o.ixs(ixs)
	}
	var opts []sol.TransactionOption
	opts = append(opts, sol.TransactionPayer(e.payer.PublicKey()))
	if o.v0 {
		ata, _, _ := sol.FindAssociatedTokenAddress(e.merchant, e.mint)
		table := e.srv.AddLookupTable(append([]sol.PublicKey{ata, e.mint}, req.References...)...)
		opts = append(opts, sol.TransactionAddressTables(map[sol.PublicKey]sol.PublicKeySlice{table: e.srv.LookupTables()[table]}))
	}
	tx, err := sol.NewTransaction(ixs, e.srv.LatestBlockhash(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Sign(func(k sol.PublicKey) *sol.PrivateKey {
		if k == e.payer.PublicKey() {
			return &e.payer
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sig, err := e.client.SendTransactionWithOpts(context.Background(), tx, rpc.TransactionOpts{SkipPreflight: o.skipPreflight})
	if err != nil {
		t.Fatalf("sendTransaction: %v", err)
	}
	level := solanatest.Finalized
	if o.level != nil {
		level = *o.level
	}
	e.srv.SetCommitment(sig, level)
	return sig
}

// verify runs the verifier and assesses each observation.
func (e *env) verify(t testing.TB, in payment.Intent) ([]payment.Observation, []payment.Outcome) {
	t.Helper()
	obs, err := e.v.Verify(context.Background(), in)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	var outs []payment.Outcome
	for _, ob := range obs {
		outs = append(outs, payment.Assess(in, ob))
	}
	return obs, outs
}
