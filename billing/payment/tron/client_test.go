package tron_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/payment/tron"
	"github.com/aerolithdb/aerolith/billing/payment/tron/trongridtest"
)

func TestFindPaymentByUniqueAmount(t *testing.T) {
	// A page size of 2 makes the listing page through the fingerprint.
	f := newFixture(t, tron.ClientConfig{PageSize: 2})
	ctx := context.Background()
	before := time.Now().Add(-time.Minute)
	old := f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(10_000_003)) // before the intent
	f.srv.Solidify()
	// The intent is created after the old transfer's block.
	created := time.UnixMilli(blockTime(t, f, old) + 1)
	open := map[string]bool{"10000001": true, "10000002": true}
	amount, err := tron.UniqueAmount(usd(10_000_000), func(a *big.Int) bool { return open[a.String()] })
	if err != nil || amount.Int64() != 10_000_003 {
		t.Fatalf("UniqueAmount = %v, %v; want 10000003", amount, err)
	}
	exp := tron.Expected{Token: f.usdt, Merchant: f.merchant, Amount: amount}
	for _, v := range []int64{10_000_001, 10_000_002, 10_000_000, 5} { // other intents' payments
		f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(v))
	}
	f.srv.SendTRC20(f.payer, f.other, f.merchant, amount) // same amount, another token
	notYet := f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, amount)
	if vd, err := f.v.FindPayment(ctx, exp, created, nil); err != nil || vd != nil {
		t.Fatalf("FindPayment before solidification = %v, %v; want none", vd, err)
	}
	f.srv.Solidify()
	hits := f.srv.Hits("/v1/accounts/" + f.merchant.String() + "/transactions/trc20")
	vd, err := f.v.FindPayment(ctx, exp, created, nil)
	if err != nil || vd == nil || vd.TxID != notYet || vd.Outcome != tron.Paid {
		t.Fatalf("FindPayment = %+v, %v; want paid by %s", vd, err, notYet)
	}
	if pages := f.srv.Hits("/v1/accounts/"+f.merchant.String()+"/transactions/trc20") - hits; pages < 3 {
		t.Fatalf("FindPayment read %d pages, want the listing paged (>= 3)", pages)
	}
	// Once claimed, the same transfer does not pay again; the old one
	// predates the intent.
	if vd, err := f.v.FindPayment(ctx, exp, before, func(id string) bool { return id == notYet }); err != nil || vd == nil || vd.TxID != old {
		t.Fatalf("FindPayment since before the old transfer = %+v, %v; want %s", vd, err, old)
	}
	if vd, err := f.v.FindPayment(ctx, exp, created, func(id string) bool { return id == notYet }); err != nil || vd != nil {
		t.Fatalf("FindPayment with the payment claimed = %+v, %v; want none", vd, err)
	}

	// Native TRX goes through /v1/accounts/{a}/transactions.
	trx := tron.Expected{Token: tron.TRX(), Merchant: f.merchant, Amount: usd(25_000_001)}
	for _, v := range []int64{25_000_002, 25_000_000, 1} {
		f.srv.SendTRX(f.payer, f.merchant, v)
	}
	id := f.srv.SendTRX(f.payer, f.merchant, 25_000_001)
	f.srv.Solidify()
	if vd, err := f.v.FindPayment(ctx, trx, created, nil); err != nil || vd == nil || vd.TxID != id {
		t.Fatalf("FindPayment(TRX) = %+v, %v; want %s", vd, err, id)
	}
	cands, err := f.v.Candidates(ctx, tron.TRX(), f.merchant, created)
	if err != nil || len(cands) != 4 || cands[3].TxID != id || cands[3].Amount.Int64() != 25_000_001 || cands[3].From != trongridtest.Addr(f.payer) || cands[3].BlockTime.Before(created) {
		t.Fatalf("Candidates(TRX) = %+v, %v; want 4, the last %s", cands, err, id)
	}
}

