package tron_test

import (
	"context"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/aerolithdb/aerolith/billing/payment/tron"
	"github.com/aerolithdb/aerolith/billing/payment/tron/trongridtest"
)

// fixture is a fake chain with USDT, a second token, a merchant and a
// customer.
type fixture struct {
	srv      *trongridtest.Server
	client   *tron.Client
	v        *tron.Verifier
	usdt     tron.Token
	other    tron.Address // another TRC-20 contract
	merchant tron.Address
	payer    *secp256k1.PrivateKey
}

// What the payer starts with: 1,000,000 TRX and 1,000,000 of each token.
const payerTRX, payerUSDT = 1_000_000_000_000, 1_000_000_000_000

func newFixture(t *testing.T, cfg tron.ClientConfig) *fixture {
	t.Helper()
	srv := trongridtest.New()
	t.Cleanup(srv.Close)
	f := &fixture{
		srv:      srv,
		usdt:     tron.USDT(tron.MainnetUSDT),
		other:    trongridtest.Addr(trongridtest.Key("other token")),
		merchant: trongridtest.Addr(trongridtest.Key("merchant")),
		payer:    trongridtest.Key("payer"),
	}
	srv.AddToken(tron.MainnetUSDT, "USDT")
	srv.AddToken(f.other, "FAKE")
	payer := trongridtest.Addr(f.payer)
	srv.Fund(payer, payerTRX)
	srv.Mint(tron.MainnetUSDT, payer, big.NewInt(payerUSDT))
	srv.Mint(f.other, payer, big.NewInt(payerUSDT))
	cfg.URL = srv.URL()
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	c, err := tron.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.client, f.v = c, tron.NewVerifier(c)
	return f
}

func (f *fixture) verify(t *testing.T, exp tron.Expected, id string) tron.Verdict {
	t.Helper()
	vd, err := f.v.Verify(context.Background(), exp, id)
	if err != nil {
		t.Fatalf("Verify(%s) = %v", id, err)
	}
	return vd
}

func usd(micro int64) *big.Int { return big.NewInt(micro) }

