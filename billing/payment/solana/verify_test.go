package solana

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/programs/memo"
	"github.com/gagliardetto/solana-go/programs/system"

	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/solana/solanatest"
)

// Every outcome, from real signed transactions read back through the RPC.
func TestVerifyOutcomes(t *testing.T) {
	stranger := newKey(t).PublicKey()
	tests := []struct {
		name   string
		token  payment.Token
		cents  uint64
		opts   func(e *env, in payment.Intent) payOpts
		before func(e *env, in payment.Intent)
		want   payment.Outcome
		reason string
	}{
		{name: "usdc paid", token: payment.USDC, cents: 1000,
			want: payment.Outcome{Status: payment.StatusPaid, ValueCents: 1000}},
		{name: "sol paid", token: payment.SOL, cents: 1000,
			want: payment.Outcome{Status: payment.StatusPaid, ValueCents: 1000}},
		{name: "v0 usdc paid", token: payment.USDC, cents: 2500,
			opts: func(*env, payment.Intent) payOpts { return payOpts{v0: true} },
			want: payment.Outcome{Status: payment.StatusPaid, ValueCents: 2500}},
		{name: "v0 sol paid", token: payment.SOL, cents: 2500,
			opts: func(*env, payment.Intent) payOpts { return payOpts{v0: true} },
			want: payment.Outcome{Status: payment.StatusPaid, ValueCents: 2500}},
		{name: "underpaid", token: payment.USDC, cents: 1000,
			opts: func(*env, payment.Intent) payOpts {
				return payOpts{req: func(r *TransferRequest) { r.Amount = 4_000_000 }}
			},
			want: payment.Outcome{Status: payment.StatusUnderpaid, ValueCents: 400, ShortCents: 600}},
		{name: "overpaid", token: payment.USDC, cents: 1000,
			opts: func(*env, payment.Intent) payOpts {
				return payOpts{req: func(r *TransferRequest) { r.Amount = 15_000_000 }}
			},
			want: payment.Outcome{Status: payment.StatusOverpaid, ValueCents: 1500, CreditCents: 500}},
		{name: "late within the window", token: payment.SOL, cents: 1000,
			before: func(e *env, in payment.Intent) { e.now = in.Expires.Add(3 * time.Hour) },
			want:   payment.Outcome{Status: payment.StatusPaid, Late: true, ValueCents: 1000}},
		{name: "after the window", token: payment.USDC, cents: 1000,
			before: func(e *env, in payment.Intent) { e.now = in.MonitorUntil.Add(time.Minute) },
			want:   payment.Outcome{Status: payment.StatusRejected}, reason: "after the monitoring window"},
		{name: "wrong token: SOL for a USDC intent", token: payment.USDC, cents: 1000,
			opts: func(*env, payment.Intent) payOpts {
				return payOpts{req: func(r *TransferRequest) { r.SPLToken = sol.PublicKey{}; r.Decimals = 9 }}
			},
			want: payment.Outcome{Status: payment.StatusRejected}, reason: "paid in SOL"},
		{name: "wrong mint", token: payment.USDC, cents: 1000,
			before: func(e *env, _ payment.Intent) {
				e.srv.AddMint(stranger, 6)
				e.srv.FundToken(e.payer.PublicKey(), stranger, 50_000_000)
				e.srv.FundToken(e.merchant, stranger, 0)
			},
			opts: func(*env, payment.Intent) payOpts {
				return payOpts{req: func(r *TransferRequest) { r.SPLToken = stranger }}
			},
			want: payment.Outcome{Status: payment.StatusRejected}, reason: "not the accepted USDC mint"},
		{name: "wrong recipient", token: payment.SOL, cents: 1000,
			opts: func(*env, payment.Intent) payOpts {
				return payOpts{req: func(r *TransferRequest) { r.Recipient = stranger }}
			},
			want: payment.Outcome{Status: payment.StatusRejected}, reason: "paid to " + stranger.String()},
		{name: "failed transaction", token: payment.USDC, cents: 1000,
			opts: func(*env, payment.Intent) payOpts {
				return payOpts{skipPreflight: true, req: func(r *TransferRequest) { r.Amount = 5_000_000_000 }}
			},
			want: payment.Outcome{Status: payment.StatusFailed}, reason: "InstructionError"},
		{name: "memo missing", token: payment.USDC, cents: 1000,
			opts: func(*env, payment.Intent) payOpts {
				return payOpts{req: func(r *TransferRequest) { r.Memo = "" }}
			},
			want: payment.Outcome{Status: payment.StatusRejected}, reason: "no memo instruction"},
		{name: "memo changed", token: payment.USDC, cents: 1000,
			opts: func(*env, payment.Intent) payOpts {
				return payOpts{req: func(r *TransferRequest) { r.Memo = "someone else's invoice" }}
			},
			want: payment.Outcome{Status: payment.StatusRejected}, reason: "is not the intent's"},
		{name: "transfer is not the last instruction", token: payment.USDC, cents: 1000,
			opts: func(*env, payment.Intent) payOpts {
				return payOpts{ixs: func(ixs []sol.Instruction) []sol.Instruction {
					return append(ixs, memo.NewMemoInstruction([]byte("after")).Build())
				}}
			},
			want: payment.Outcome{Status: payment.StatusRejected}, reason: "last instruction is not a transfer"},
		{name: "an extra reference", token: payment.SOL, cents: 1000,
			opts: func(*env, payment.Intent) payOpts {
				return payOpts{req: func(r *TransferRequest) { r.References = append(r.References, stranger) }}
			},
			want: payment.Outcome{Status: payment.StatusRejected}, reason: "2 extra accounts"},
		{name: "reference on another instruction", token: payment.SOL, cents: 1000,
			opts: func(e *env, in payment.Intent) payOpts {
				return payOpts{ixs: func(ixs []sol.Instruction) []sol.Instruction {
					// The transfer without the reference, then a 1-lamport
					// self-transfer carrying it last.
					last := ixs[len(ixs)-1]
					data, _ := last.Data()
					plain := sol.NewInstruction(last.ProgramID(), last.Accounts()[:2], data)
					self := system.NewTransferInstruction(1, e.payer.PublicKey(), e.payer.PublicKey()).Build()
					sdata, _ := self.Data()
					carry := sol.NewInstruction(self.ProgramID(), append(self.Accounts(), sol.Meta(sol.MustPublicKeyFromBase58(in.Reference))), sdata)
					return append(ixs[:len(ixs)-1], plain, carry)
				}}
			},
			want: payment.Outcome{Status: payment.StatusRejected}, reason: "before the transfer is not a memo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			in := e.intent(t, tc.token, tc.cents)
			if tc.before != nil {
				tc.before(e, in)
			}
			var o payOpts
			if tc.opts != nil {
				o = tc.opts(e, in)
			}
			sig := e.pay(t, in, o)
			obs, outs := e.verify(t, in)
			if len(obs) != 1 {
				t.Fatalf("Verify found %d observations, want 1: %+v", len(obs), obs)
			}
			if obs[0].TxID != sig.String() || obs[0].Chain != payment.Solana {
				t.Fatalf("observation %+v is not transaction %s", obs[0], sig)
			}
			reason := tc.reason
			got := outs[0]
			if !strings.Contains(got.Reason, reason) {
				t.Fatalf("reason %q, want it to contain %q (observation %+v)", got.Reason, reason, obs[0])
			}
			got.Reason = ""
			if got != tc.want {
				t.Fatalf("outcome %+v, want %+v (observation %+v)", got, tc.want, obs[0])
			}
		})
	}
}

