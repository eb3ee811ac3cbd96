package payment

import (
	"strings"
	"testing"
	"time"
)

func testIntent(t *testing.T, tok Token, cents uint64) Intent {
	t.Helper()
	rate := ParRate(tok)
	if !tok.Stable() {
		var err error
		if rate, err = ParseUSDRate(tok, "150.25"); err != nil {
			t.Fatal(err)
		}
	}
	created := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	in, err := NewIntent(DefaultConfig(Mainnet), "inv_1", "t1", cents, Quote{Token: tok, Rate: rate, Recipient: "merchant", Reference: "ref"}, created)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestAssess(t *testing.T) {
	in := testIntent(t, USDC, 1000) // $10.00 = 10_000_000 base units
	if in.Amount != 10_000_000 || !in.Expires.Equal(in.Created.Add(15*time.Minute)) || !in.MonitorUntil.Equal(in.Expires.Add(24*time.Hour)) {
		t.Fatalf("intent %+v", in)
	}
	ok := Observation{Chain: Solana, TxID: "sig", Token: USDC, Amount: in.Amount, Recipient: "merchant", Finality: Finalized, BlockTime: in.Created.Add(time.Minute)}
	with := func(f func(*Observation)) Observation { o := ok; f(&o); return o }
	tests := []struct {
		name   string
		ob     Observation
		want   Outcome
		reason string
	}{
		{"paid", ok, Outcome{Status: StatusPaid, ValueCents: 1000}, ""},
		{"underpaid", with(func(o *Observation) { o.Amount = 4_000_000 }), Outcome{Status: StatusUnderpaid, ValueCents: 400, ShortCents: 600}, ""},
		{"underpaid by one unit", with(func(o *Observation) { o.Amount-- }), Outcome{Status: StatusUnderpaid, ValueCents: 999, ShortCents: 1}, ""},
		{"overpaid", with(func(o *Observation) { o.Amount = 12_500_000 }), Outcome{Status: StatusOverpaid, ValueCents: 1250, CreditCents: 250}, ""},
		{"overpaid by less than a cent", with(func(o *Observation) { o.Amount++ }), Outcome{Status: StatusOverpaid, ValueCents: 1000}, ""},
		{"late honoured", with(func(o *Observation) { o.BlockTime = in.Expires.Add(time.Hour) }), Outcome{Status: StatusPaid, Late: true, ValueCents: 1000}, ""},
		{"late underpaid", with(func(o *Observation) { o.BlockTime = in.Expires.Add(time.Second); o.Amount = 1_000_000 }), Outcome{Status: StatusUnderpaid, Late: true, ValueCents: 100, ShortCents: 900}, ""},
		{"after the window", with(func(o *Observation) { o.BlockTime = in.MonitorUntil.Add(time.Second) }), Outcome{Status: StatusRejected}, "after the monitoring window"},
		{"wrong token", with(func(o *Observation) { o.Token = SOL }), Outcome{Status: StatusRejected}, "paid in SOL"},
		{"unknown token", with(func(o *Observation) { o.Token = "" }), Outcome{Status: StatusRejected}, "unaccepted token"},
		{"wrong chain", with(func(o *Observation) { o.Chain = Tron; o.Token = USDT }), Outcome{Status: StatusRejected}, "paid on tron"},
		{"wrong recipient", with(func(o *Observation) { o.Recipient = "thief" }), Outcome{Status: StatusRejected}, "paid to thief"},
		{"rejected by verifier", with(func(o *Observation) { o.Rejected = "memo does not match" }), Outcome{Status: StatusRejected}, "memo does not match"},
		{"failed", with(func(o *Observation) { o.Failed = true }), Outcome{Status: StatusFailed}, "failed"},
		{"confirmed only", with(func(o *Observation) { o.Finality = Confirmed }), Outcome{Status: StatusPending}, "confirmed"},
		{"nothing received", with(func(o *Observation) { o.Amount = 0 }), Outcome{Status: StatusRejected}, "nothing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Assess(in, tc.ob)
			if !strings.Contains(got.Reason, tc.reason) {
				t.Fatalf("Assess reason = %q, want it to contain %q", got.Reason, tc.reason)
			}
			got.Reason = ""
			if got != tc.want {
				t.Fatalf("Assess = %+v, want %+v", got, tc.want)
			}
			if got.Settles() != (got.Status == StatusPaid || got.Status == StatusUnderpaid || got.Status == StatusOverpaid) {
				t.Fatal("Settles disagrees with the status")
			}
		})
	}
}