func TestVerifyOutcomes(t *testing.T) {
	f := newFixture(t, tron.ClientConfig{})
	stranger := trongridtest.Addr(trongridtest.Key("stranger"))
	wantUSDT := tron.Expected{Token: f.usdt, Merchant: f.merchant, Amount: usd(10_000_042)}
	wantTRX := tron.Expected{Token: tron.TRX(), Merchant: f.merchant, Amount: usd(30_000_007)}
	tests := []struct {
		name     string
		exp      tron.Expected
		send     func() string
		want     tron.Outcome
		received int64
		reason   string
	}{
		{"usdt paid exact", wantUSDT, func() string { return f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(10_000_042)) }, tron.Paid, 10_000_042, ""},
		{"usdt underpaid", wantUSDT, func() string { return f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(9_000_000)) }, tron.Underpaid, 9_000_000, "received 9000000 of 10000042"},
		{"usdt overpaid", wantUSDT, func() string { return f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(12_000_000)) }, tron.Overpaid, 12_000_000, "received 12000000 of 10000042"},
		{"usdt signature v 0/1", wantUSDT, func() string {
			return f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(10_000_042), trongridtest.ZeroV())
		}, tron.Paid, 10_000_042, ""},
		{"another token contract", wantUSDT, func() string { return f.srv.SendTRC20(f.payer, f.other, f.merchant, usd(10_000_042)) }, tron.WrongToken, 0, "another token"},
		{"trx instead of usdt", wantUSDT, func() string { return f.srv.SendTRX(f.payer, f.merchant, 10_000_042) }, tron.WrongToken, 0, "another token"},
		{"usdt to someone else", wantUSDT, func() string { return f.srv.SendTRC20(f.payer, tron.MainnetUSDT, stranger, usd(10_000_042)) }, tron.WrongRecipient, 0, "another address"},
		{"usdt reverted", wantUSDT, func() string {
			return f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(10_000_042), trongridtest.Fail("REVERT"))
		}, tron.Failed, 0, "REVERT: REVERT opcode executed"},
		{"usdt out of energy", wantUSDT, func() string {
			return f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(10_000_042), trongridtest.Fail("OUT_OF_ENERGY"))
		}, tron.Failed, 0, "OUT_OF_ENERGY"},
		{"trx paid exact", wantTRX, func() string { return f.srv.SendTRX(f.payer, f.merchant, 30_000_007) }, tron.Paid, 30_000_007, ""},
		{"trx underpaid", wantTRX, func() string { return f.srv.SendTRX(f.payer, f.merchant, 30_000_006) }, tron.Underpaid, 30_000_006, ""},
		{"trx overpaid", wantTRX, func() string { return f.srv.SendTRX(f.payer, f.merchant, 31_000_000) }, tron.Overpaid, 31_000_000, ""},
		{"trx to someone else", wantTRX, func() string { return f.srv.SendTRX(f.payer, stranger, 30_000_007) }, tron.WrongRecipient, 0, ""},
		{"usdt instead of trx", wantTRX, func() string { return f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(30_000_007)) }, tron.WrongToken, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.send()
			f.srv.Solidify()
			vd := f.verify(t, tt.exp, id)
			if vd.Outcome != tt.want || vd.TxID != id || vd.Received.Cmp(big.NewInt(tt.received)) != 0 {
				t.Fatalf("Verify = %v (%s), tx %s, received %s; want %v, tx %s, received %d", vd.Outcome, vd.Reason, vd.TxID, vd.Received, tt.want, id, tt.received)
			}
			if !strings.Contains(vd.Reason, tt.reason) {
				t.Fatalf("Verify reason = %q, want it to contain %q", vd.Reason, tt.reason)
			}
			if tt.want == tron.Paid && vd.Payer != trongridtest.Addr(f.payer) {
				t.Fatalf("Verify payer = %s, want %s", vd.Payer, trongridtest.Addr(f.payer))
			}
		})
	}
}

// TestVerifyTransferLogs checks that the token's own Transfer logs are
// what counts: a log another contract emits to the merchant is ignored,
// and two USDT logs to the merchant in one transaction add up.
func TestVerifyTransferLogs(t *testing.T) {
	f := newFixture(t, tron.ClientConfig{})
	exp := tron.Expected{Token: f.usdt, Merchant: f.merchant, Amount: usd(5_000_000)}
	forged := tron.LogJSON{
		Address: strings.Repeat("11", 20),
		Topics:  []string{hexOf(tron.TransferEventTopic[:]), word(trongridtest.Addr(f.payer)), word(f.merchant)},
		Data:    "00000000000000000000000000000000000000000000000000000000004c4b40",
	}
	id := f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(1_000_000), trongridtest.ExtraLogs(forged))
	f.srv.Solidify()
	if vd := f.verify(t, exp, id); vd.Outcome != tron.Underpaid || vd.Received.Int64() != 1_000_000 {
		t.Fatalf("with a forged log: %v received %s, want underpaid 1000000", vd.Outcome, vd.Received)
	}
	second := tron.LogJSON{Address: hexOf(tron.MainnetUSDT.EVM()), Topics: forged.Topics, Data: "00000000000000000000000000000000000000000000000000000000003d0900"}
	id = f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(1_000_000), trongridtest.ExtraLogs(second))
	f.srv.Solidify()
	if vd := f.verify(t, exp, id); vd.Outcome != tron.Paid {
		t.Fatalf("two USDT logs of 1 + 4 USDT: %v (%s), want paid", vd.Outcome, vd.Reason)
	}
}

