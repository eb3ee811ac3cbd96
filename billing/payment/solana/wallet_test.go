package solana

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sol "github.com/gagliardetto/solana-go"

	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/solana/solanatest"
)

// Pay sends what the URL asks from a keypair file, the balances move, and
// the verifier finds the payment.
func TestPayAndBalance(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "id.json")
	nums := make([]int, len(e.payer))
	for i, b := range e.payer {
		nums[i] = int(b)
	}
	raw, _ := json.Marshal(nums)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := LoadKeypair(path)
	if err != nil || key.PublicKey() != e.payer.PublicKey() {
		t.Fatalf("LoadKeypair = %v, %v", key.PublicKey(), err)
	}
	if got, err := e.v.Balance(ctx, e.merchant, payment.USDC); err != nil || got != 0 {
		t.Fatalf("merchant USDC before = %d, %v", got, err)
	}
	stranger := newKey(t).PublicKey()
	if got, err := e.v.Balance(ctx, stranger, payment.USDC); err != nil || got != 0 {
		t.Fatalf("USDC of a wallet without a token account = %d, %v", got, err)
	}
	in := e.intent(t, payment.USDC, 1234)
	req, err := e.v.TransferRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.SetLandingCommitment(solanatest.Finalized)
	sig, err := Pay(ctx, e.client, req, key)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.v.Balance(ctx, e.merchant, payment.USDC); err != nil || got != 12_340_000 {
		t.Fatalf("merchant USDC after = %d, %v", got, err)
	}
	if got, err := e.v.Balance(ctx, e.payer.PublicKey(), payment.SOL); err != nil || got != 100_000_000_000-solanatest.FeePerSignature {
		t.Fatalf("payer SOL after = %d, %v", got, err)
	}
	obs, outs := e.verify(t, in)
	if len(obs) != 1 || obs[0].TxID != sig.String() || outs[0].Status != payment.StatusPaid {
		t.Fatalf("verify after Pay: %+v %+v", obs, outs)
	}
	if _, err := e.v.Balance(ctx, e.merchant, payment.TRX); err == nil {
		t.Fatal("balance of TRX on solana")
	}
	e.srv.SetFault("getBalance", solanatest.Fault{Code: -32005, Message: "Node is behind"})
	if _, err := e.v.Balance(ctx, e.merchant, payment.SOL); err == nil || !strings.Contains(err.Error(), "getBalance") {
		t.Fatalf("balance during an RPC error: %v", err)
	}
	for _, bad := range []string{`[1,2,3]`, `{"k":1}`, `not json`} {
		p := filepath.Join(t.TempDir(), "bad.json")
		if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadKeypair(p); err == nil {
			t.Errorf("LoadKeypair(%s) accepted", bad)
		}
	}
	// A keypair whose public half does not match its seed is refused.
	mismatched := append(sol.PrivateKey(nil), e.payer...)
	mismatched[40] ^= 0xff
	nums = nums[:0]
	for _, b := range mismatched {
		nums = append(nums, int(b))
	}
	raw, _ = json.Marshal(nums)
	p := filepath.Join(t.TempDir(), "mismatch.json")
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeypair(p); err == nil {
		t.Error("LoadKeypair accepted a keypair whose halves disagree")
	}
}