// A wrong-chain intent is refused before any RPC call.
func TestVerifyWrongChain(t *testing.T) {
	e := newEnv(t)
	in := e.intent(t, payment.USDC, 100)
	in.Chain, in.Token = payment.Tron, payment.USDT
	if _, err := e.v.Verify(context.Background(), in); err == nil || !strings.Contains(err.Error(), "not solana") {
		t.Fatalf("Verify of a tron intent: %v", err)
	}
	if e.srv.Calls("getSignaturesForAddress") != 0 {
		t.Fatal("the chain was asked")
	}
}

// A payment seen confirmed is pending; once finalized it counts. One only
// processed is not seen at all.
func TestConfirmedThenFinalized(t *testing.T) {
	e := newEnv(t)
	in := e.intent(t, payment.USDC, 1000)
	processed := solanatest.Processed
	sig := e.pay(t, in, payOpts{level: &processed})
	if obs, _ := e.verify(t, in); len(obs) != 0 {
		t.Fatalf("a processed transaction was observed: %+v", obs)
	}
	e.srv.SetCommitment(sig, solanatest.Confirmed)
	obs, outs := e.verify(t, in)
	if len(obs) != 1 || obs[0].Finality != payment.Confirmed || outs[0].Status != payment.StatusPending || outs[0].Settles() {
		t.Fatalf("confirmed: %+v %+v", obs, outs)
	}
	e.srv.SetCommitment(sig, solanatest.Finalized)
	obs, outs = e.verify(t, in)
	if len(obs) != 1 || obs[0].Finality != payment.Finalized || outs[0].Status != payment.StatusPaid {
		t.Fatalf("finalized: %+v %+v", obs, outs)
	}
}