func TestVerifyUnsolidifiedThenSolidified(t *testing.T) {
	f := newFixture(t, tron.ClientConfig{})
	exp := tron.Expected{Token: f.usdt, Merchant: f.merchant, Amount: usd(7_000_001)}
	id := f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(7_000_001), trongridtest.InMempool())
	if _, err := f.v.Verify(context.Background(), exp, id); !errors.Is(err, tron.ErrNotFound) {
		t.Fatalf("in the mempool: Verify = %v, want ErrNotFound (nodes find transactions in blocks)", err)
	}
	blk := f.srv.Mine()
	vd := f.verify(t, exp, id)
	if vd.Outcome != tron.Pending || vd.Obs.Solidified || vd.Obs.BlockNumber != blk || vd.Received.Int64() != 7_000_001 {
		t.Fatalf("in block %d, not solidified: %+v", blk, vd)
	}
	ctx := context.Background()
	if head, err := f.client.NowBlock(ctx, false); err != nil || head != blk {
		t.Fatalf("NowBlock = %d, %v; want %d", head, err, blk)
	}
	if solid, err := f.client.NowBlock(ctx, true); err != nil || solid >= blk {
		t.Fatalf("solid NowBlock = %d, %v; want below %d", solid, err, blk)
	}
	f.srv.Solidify()
	if vd := f.verify(t, exp, id); vd.Outcome != tron.Paid || !vd.Obs.Solidified {
		t.Fatalf("solidified: %v, want paid", vd.Outcome)
	}
	// A failure in a block not solidified yet is not final either.
	id = f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(7_000_001), trongridtest.Fail("REVERT"))
	if vd := f.verify(t, exp, id); vd.Outcome != tron.Pending || !strings.Contains(vd.Reason, "REVERT") {
		t.Fatalf("reverted, not solidified: %v (%s), want pending naming REVERT", vd.Outcome, vd.Reason)
	}
}

func TestVerifyRefusesUnsignedAndUnknown(t *testing.T) {
	f := newFixture(t, tron.ClientConfig{})
	exp := tron.Expected{Token: f.usdt, Merchant: f.merchant, Amount: usd(1)}
	id := f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(1), trongridtest.SignedBy(trongridtest.Key("thief")))
	f.srv.Solidify()
	if _, err := f.v.Verify(context.Background(), exp, id); !errors.Is(err, tron.ErrUnsigned) || !strings.Contains(err.Error(), id) {
		t.Fatalf("Verify of a transaction signed by another key = %v, want ErrUnsigned naming %s", err, id)
	}
	unknown := strings.Repeat("0", 64)
	if _, err := f.v.Verify(context.Background(), exp, unknown); !errors.Is(err, tron.ErrNotFound) {
		t.Fatalf("Verify of an unknown tx = %v, want ErrNotFound", err)
	}
	if _, err := f.v.Verify(context.Background(), exp, "xyz"); err == nil {
		t.Fatal("Verify of a malformed tx id = nil error")
	}
}

func TestTransactionSettlesOneIntent(t *testing.T) {
	f := newFixture(t, tron.ClientConfig{})
	exp := tron.Expected{Token: f.usdt, Merchant: f.merchant, Amount: usd(2_000_001)}
	id := f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(2_000_001))
	f.srv.Solidify()
	var claims tron.Claims
	for _, intent := range []string{"intent-a", "intent-b"} {
		vd := f.verify(t, exp, id)
		if vd.Outcome != tron.Paid || vd.TxID != id {
			t.Fatalf("%s: Verify = %v tx %s", intent, vd.Outcome, vd.TxID)
		}
		err := claims.Claim(vd.TxID, intent)
		switch intent {
		case "intent-a":
			if err != nil {
				t.Fatalf("first claim = %v", err)
			}
			if err := claims.Claim(vd.TxID, intent); err != nil {
				t.Fatalf("repeated claim for the same intent = %v, want nil", err)
			}
		case "intent-b":
			if !errors.Is(err, tron.ErrTxReused) || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "intent-a") {
				t.Fatalf("second claim = %v, want ErrTxReused naming %s and intent-a", err, id)
			}
		}
	}
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func word(a tron.Address) string { return strings.Repeat("0", 24) + hex.EncodeToString(a.EVM()) }
