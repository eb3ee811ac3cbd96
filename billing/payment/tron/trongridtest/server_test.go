package trongridtest

import (
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/billing/payment/tron"
)

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestWireShapes pins the fake's answers to TronGrid's shapes: {} for
// unknown or unsolidified transactions on the solidity endpoints, newest
// first unless asked otherwise, 400 with success false for bad input.
func TestWireShapes(t *testing.T) {
	s := New()
	defer s.Close()
	usdt := tron.MainnetUSDT
	s.AddToken(usdt, "USDT")
	payer, merchant := Key("payer"), Addr(Key("merchant"))
	s.Fund(Addr(payer), 100)
	s.Mint(usdt, Addr(payer), big.NewInt(100))
	first := s.SendTRC20(payer, usdt, merchant, big.NewInt(1))
	second := s.SendTRX(payer, merchant, 2)

	if _, body := post(t, s.URL()+"/walletsolidity/gettransactionbyid", `{"value":"`+first+`"}`); body != "{}\n" {
		t.Fatalf("solidity gettransactionbyid before solidification = %s, want {}", body)
	}
	if _, body := post(t, s.URL()+"/wallet/gettransactionbyid", `{"value":"`+strings.ToUpper(first)+`"}`); !strings.Contains(body, `"raw_data_hex"`) {
		t.Fatalf("gettransactionbyid = %s, want the transaction", body)
	}
	s.Solidify()
	if _, body := post(t, s.URL()+"/walletsolidity/gettransactioninfobyid", `{"value":"`+first+`"}`); !strings.Contains(body, `"log"`) || !strings.Contains(body, `"SUCCESS"`) {
		t.Fatalf("solidity info = %s, want a log and SUCCESS", body)
	}
	_, body := get(t, s.URL()+"/v1/accounts/"+merchant.String()+"/transactions")
	var page struct {
		Data []tron.TxJSON `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Data) != 1 || page.Data[0].TxID != second {
		// only the TRX transfer is to the merchant; the trigger is to the contract
		t.Fatalf("account transactions = %s, %v; want the TRX transfer only", body, err)
	}
	if code, body := get(t, s.URL()+"/v1/accounts/nope/transactions/trc20"); code != 400 || !strings.Contains(body, `"success":false`) {
		t.Fatalf("bad address = %d %s", code, body)
	}
	if code, _ := get(t, s.URL()+"/v1/accounts/"+merchant.String()+"/transactions/trc20?fingerprint=!!!"); code != 400 {
		t.Fatalf("bad fingerprint = %d, want 400", code)
	}
	if code, _ := get(t, s.URL()+"/v1/accounts/"+merchant.String()+"/transactions/trc20?limit=201"); code != 400 {
		t.Fatalf("limit 201 = %d, want 400", code)
	}
	if code, _ := post(t, s.URL()+"/wallet/nosuch", `{}`); code != 404 {
		t.Fatalf("unknown path = %d, want 404", code)
	}
	if _, body := post(t, s.URL()+"/wallet/createtransaction", `{"owner_address":"x"}`); !strings.Contains(body, `"Error"`) {
		t.Fatalf("createtransaction with a bad owner = %s, want an Error", body)
	}
}