func blockTime(t *testing.T, f *fixture, id string) int64 {
	t.Helper()
	info, err := f.client.TransactionInfo(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return info.BlockTime.UnixMilli()
}

func TestListingPages(t *testing.T) {
	f := newFixture(t, tron.ClientConfig{PageSize: 3})
	var want []string
	for i := int64(1); i <= 10; i++ {
		want = append(want, f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(i)))
	}
	f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(99)) // not solidified
	f.srv.Solidify()
	f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(100))
	got, err := f.client.IncomingTRC20(context.Background(), f.merchant, tron.ListQuery{Contract: tron.MainnetUSDT})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 11 {
		t.Fatalf("IncomingTRC20 = %d transfers, want 11 solidified", len(got))
	}
	for i, id := range want {
		if got[i].TxID != id || got[i].Value.Int64() != int64(i+1) || got[i].From != trongridtest.Addr(f.payer) {
			t.Fatalf("transfer %d = %+v, want %s of %d oldest first", i, got[i], id, i+1)
		}
	}
	// A node that pages forever is cut off.
	c, _ := tron.NewClient(tron.ClientConfig{URL: f.srv.URL(), PageSize: 1, MaxPages: 4})
	if _, err := c.IncomingTRC20(context.Background(), f.merchant, tron.ListQuery{}); !errors.Is(err, tron.ErrRPC) || !strings.Contains(err.Error(), "more than 4 pages") {
		t.Fatalf("IncomingTRC20 over MaxPages = %v, want ErrRPC naming the limit", err)
	}
}

func TestRPCErrors(t *testing.T) {
	f := newFixture(t, tron.ClientConfig{})
	exp := tron.Expected{Token: f.usdt, Merchant: f.merchant, Amount: usd(1)}
	id := f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(1))
	f.srv.Solidify()
	ctx := context.Background()
	tests := []struct {
		name  string
		path  string
		fault trongridtest.Fault
		want  error
		text  string
	}{
		{"unavailable", "/wallet/gettransactionbyid", trongridtest.Fault{Status: 503, Body: "upstream down"}, tron.ErrRPC, "http 503: upstream down"},
		{"rate limited", "/walletsolidity/", trongridtest.Fault{Status: 429, Body: `{"Error":"limit"}`}, tron.ErrRPC, "http 429"},
		{"garbage", "/wallet/gettransactionbyid", trongridtest.Fault{Status: 200, Body: `{"txID": [`}, tron.ErrBadResponse, "transaction"},
		{"node error", "/walletsolidity/gettransactioninfobyid", trongridtest.Fault{Status: 200, Body: `{"Error":"class java.lang.NullPointerException : null"}`}, tron.ErrBadResponse, "NullPointerException"},
		{"other tx", "/wallet/gettransactionbyid", trongridtest.Fault{Status: 200, Body: `{}`}, tron.ErrNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.srv.SetFault(tt.path, tt.fault)
			defer f.srv.ClearFaults()
			_, err := f.v.Verify(ctx, exp, id)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("Verify = %v, want %v naming %q", err, tt.want, tt.text)
			}
		})
	}
	// A fault that passes: the next verification succeeds.
	f.srv.SetFault("/wallet/", trongridtest.Fault{Status: 502, Times: 1})
	if _, err := f.v.Verify(ctx, exp, id); !errors.Is(err, tron.ErrRPC) {
		t.Fatalf("Verify during the fault = %v, want ErrRPC", err)
	}
	if vd, err := f.v.Verify(ctx, exp, id); err != nil || vd.Outcome != tron.Paid {
		t.Fatalf("Verify after the fault = %v, %v; want paid", vd.Outcome, err)
	}
	f.srv.SetFault("/v1/", trongridtest.Fault{Status: 200, Body: `{"success":false,"error":"bad request"}`})
	if _, err := f.v.FindPayment(ctx, exp, time.Time{}, nil); !errors.Is(err, tron.ErrBadResponse) {
		t.Fatalf("FindPayment with a failing listing = %v, want ErrBadResponse", err)
	}
}

