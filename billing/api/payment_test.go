package api

import (
	"context"
	"crypto/ed25519"
	"math/big"
	"strings"
	"testing"
	"time"

	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc"
	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/signin"
	"github.com/aerolithdb/aerolith/billing/payment/solana"
	"github.com/aerolithdb/aerolith/billing/payment/solana/solanatest"
	"github.com/aerolithdb/aerolith/billing/payment/tron"
	"github.com/aerolithdb/aerolith/billing/payment/tron/trongridtest"
	"github.com/aerolithdb/aerolith/store"
)

const signInDomain = "billing.example"

// payEnv is an API replica with both chains configured against the fakes.
type payEnv struct {
	*env
	sol          *solanatest.Server
	trx          *trongridtest.Server
	solMerchant  sol.PublicKey
	tronMerchant tron.Address
	usdt         tron.Address
	mint         sol.PublicKey
}

func newPayEnv(t *testing.T) *payEnv {
	t.Helper()
	pe := &payEnv{sol: solanatest.New(), trx: trongridtest.New()}
	t.Cleanup(pe.sol.Close)
	t.Cleanup(pe.trx.Close)
	pe.sol.SetLandingCommitment(solanatest.Finalized)
	m, err := sol.NewRandomPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	pe.solMerchant, pe.mint = m.PublicKey(), sol.MustPublicKeyFromBase58(payment.MainnetUSDCMint)
	pe.sol.AddMint(pe.mint, 6)
	pe.sol.FundToken(pe.solMerchant, pe.mint, 0)
	pe.tronMerchant, pe.usdt = trongridtest.Addr(trongridtest.Key("merchant")), trongridtest.Addr(trongridtest.Key("usdt"))
	pe.trx.AddToken(pe.usdt, "USDT")
	pc := payment.Config{Network: payment.Mainnet, Prices: map[string]string{"SOL": "150", "TRX": "0.25"},
		Solana: payment.SolanaConfig{RPCURL: pe.sol.URL(), Merchant: pe.solMerchant.String()},
		Tron:   payment.TronConfig{APIURL: pe.trx.URL(), Merchant: pe.tronMerchant.String(), USDTContract: pe.usdt.String()}}
	if err := pc.Normalize(); err != nil {
		t.Fatal(err)
	}
	pays, err := NewPayments(pc, signin.Config{Domain: signInDomain, TTL: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	pe.env = newEnv(t, func(c *Config) { c.Payments = pays })
	pe.sol.SetClock(pe.clock.Now)
	return pe
}

// openInvoice gives tenant name an open invoice with something due and
// returns the tenant, its read key and the invoice. The clock is then
// the wall clock (the fake TronGrid stamps blocks with it).
func (pe *payEnv) openInvoice(name string) (ledger.Tenant, string, ledger.Invoice) {
	pe.t.Helper()
	start := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour)
	pe.clock.Set(start)
	ten := pe.tenant(name, "starter")
	key := pe.tenantKey(ten.ID, "tenant")
	cl := pe.cluster("cl-"+name, ten.ID)
	pe.want(200, "POST", "/api/v1/usage", cl.EnrollmentToken, map[string]any{"records": []any{usageRecord("n1", 1, ten.ID, start, 2_000_000)}}, nil)
	at := start.Add(3 * time.Hour)
	var due []ledger.DraftDue
	if err := pe.st.View(context.Background(), store.Linearizable, func(tx *bolt.Tx) (err error) {
		due, err = ledger.DueForDraft(tx, at, ledger.Cycle{Every: time.Hour})
		return err
	}); err != nil {
		pe.t.Fatal(err)
	}
	var draft *ledger.Invoice
	for _, d := range due {
		if res := pe.propose(d.Command(ledger.Header{Time: at.UnixNano(), Actor: "scheduler"})); d.Tenant == ten.ID && res.Invoice.TotalCents > 0 {
			draft = res.Invoice
		}
	}
	if draft == nil {
		pe.t.Fatalf("no draft with a total for %s among %+v", ten.ID, due)
	}
	pe.clock.Set(time.Now().UTC())
	var inv ledger.Invoice
	pe.want(200, "POST", "/api/v1/invoices/"+draft.ID+"/finalize", adminKey, nil, &inv)
	if inv.Status != ledger.InvoiceOpen || inv.AmountDueCents <= 0 {
		pe.t.Fatalf("invoice %s %s due %d", inv.ID, inv.Status, inv.AmountDueCents)
	}
	return ten, key.Key, inv
}

func solKey(t *testing.T) sol.PrivateKey {
	t.Helper()
	k, err := sol.NewRandomPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestWalletSignInAPI: challenge → connect with a signature, for Solana
// and Tron wallets; a replayed nonce, an expired challenge, another
// domain, a wrong key, another tenant, an admin without tenant_id are
// refused; balance reads the chain; disconnect removes the wallet.
func TestWalletSignInAPI(t *testing.T) {
	pe := newPayEnv(t)
	acme, globex := pe.tenant("acme", "starter"), pe.tenant("globex", "starter")
	key, gkey := pe.tenantKey(acme.ID, "tenant").Key, pe.tenantKey(globex.ID, "tenant").Key
	wallet := solKey(t)
	addr := wallet.PublicKey().String()
	challenge := func(k, query string) WalletChallengeOut {
		t.Helper()
		var ch WalletChallengeOut
		pe.want(200, "GET", "/api/v1/payment/wallet/challenge?chain=solana&address="+addr+query, k, nil, &ch)
		return ch
	}
	proof := func(msg, sig string) map[string]string {
		return map[string]string{"chain": "solana", "address": addr, "message": msg, "signature": sig}
	}

	ch := challenge(key, "")
	if ch.Domain != signInDomain || !strings.Contains(ch.Message, ch.Nonce) {
		t.Fatalf("challenge %+v", ch)
	}
	good := proof(ch.Message, signin.SignSolana(ed25519.PrivateKey(wallet), ch.Message))
	var w ledger.Wallet
	pe.want(200, "POST", "/api/v1/payment/wallet/connect", key, good, &w)
	if w.Tenant != acme.ID || w.Address != addr || w.Chain != "solana" {
		t.Fatalf("connected %+v", w)
	}
	if r := pe.do("POST", "/api/v1/payment/wallet/connect", key, good); r.status != 409 || !strings.Contains(r.errMsg(), "nonce") {
		t.Fatalf("replayed nonce = %d %s", r.status, r.body)
	}

	refusals := []struct {
		name   string
		key    string
		body   func() any
		status int
		msg    string
	}{
		{"wrong key", key, func() any {
			c := challenge(key, "")
			return proof(c.Message, signin.SignSolana(ed25519.PrivateKey(solKey(t)), c.Message))
		}, 400, "signature"},
		{"wrong domain", key, func() any {
			c := challenge(key, "")
			m := strings.Replace(c.Message, signInDomain, "evil.example", 1)
			return proof(m, signin.SignSolana(ed25519.PrivateKey(wallet), m))
		}, 400, "message: sign-in message for another domain"},
		{"expired challenge", key, func() any {
			c := challenge(key, "")
			pe.clock.Set(pe.clock.Now().Add(6 * time.Minute))
			return proof(c.Message, signin.SignSolana(ed25519.PrivateKey(wallet), c.Message))
		}, 409, "expired"},
		{"nonce of another tenant", gkey, func() any {
			c := challenge(key, "")
			return proof(c.Message, signin.SignSolana(ed25519.PrivateKey(wallet), c.Message))
		}, 409, "another tenant"},
		{"admin without tenant_id", adminKey, func() any {
			c := challenge(key, "")
			return proof(c.Message, signin.SignSolana(ed25519.PrivateKey(wallet), c.Message))
		}, 400, "tenant_id: required"},
		{"unknown field", key, func() any { return map[string]string{"chain": "solana", "adress": addr} }, 400, "adress: unknown field"},
		{"missing signature", key, func() any { return map[string]string{"chain": "solana", "address": addr, "message": "m"} }, 400, "signature: required"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			r := pe.do("POST", "/api/v1/payment/wallet/connect", tt.key, tt.body())
			if r.status != tt.status || !strings.Contains(r.errMsg(), tt.msg) {
				t.Fatalf("= %d %s, want %d mentioning %q", r.status, r.body, tt.status, tt.msg)
			}
		})
	}
	if r := pe.do("GET", "/api/v1/payment/wallet/challenge?chain=solana&address="+addr+"&tenant_id="+acme.ID, gkey, nil); r.status != 404 {
		t.Fatalf("challenge for another tenant = %d %s", r.status, r.body)
	}
	if r := pe.do("GET", "/api/v1/payment/wallet/challenge?chain=eth&address="+addr, key, nil); r.status != 400 || !strings.Contains(r.errMsg(), "chain") {
		t.Fatalf("challenge for eth = %d %s", r.status, r.body)
	}
	if r := pe.do("GET", "/api/v1/payment/wallet/challenge?chain=solana&address=nope", key, nil); r.status != 400 || !strings.Contains(r.errMsg(), "address") {
		t.Fatalf("challenge for a bad address = %d %s", r.status, r.body)
	}

	// A Tron wallet, connected by an admin naming the tenant.
	tk := trongridtest.Key("customer tron")
	taddr := trongridtest.Addr(tk).String()
	var tch WalletChallengeOut
	pe.want(200, "GET", "/api/v1/payment/wallet/challenge?chain=tron&address="+taddr+"&tenant_id="+acme.ID, adminKey, nil, &tch)
	pe.want(200, "POST", "/api/v1/payment/wallet/connect", adminKey, map[string]string{"tenant_id": acme.ID, "chain": "tron", "address": taddr,
		"message": tch.Message, "signature": signin.SignTron(tk, tch.Message)}, &w)

	// Balances come from the chains.
	pe.sol.Fund(wallet.PublicKey(), 2_500_000_000)
	pe.sol.FundToken(wallet.PublicKey(), pe.mint, 7_000_000)
	pe.trx.Fund(trongridtest.Addr(tk), 3_000_000)
	pe.trx.Mint(pe.usdt, trongridtest.Addr(tk), big.NewInt(4_000_000))
	pe.trx.Solidify()
	var bal struct{ Balances []Balance }
	pe.want(200, "GET", "/api/v1/payment/balance", key, nil, &bal)
	got := map[string]uint64{}
	for _, b := range bal.Balances {
		got[b.Token] = b.Amount
	}
	if want := map[string]uint64{"SOL": 2_500_000_000, "USDC": 7_000_000, "TRX": 3_000_000, "USDT": 4_000_000}; !mapsEqual(got, want) {
		t.Fatalf("balances %+v, want %v", bal.Balances, want)
	}
	pe.want(404, "GET", "/api/v1/payment/balance?chain=solana&address=someoneelse", key, nil, nil)

	var hist History
	pe.want(200, "GET", "/api/v1/payment/history", key, nil, &hist)
	if len(hist.Wallets) != 2 {
		t.Fatalf("history wallets %+v", hist.Wallets)
	}
	pe.want(200, "POST", "/api/v1/payment/wallet/disconnect", key, map[string]string{"chain": "solana", "address": addr}, nil)
	pe.want(404, "POST", "/api/v1/payment/wallet/disconnect", key, map[string]string{"chain": "solana", "address": addr}, nil)
	pe.want(200, "GET", "/api/v1/payment/history", key, nil, &hist)
	if len(hist.Wallets) != 1 || hist.Wallets[0].Chain != "tron" {
		t.Fatalf("history wallets after disconnect %+v", hist.Wallets)
	}
}

// WalletChallengeOut decodes the challenge answer.
type WalletChallengeOut = signin.Challenge

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestPaymentCreateConfirmAPI: an intent for an open invoice in USDC is
// paid with a real Solana Pay transfer and confirmed; in USDT on Tron an
// underpayment is tied to its intent by confirm with the tx id; refusals:
// another tenant's invoice, an unknown token, a token on the wrong chain,
// an invoice already paid, a transaction already used for another intent.
func TestPaymentCreateConfirmAPI(t *testing.T) {
	pe := newPayEnv(t)
	acme, key, inv := pe.openInvoice("acme")
	_, gkey, ginv := pe.openInvoice("globex")
	ctx := context.Background()

	refusals := []struct {
		name   string
		key    string
		body   map[string]string
		status int
		msg    string
	}{
		{"other tenant's invoice", gkey, map[string]string{"invoice_id": inv.ID, "token": "USDC"}, 404, "invoice_id"},
		{"unknown token", key, map[string]string{"invoice_id": inv.ID, "token": "DOGE"}, 400, "token"},
		{"token on another chain", key, map[string]string{"invoice_id": inv.ID, "token": "USDC", "chain": "tron"}, 400, "chain: USDC is paid on solana"},
		{"admin without tenant", adminKey, map[string]string{"invoice_id": inv.ID, "token": "USDC"}, 400, "tenant_id"},
		{"no invoice", key, map[string]string{"token": "USDC"}, 400, "invoice_id: required"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			r := pe.do("POST", "/api/v1/payment/create", tt.key, tt.body)
			if r.status != tt.status || !strings.Contains(r.errMsg(), tt.msg) {
				t.Fatalf("= %d %s, want %d mentioning %q", r.status, r.body, tt.status, tt.msg)
			}
		})
	}

	var a IntentAnswer
	pe.want(201, "POST", "/api/v1/payment/create", key, map[string]string{"invoice_id": inv.ID, "token": "usdc"}, &a)
	if !strings.HasPrefix(a.SolanaPayURL, "solana:"+pe.solMerchant.String()+"?") || a.CheckoutURL != "/pay/"+a.Intent.ID ||
		a.Intent.AmountCents != uint64(inv.AmountDueCents) || a.Intent.Amount != uint64(inv.AmountDueCents)*10_000 {
		t.Fatalf("create = %+v", a)
	}
	// The payer's wallet reads the URL, builds, signs and sends the transfer.
	req, err := solana.ParseTransferRequest(a.SolanaPayURL, func(sol.PublicKey) (uint8, error) { return 6, nil })
	if err != nil {
		t.Fatal(err)
	}
	payer := solKey(t)
	pe.sol.Fund(payer.PublicKey(), 1_000_000_000)
	pe.sol.FundToken(payer.PublicKey(), pe.mint, 1_000_000_000)
	sig, err := solana.Pay(ctx, rpc.New(pe.sol.URL()), req, payer)
	if err != nil {
		t.Fatal(err)
	}
	var c IntentAnswer
	pe.want(200, "POST", "/api/v1/payment/confirm", key, map[string]string{"intent_id": a.Intent.ID, "tx_id": sig.String()}, &c)
	if c.Intent.Status != ledger.IntentPaid || len(c.Seen) != 1 || !c.Seen[0].Recorded || c.Seen[0].Outcome.Status != payment.StatusPaid {
		t.Fatalf("confirm = %+v", c)
	}
	var paid ledger.Invoice
	pe.want(200, "GET", "/api/v1/invoices/"+inv.ID, key, nil, &paid)
	if paid.Status != ledger.InvoicePaid {
		t.Fatalf("invoice after confirm: %s", paid.Status)
	}
	if r := pe.do("POST", "/api/v1/payment/create", key, map[string]string{"invoice_id": inv.ID, "token": "SOL"}); r.status != 409 || !strings.Contains(r.errMsg(), "is paid") {
		t.Fatalf("create for a paid invoice = %d %s", r.status, r.body)
	}
	if r := pe.do("POST", "/api/v1/payment/confirm", gkey, map[string]string{"intent_id": a.Intent.ID}); r.status != 404 {
		t.Fatalf("confirm of another tenant's intent = %d %s", r.status, r.body)
	}

	// Tron: two intents for globex's invoice get distinct amounts.
	var t1, t2 IntentAnswer
	pe.want(201, "POST", "/api/v1/payment/create", gkey, map[string]string{"invoice_id": ginv.ID, "token": "USDT", "chain": "tron"}, &t1)
	pe.want(201, "POST", "/api/v1/payment/create", gkey, map[string]string{"invoice_id": ginv.ID, "token": "USDT"}, &t2)
	quoted := uint64(ginv.AmountDueCents) * 10_000
	if t1.TronAddress != pe.tronMerchant.String() || t1.Intent.Amount != quoted+1 || t2.Intent.Amount != quoted+2 ||
		t1.AmountDisplay != payment.FormatUnits(quoted+1, 6) {
		t.Fatalf("tron intents %+v / %+v", t1, t2)
	}
	tpayer := trongridtest.Key("tron payer")
	pe.trx.Fund(trongridtest.Addr(tpayer), 100_000_000)
	pe.trx.Mint(pe.usdt, trongridtest.Addr(tpayer), big.NewInt(1_000_000_000_000))
	short := pe.trx.SendTRC20(tpayer, pe.usdt, pe.tronMerchant, new(big.Int).SetUint64(quoted/2))
	pe.trx.Solidify()
	// Without the tx id the search by amount finds nothing.
	c = IntentAnswer{}
	pe.want(200, "POST", "/api/v1/payment/confirm", gkey, map[string]string{"intent_id": t1.Intent.ID}, &c)
	if len(c.Seen) != 0 || c.Intent.Status != ledger.IntentPending {
		t.Fatalf("confirm without tx id = %+v", c)
	}
	c = IntentAnswer{}
	pe.want(200, "POST", "/api/v1/payment/confirm", gkey, map[string]string{"intent_id": t1.Intent.ID, "tx_id": short}, &c)
	if c.Intent.Status != ledger.IntentUnderpaid || c.Seen[0].Outcome.Status != payment.StatusUnderpaid {
		t.Fatalf("confirm underpayment = %+v", c)
	}
	// The same transaction offered for the other intent is refused.
	if r := pe.do("POST", "/api/v1/payment/confirm", gkey, map[string]string{"intent_id": t2.Intent.ID, "tx_id": short}); r.status != 409 || !strings.Contains(r.errMsg(), "settles one intent") {
		t.Fatalf("tx reused = %d %s", r.status, r.body)
	}
	if r := pe.do("POST", "/api/v1/payment/confirm", gkey, map[string]string{"intent_id": t2.Intent.ID, "tx_id": "zz"}); r.status != 400 || !strings.Contains(r.errMsg(), "tx_id") {
		t.Fatalf("bad tx id = %d %s", r.status, r.body)
	}
	var pricing struct {
		Tokens []TokenPrice `json:"tokens"`
	}
	pe.want(200, "GET", "/api/v1/payment/pricing", gkey, nil, &pricing)
	if len(pricing.Tokens) != 4 || pricing.Tokens[0].Token != payment.SOL || !centsPerWhole(pricing.Tokens[0], 15000) || !centsPerWhole(pricing.Tokens[2], 25) ||
		pricing.Tokens[3].Rate != payment.ParRate(payment.USDT) {
		t.Fatalf("pricing tokens %+v", pricing.Tokens)
	}
	var hist History
	pe.want(200, "GET", "/api/v1/payment/history?tenant_id="+acme.ID, adminKey, nil, &hist)
	if len(hist.Intents) != 1 || hist.Intents[0].Status != ledger.IntentPaid || len(hist.Intents[0].Transfers) != 1 {
		t.Fatalf("history %+v", hist)
	}
}

// centsPerWhole reports whether one whole token is worth cents at tp's rate.
func centsPerWhole(tp TokenPrice, cents uint64) bool {
	whole := uint64(1)
	for range tp.Decimals {
		whole *= 10
	}
	got, err := tp.Rate.CentsFor(whole)
	return err == nil && got == cents
}
