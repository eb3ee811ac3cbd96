package solana

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc"

	"github.com/aerolithdb/aerolith/billing/payment"
)

// rawCall posts one JSON-RPC request to the fake and returns its raw
// result, as solana-go would receive it.
func rawCall(t testing.TB, url, method string, params ...any) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Result
}

// FuzzDecodeTransaction feeds getTransaction results — real ones from the
// fake node, then mutated — through solana-go's decoding and the
// verifier's checks: nothing panics, and whatever is not rejected names
// an accepted token and a recipient. The signed transaction cannot be
// forged, but the meta (balances, loaded addresses) is the RPC's word.
func FuzzDecodeTransaction(f *testing.F) {
	e := newEnv(f)
	usdc := e.intent(f, payment.USDC, 1000)
	solIn := e.intent(f, payment.SOL, 1000)
	var seeds []sol.Signature
	seeds = append(seeds, e.pay(f, usdc, payOpts{}), e.pay(f, usdc, payOpts{v0: true}), e.pay(f, solIn, payOpts{}),
		e.pay(f, usdc, payOpts{skipPreflight: true, req: func(r *TransferRequest) { r.Amount = 5_000_000_000 }}))
	for _, sig := range seeds {
		for _, enc := range []string{"base64", "json"} {
			f.Add(sig.String(), rawCall(f, e.srv.URL(), "getTransaction", sig.String(),
				map[string]any{"encoding": enc, "commitment": "finalized", "maxSupportedTransactionVersion": 0}))
		}
	}
	f.Add(seeds[0].String(), []byte(`{"slot":1,"transaction":["AAAA","base64"],"meta":{"err":null}}`))
	f.Fuzz(func(t *testing.T, sigText string, raw []byte) {
		sig, err := sol.SignatureFromBase58(sigText)
		if err != nil {
			return
		}
		var res rpc.GetTransactionResult
		if err := json.Unmarshal(raw, &res); err != nil {
			return
		}
		for _, in := range []payment.Intent{usdc, solIn} {
			ob := e.v.inspect(sig, &res, in, []sol.PublicKey{sol.MustPublicKeyFromBase58(in.Reference)})
			if ob.Rejected == "" && !ob.Failed && ((ob.Token != payment.SOL && ob.Token != payment.USDC) || ob.Recipient == "") {
				t.Fatalf("accepted observation without token or recipient: %+v", ob)
			}
			if ob.TxID != sig.String() {
				t.Fatalf("observation of %s names %s", sig, ob.TxID)
			}
		}
	})
}

// FuzzSignaturesPage feeds getSignaturesForAddress results through
// solana-go's decoding and the page checks.
func FuzzSignaturesPage(f *testing.F) {
	e := newEnv(f)
	in := e.intent(f, payment.USDC, 1000)
	e.pay(f, in, payOpts{})
	e.pay(f, in, payOpts{})
	f.Add(rawCall(f, e.srv.URL(), "getSignaturesForAddress", in.Reference, map[string]any{"limit": 1000, "commitment": "confirmed"}))
	f.Add([]byte(`[null]`))
	f.Add([]byte(`[{"signature":"1111111111111111111111111111111111111111111111111111111111111111"}]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var page []*rpc.TransactionSignature
		if err := json.Unmarshal(raw, &page); err != nil {
			return
		}
		seen := map[sol.Signature]bool{}
		if err := checkPage(page, 2, seen); err != nil {
			return
		}
		if len(seen) != len(page) || len(page) > 2 {
			t.Fatalf("page of %d accepted with %d distinct signatures", len(page), len(seen))
		}
	})
}
