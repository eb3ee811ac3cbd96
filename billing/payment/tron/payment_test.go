package tron_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/tron"
	"github.com/aerolithdb/aerolith/billing/payment/tron/trongridtest"
)

// TestPaymentVerifier: the adapter maps each verdict onto the core's
// observation so that payment.Assess reaches the same outcome.
func TestPaymentVerifier(t *testing.T) {
	f := newFixture(t, tron.ClientConfig{})
	pv, err := tron.NewPaymentVerifier(tron.Settings{Client: tron.ClientConfig{URL: f.srv.URL(), Timeout: 10 * time.Second}, Merchant: f.merchant, USDT: f.usdt, TRX: tron.TRX()})
	if err != nil {
		t.Fatal(err)
	}
	in := payment.Intent{ID: payment.NewIntentID(), Chain: payment.Tron, Token: payment.USDT, AmountCents: 1000, Amount: 10_000_042,
		Rate: payment.ParRate(payment.USDT), Recipient: f.merchant.String(), Created: time.Now().Add(-time.Minute),
		Expires: time.Now().Add(time.Hour), MonitorUntil: time.Now().Add(2 * time.Hour)}
	stranger := trongridtest.Addr(trongridtest.Key("stranger"))
	tests := []struct {
		name string
		send func() string
		want payment.Status
	}{
		{"exact", func() string { return f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(10_000_042)) }, payment.StatusPaid},
		{"under", func() string { return f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(5_000_000)) }, payment.StatusUnderpaid},
		{"over", func() string { return f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(20_000_000)) }, payment.StatusOverpaid},
		{"trx instead", func() string { return f.srv.SendTRX(f.payer, f.merchant, 10_000_042) }, payment.StatusRejected},
		{"elsewhere", func() string { return f.srv.SendTRC20(f.payer, tron.MainnetUSDT, stranger, usd(10_000_042)) }, payment.StatusRejected},
		{"reverted", func() string {
			return f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(10_000_042), trongridtest.Fail("REVERT"))
		}, payment.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.send()
			ob, err := pv.VerifyTx(context.Background(), in, id)
			if err != nil {
				t.Fatal(err)
			}
			if got := payment.Assess(in, ob).Status; got != payment.StatusPending {
				t.Fatalf("before solidification: %s (%+v), want pending", got, ob)
			}
			f.srv.Solidify()
			ob, err = pv.VerifyTx(context.Background(), in, id)
			if err != nil {
				t.Fatal(err)
			}
			if got := payment.Assess(in, ob); got.Status != tt.want || ob.TxID != id {
				t.Fatalf("Assess = %+v (%+v), want %s", got, ob, tt.want)
			}
		})
	}
	// The watcher's search finds only the exact amount.
	obs, err := pv.Verify(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 1 || obs[0].Amount != in.Amount || payment.Assess(in, obs[0]).Status != payment.StatusPaid {
		t.Fatalf("Verify = %+v, want the one exact transfer", obs)
	}
	if _, err := pv.Verify(context.Background(), payment.Intent{ID: "x", Chain: payment.Solana}); !errors.Is(err, tron.ErrNotTron) {
		t.Fatalf("solana intent: %v, want ErrNotTron", err)
	}
}

func TestUniqueIntent(t *testing.T) {
	open := []payment.Intent{{ID: "a", Token: payment.USDT, Amount: 101}, {ID: "b", Token: payment.USDT, Amount: 102}, {ID: "c", Token: payment.TRX, Amount: 103}}
	in := payment.Intent{ID: "d", Chain: payment.Tron, Token: payment.USDT, Amount: 100}
	if err := tron.UniqueIntent(&in, open); err != nil || in.Amount != 103 {
		t.Fatalf("UniqueIntent = %d, %v; want 103 (101, 102 taken; TRX's 103 is another token)", in.Amount, err)
	}
	for _, tt := range []struct {
		quoted, amount uint64
		ok             bool
	}{{100, 100, false}, {100, 101, true}, {100, 100 + tron.MaxOffset, true}, {100, 101 + tron.MaxOffset, false}, {100, 99, false}} {
		if got := tron.AmountOffsetOK(tt.quoted, tt.amount); got != tt.ok {
			t.Errorf("AmountOffsetOK(%d, %d) = %v, want %v", tt.quoted, tt.amount, got, tt.ok)
		}
	}
}