func TestTimeouts(t *testing.T) {
	f := newFixture(t, tron.ClientConfig{Timeout: 200 * time.Millisecond})
	exp := tron.Expected{Token: f.usdt, Merchant: f.merchant, Amount: usd(1)}
	id := f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(1))
	f.srv.Solidify()
	f.srv.SetFault("/walletsolidity/gettransactioninfobyid", trongridtest.Fault{Hang: true})
	_, err := f.v.Verify(context.Background(), exp, id)
	if !errors.Is(err, tron.ErrRPC) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Verify against a hanging node = %v, want ErrRPC wrapping the deadline", err)
	}
	// The caller's context bounds a call too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.srv.ClearFaults()
	if _, err := f.v.Verify(ctx, exp, id); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestAPIKey(t *testing.T) {
	f := newFixture(t, tron.ClientConfig{})
	f.srv.RequireAPIKey("k-123")
	if _, err := f.client.NowBlock(context.Background(), false); !errors.Is(err, tron.ErrRPC) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("NowBlock without the key = %v, want ErrRPC 401", err)
	}
	c, err := tron.NewClient(tron.ClientConfig{URL: f.srv.URL(), APIKey: "k-123"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.NowBlock(context.Background(), false); err != nil {
		t.Fatalf("NowBlock with the key = %v", err)
	}
}

func TestNewClientConfig(t *testing.T) {
	for _, u := range []string{"", "api.trongrid.io", "ftp://x", "http://"} {
		if _, err := tron.NewClient(tron.ClientConfig{URL: u}); err == nil {
			t.Errorf("NewClient(%q) = nil error", u)
		}
	}
}

// TestBuildSignBroadcast builds transfers through the node, signs them
// here and broadcasts them; the fake checks the signatures as the chain
// would and the verifier then sees the payments.
func TestBuildSignBroadcast(t *testing.T) {
	f := newFixture(t, tron.ClientConfig{})
	ctx := context.Background()
	from := trongridtest.Addr(f.payer)

	tx, err := f.client.CreateTransfer(ctx, from, f.merchant, 4_000_000)
	if err != nil {
		t.Fatal(err)
	}
	tx.Sign(f.payer)
	if err := f.client.Broadcast(ctx, tx); err != nil {
		t.Fatalf("Broadcast = %v", err)
	}
	if err := f.client.Broadcast(ctx, tx); err == nil || !strings.Contains(err.Error(), "DUP_TRANSACTION_ERROR") {
		t.Fatalf("second Broadcast = %v, want DUP_TRANSACTION_ERROR", err)
	}
	f.srv.Solidify()
	if vd := f.verify(t, tron.Expected{Token: tron.TRX(), Merchant: f.merchant, Amount: usd(4_000_000)}, tx.ID); vd.Outcome != tron.Paid {
		t.Fatalf("broadcast TRX transfer: %v (%s)", vd.Outcome, vd.Reason)
	}

	usdt, err := f.client.CreateTRC20Transfer(ctx, from, tron.MainnetUSDT, f.merchant, usd(3_500_000), 50_000_000)
	if err != nil {
		t.Fatal(err)
	}
	usdt.Sign(trongridtest.Key("someone else"))
	if err := f.client.Broadcast(ctx, usdt); err == nil || !strings.Contains(err.Error(), "SIGERROR") {
		t.Fatalf("Broadcast signed by another key = %v, want SIGERROR", err)
	}
	usdt, _ = f.client.CreateTRC20Transfer(ctx, from, tron.MainnetUSDT, f.merchant, usd(3_500_000), 50_000_000)
	usdt.Sign(f.payer)
	if err := f.client.Broadcast(ctx, usdt); err != nil {
		t.Fatalf("Broadcast = %v", err)
	}
	f.srv.Solidify()
	if vd := f.verify(t, tron.Expected{Token: f.usdt, Merchant: f.merchant, Amount: usd(3_500_000)}, usdt.ID); vd.Outcome != tron.Paid {
		t.Fatalf("broadcast USDT transfer: %v (%s)", vd.Outcome, vd.Reason)
	}

	if _, err := f.client.CreateTRC20Transfer(ctx, from, trongridtest.Addr(trongridtest.Key("no contract")), f.merchant, usd(1), 1); err == nil || !strings.Contains(err.Error(), "No contract") {
		t.Fatalf("CreateTRC20Transfer to no contract = %v, want the node's reason", err)
	}
	if _, err := f.client.CreateTransfer(ctx, from, from, 1); err == nil || !strings.Contains(err.Error(), "yourself") {
		t.Fatalf("CreateTransfer to oneself = %v, want the node's reason", err)
	}
}

// TestBalances reads balances from the chain and shows the chain's own
// refusals: a TRX transfer beyond the balance never enters a block, a
// USDT transfer beyond it reverts.
func TestBalances(t *testing.T) {
	f := newFixture(t, tron.ClientConfig{})
	ctx := context.Background()
	payer := trongridtest.Addr(f.payer)
	if sun, err := f.client.TRXBalance(ctx, f.merchant); err != nil || sun != 0 {
		t.Fatalf("TRXBalance of an account not on chain = %d, %v; want 0", sun, err)
	}
	f.srv.SendTRX(f.payer, f.merchant, 1_500_000)
	f.srv.SendTRC20(f.payer, tron.MainnetUSDT, f.merchant, usd(2_500_000))
	if sun, err := f.client.TRXBalance(ctx, f.merchant); err != nil || sun != 1_500_000 {
		t.Fatalf("TRXBalance(merchant) = %d, %v; want 1500000", sun, err)
	}
	if sun, err := f.client.TRXBalance(ctx, payer); err != nil || sun != payerTRX-1_500_000 {
		t.Fatalf("TRXBalance(payer) = %d, %v", sun, err)
	}
	if v, err := f.client.TRC20Balance(ctx, tron.MainnetUSDT, f.merchant); err != nil || v.Int64() != 2_500_000 {
		t.Fatalf("TRC20Balance(merchant) = %v, %v; want 2500000", v, err)
	}
	if _, err := f.client.TRC20Balance(ctx, trongridtest.Addr(trongridtest.Key("no contract")), f.merchant); !errors.Is(err, tron.ErrBadResponse) || !strings.Contains(err.Error(), "No contract") {
		t.Fatalf("TRC20Balance of no contract = %v, want the node's reason", err)
	}

	// The merchant holds 2.5 USDT: sending 3 reverts.
	merchantKey := trongridtest.Key("merchant")
	id := f.srv.SendTRC20(merchantKey, tron.MainnetUSDT, payer, usd(3_000_000))
	f.srv.Solidify()
	vd := f.verify(t, tron.Expected{Token: f.usdt, Merchant: payer, Amount: usd(3_000_000)}, id)
	if vd.Outcome != tron.Failed || !strings.Contains(vd.Reason, "REVERT") {
		t.Fatalf("USDT beyond the balance: %v (%s), want failed REVERT", vd.Outcome, vd.Reason)
	}
	// The merchant holds 1.5 TRX: the node refuses to build or take 2.
	if _, err := f.client.CreateTransfer(ctx, f.merchant, payer, 2_000_000); err == nil || !strings.Contains(err.Error(), "balance is not sufficient") {
		t.Fatalf("CreateTransfer beyond the balance = %v, want the node's refusal", err)
	}
	// Two transfers each within the balance, together beyond it: the
	// second broadcast is refused.
	tx, err := f.client.CreateTransfer(ctx, f.merchant, payer, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	tx2, err := f.client.CreateTransfer(ctx, f.merchant, payer, 900_000)
	if err != nil {
		t.Fatal(err)
	}
	tx.Sign(merchantKey)
	tx2.Sign(merchantKey)
	if err := f.client.Broadcast(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Broadcast(ctx, tx2); err == nil || !strings.Contains(err.Error(), "CONTRACT_VALIDATE_ERROR") {
		t.Fatalf("Broadcast beyond the balance = %v, want CONTRACT_VALIDATE_ERROR", err)
	}
}