// One transaction presented for two intents: an intent with its own fresh
// reference never sees it; an intent created with the same reference (a
// reused reference) sees the very same transaction id, which the ledger
// settles at most once.
func TestReplayAcrossIntents(t *testing.T) {
	e := newEnv(t)
	a := e.intent(t, payment.USDC, 1000)
	sig := e.pay(t, a, payOpts{})
	b := e.intent(t, payment.USDC, 1000)
	if a.Reference == b.Reference {
		t.Fatal("two intents got the same reference")
	}
	if obs, _ := e.verify(t, b); len(obs) != 0 {
		t.Fatalf("intent b observed a's payment: %+v", obs)
	}
	reused := b
	reused.Reference = a.Reference
	obsA, _ := e.verify(t, a)
	obsB, outsB := e.verify(t, reused)
	if len(obsA) != 1 || len(obsB) != 1 || obsA[0].TxID != sig.String() || obsB[0].TxID != sig.String() {
		t.Fatalf("replay: a %+v, b %+v", obsA, obsB)
	}
	if outsB[0].Status != payment.StatusPaid {
		t.Fatalf("the chain view of the replay is %+v; only the ledger's settled-once set stops it", outsB[0])
	}
	// A memo for another invoice does not pass even with the reference.
	other := reused
	other.Memo = "aerolith inv_2"
	if _, outs := e.verify(t, other); outs[0].Status != payment.StatusRejected {
		t.Fatalf("memo of another invoice: %+v", outs[0])
	}
}

// A reference used by several transactions: a failed attempt, the
// payment, and a second payment — all reported, oldest first.
func TestReferenceReuse(t *testing.T) {
	e := newEnv(t)
	in := e.intent(t, payment.USDC, 1000)
	failed := e.pay(t, in, payOpts{skipPreflight: true, req: func(r *TransferRequest) { r.Amount = 5_000_000_000 }})
	first := e.pay(t, in, payOpts{})
	second := e.pay(t, in, payOpts{})
	obs, outs := e.verify(t, in)
	if len(obs) != 3 {
		t.Fatalf("%d observations, want 3", len(obs))
	}
	want := []struct {
		sig    sol.Signature
		status payment.Status
	}{{failed, payment.StatusFailed}, {first, payment.StatusPaid}, {second, payment.StatusPaid}}
	for i, w := range want {
		if obs[i].TxID != w.sig.String() || outs[i].Status != w.status {
			t.Errorf("observation %d = %s %s, want %s %s", i, obs[i].TxID, outs[i].Status, w.sig, w.status)
		}
	}
}