// A SOL intent is judged at its quoted rate, whatever SOL is worth when the
// late payment arrives.
func TestAssessQuotedRate(t *testing.T) {
	in := testIntent(t, SOL, 1000)
	ob := Observation{Chain: Solana, TxID: "s", Token: SOL, Amount: in.Amount * 2, Recipient: "merchant", Finality: Finalized, BlockTime: in.Expires.Add(time.Hour)}
	got := Assess(in, ob)
	if got.Status != StatusOverpaid || !got.Late || got.CreditCents != 1000 {
		t.Fatalf("Assess = %+v", got)
	}
}

func TestNewIntentErrors(t *testing.T) {
	cfg := DefaultConfig(Mainnet)
	now := time.Now()
	good := Quote{Token: USDC, Rate: ParRate(USDC), Recipient: "m", Reference: "r"}
	tests := []struct {
		name  string
		cents uint64
		q     func(*Quote)
		want  string
	}{
		{"zero", 0, func(*Quote) {}, "amount_cents"},
		{"token", 1, func(q *Quote) { q.Token = "BTC" }, "not accepted"},
		{"recipient", 1, func(q *Quote) { q.Recipient = "" }, "recipient"},
		{"reference", 1, func(q *Quote) { q.Reference = "" }, "reference"},
		{"rate", 1, func(q *Quote) { q.Rate = Rate{} }, "rate"},
	}
	for _, tc := range tests {
		q := good
		tc.q(&q)
		if _, err := NewIntent(cfg, "i", "t", tc.cents, q, now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewIntent error %v, want one naming %q", tc.name, err, tc.want)
		}
	}
}

func TestConfig(t *testing.T) {
	c := Config{}
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	if c.Network != Mainnet || c.Solana.USDCMint != MainnetUSDCMint || c.Tron.USDTContract != MainnetUSDTContract ||
		c.QuoteExpiry != 15*time.Minute || c.MonitorWindow != 24*time.Hour || c.Solana.Finality != Finalized {
		t.Fatalf("defaults %+v", c)
	}
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"network", Config{Network: "moon"}, "payment.network"},
		{"expiry", Config{QuoteExpiry: time.Second}, "payment.quote_expiry"},
		{"window", Config{MonitorWindow: -time.Second}, "payment.monitor_window"},
		{"finality", Config{Solana: SolanaConfig{Finality: Confirmed}}, "payment.solana.finality"},
		{"url", Config{Solana: SolanaConfig{RPCURL: "ftp://x"}}, "payment.solana.rpc_url"},
		{"price", Config{Prices: map[string]string{"SOL": "abc"}}, "payment.prices"},
		{"testnet usdt", Config{Network: Testnet, Tron: TronConfig{Merchant: "T..."}}, "payment.tron.usdt_contract"},
		{"testnet usdc", Config{Network: Testnet, Solana: SolanaConfig{Merchant: "x"}}, "payment.solana.usdc_mint"},
	}
	for _, tc := range tests {
		err := tc.c.Normalize()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Normalize error %v, want one naming %q", tc.name, err, tc.want)
		}
	}
	d := DefaultConfig(Devnet)
	if d.Solana.RPCURL != "https://api.devnet.solana.com" || d.Solana.USDCMint != DevnetUSDCMint {
		t.Fatalf("devnet defaults %+v", d.Solana)
	}
}