// Paging back through getSignaturesForAddress: exactly 1,000 signatures
// fill one page, so a second (empty) page must be asked for; 1,001 put
// the oldest, the payment, on the second page.
func TestPaginationAtThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("lands 1,001 transactions")
	}
	e := newEnv(t)
	in := e.intent(t, payment.SOL, 1000)
	pay := e.pay(t, in, payOpts{})
	ref := sol.MustPublicKeyFromBase58(in.Reference)
	noise := func() {
		ix := system.NewTransferInstruction(1, e.payer.PublicKey(), e.payer.PublicKey()).Build()
		data, _ := ix.Data()
		tx, err := sol.NewTransaction([]sol.Instruction{sol.NewInstruction(ix.ProgramID(), append(ix.Accounts(), sol.Meta(ref)), data)},
			e.srv.LatestBlockhash(), sol.TransactionPayer(e.payer.PublicKey()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Sign(func(sol.PublicKey) *sol.PrivateKey { return &e.payer }); err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Submit(tx, false); err != nil {
			t.Fatal(err)
		}
	}
	for range 999 {
		noise()
	}
	e.srv.Advance(solanatest.Finalized)
	check := func(total, pages int) {
		t.Helper()
		before := e.srv.Calls("getSignaturesForAddress")
		obs, outs := e.verify(t, in)
		if got := e.srv.Calls("getSignaturesForAddress") - before; got != pages {
			t.Fatalf("%d signatures took %d pages, want %d", total, got, pages)
		}
		if len(obs) != total || obs[0].TxID != pay.String() || outs[0].Status != payment.StatusPaid {
			t.Fatalf("%d observations (want %d), oldest %s %s (want the payment %s)", len(obs), total, obs[0].TxID, outs[0].Status, pay)
		}
		for _, o := range outs[1:] {
			if o.Settles() {
				t.Fatalf("a self-transfer settles: %+v", o)
			}
		}
	}
	check(1000, 2)
	noise()
	e.srv.Advance(solanatest.Finalized)
	check(1001, 2)

	e.v.MaxSignatures = 1000
	if _, err := e.v.Verify(context.Background(), in); !errors.Is(err, ErrTooManySignatures) {
		t.Fatalf("over MaxSignatures: %v", err)
	}
}

// RPC errors and timeouts are errors (nothing is concluded), and the next
// try after they clear sees the payment.
func TestRPCErrorsAndTimeouts(t *testing.T) {
	e := newEnv(t)
	in := e.intent(t, payment.USDC, 1000)
	sig := e.pay(t, in, payOpts{})
	faults := []struct {
		method string
		fault  solanatest.Fault
		is     error
	}{
		{"getSignaturesForAddress", solanatest.Fault{Code: -32005, Message: "Node is unhealthy"}, ErrRPC},
		{"getTransaction", solanatest.Fault{Code: -32603, Message: "Internal error"}, ErrRPC},
		{"getTransaction", solanatest.Fault{HTTPStatus: http.StatusServiceUnavailable}, ErrRPC},
		{"getSignaturesForAddress", solanatest.Fault{Delay: time.Minute}, context.DeadlineExceeded},
		{"getTransaction", solanatest.Fault{Delay: time.Minute}, context.DeadlineExceeded},
	}
	for _, f := range faults {
		e.srv.SetFault(f.method, f.fault)
		// Only the delays need the client to give up; the other faults
		// answer at once, and a short deadline would turn them into
		// timeouts on a loaded machine.
		timeout := 30 * time.Second
		if f.fault.Delay > 0 {
			timeout = 300 * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		obs, err := e.v.Verify(ctx, in)
		cancel()
		if !errors.Is(err, f.is) || obs != nil {
			t.Errorf("%s %+v: Verify = %v, %v; want an error wrapping %v", f.method, f.fault, obs, err, f.is)
		}
		e.srv.SetFault(f.method, solanatest.Fault{})
	}
	obs, outs := e.verify(t, in)
	if len(obs) != 1 || obs[0].TxID != sig.String() || outs[0].Status != payment.StatusPaid {
		t.Fatalf("after the faults: %+v %+v", obs, outs)
	}
}

// With several references, they must be the transfer's extra accounts
// exactly and in the order asked.
func TestReferencesInOrder(t *testing.T) {
	e := newEnv(t)
	in := e.intent(t, payment.SOL, 1000)
	r1 := sol.MustPublicKeyFromBase58(in.Reference)
	r2 := newKey(t).PublicKey()
	for _, tc := range []struct {
		name string
		sent []sol.PublicKey
		want string
	}{
		{"in order", []sol.PublicKey{r1, r2}, ""},
		{"swapped", []sol.PublicKey{r2, r1}, "reference 0 is " + r2.String()},
		{"one missing", []sol.PublicKey{r1}, "1 extra accounts, the intent 2"},
	} {
		sig := e.pay(t, in, payOpts{req: func(r *TransferRequest) { r.References = tc.sent }})
		ob, found, err := e.v.observe(context.Background(), sig, in, []sol.PublicKey{r1, r2})
		if err != nil || !found {
			t.Fatalf("%s: observe: %v, found %v", tc.name, err, found)
		}
		if !strings.Contains(ob.Rejected, tc.want) || (tc.want == "") != (ob.Rejected == "") {
			t.Errorf("%s: rejected %q, want %q", tc.name, ob.Rejected, tc.want)
		}
	}
}
