package tron

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// signedTxJSON builds a signed TRX transfer as TronGrid renders it.
func signedTxJSON(t testing.TB, key *secp256k1.PrivateKey, to Address, sun int64) TxJSON {
	t.Helper()
	r := &RawData{RefBlockBytes: []byte{0, 1}, RefBlockHash: make([]byte, 8), Expiration: 60_000, Timestamp: 1,
		Contracts: []Contract{{Type: TransferContractType, Transfer: &TransferContract{Owner: PublicKeyAddress(key.PubKey()), To: to, Amount: sun}}}}
	raw := r.Marshal()
	id := TxID(raw)
	return TxJSON{TxID: hex.EncodeToString(id[:]), RawDataHex: hex.EncodeToString(raw), RawData: json.RawMessage(`{}`),
		Signature: []string{hex.EncodeToString(Sign(key, id))}, Ret: []TxRet{{ContractRet: "SUCCESS"}}}
}

func testKey(seed byte) *secp256k1.PrivateKey {
	var b [32]byte
	b[0], b[31] = seed, 1
	return secp256k1.PrivKeyFromBytes(b[:])
}

func TestDecodeTransaction(t *testing.T) {
	key := testKey(1)
	good := signedTxJSON(t, key, MainnetUSDT, 5)
	enc := func(j TxJSON) []byte { b, _ := json.Marshal(j); return b }
	tx, err := DecodeTransaction(enc(good))
	if err != nil {
		t.Fatal(err)
	}
	if !tx.SignedBy(PublicKeyAddress(key.PubKey())) || tx.SignedBy(MainnetUSDT) {
		t.Fatal("SignedBy does not tell the owner from another address")
	}
	if _, err := DecodeTransaction([]byte(" {} ")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DecodeTransaction({}) = %v, want ErrNotFound", err)
	}
	mut := func(f func(*TxJSON)) []byte { j := good; f(&j); return enc(j) }
	bad := map[string][]byte{
		"node error":      []byte(`{"Error":"class java.lang.NullPointerException : null"}`),
		"not json":        []byte(`{"txID":`),
		"trailing":        append(enc(good), []byte(`{}`)...),
		"txID not hex":    mut(func(j *TxJSON) { j.TxID = strings.Repeat("z", 64) }),
		"txID mismatch":   mut(func(j *TxJSON) { j.TxID = strings.Repeat("0", 64) }),
		"raw hex missing": mut(func(j *TxJSON) { j.RawDataHex = "" }),
		"short signature": mut(func(j *TxJSON) { j.Signature = []string{"00"} }),
	}
	for name, b := range bad {
		if _, err := DecodeTransaction(b); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: DecodeTransaction = %v, want ErrBadResponse", name, err)
		}
	}
}

func TestDecodeTransactionInfo(t *testing.T) {
	to := Address(MustAddress("417e5f4552091a69125d5dfcb7b8c2659029395bdf"))
	id := strings.Repeat("ab", 32)
	body := fmt.Sprintf(`{"id":"%s","fee":345000,"blockNumber":51234567,"blockTimeStamp":1690000000000,"contractResult":["%064x"],
		"contract_address":"41a614f803b6fd780986a42c78ec9c7f77e6ded13c",
		"receipt":{"energy_usage_total":14650,"net_usage":345,"result":"SUCCESS"},
		"log":[{"address":"a614f803b6fd780986a42c78ec9c7f77e6ded13c","topics":["%x","%064x","%064x"],"data":"%064x"}]}`,
		id, 1, TransferEventTopic, MainnetUSDT.EVM(), to.EVM(), 1_000_001)
	info, err := DecodeTransactionInfo([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if info.BlockNumber != 51234567 || info.ReceiptResult != "SUCCESS" || info.ContractAddress != MainnetUSDT || len(info.Logs) != 1 {
		t.Fatalf("DecodeTransactionInfo = %+v", info)
	}
	from, gotTo, v, ok := info.Logs[0].TRC20Transfer()
	if !ok || from != MainnetUSDT || gotTo != to || v.Cmp(big.NewInt(1_000_001)) != 0 {
		t.Fatalf("TRC20Transfer = %s %s %v %v", from, gotTo, v, ok)
	}
	failed := fmt.Sprintf(`{"id":"%s","blockNumber":7,"result":"FAILED","resMessage":"%x","receipt":{"result":"REVERT"}}`, id, "REVERT opcode executed")
	info, err = DecodeTransactionInfo([]byte(failed))
	if err != nil || !info.Failed || info.Message != "REVERT opcode executed" {
		t.Fatalf("DecodeTransactionInfo(failed) = %+v, %v", info, err)
	}
	sucess := fmt.Sprintf(`{"id":"%s","blockNumber":7,"result":"SUCESS","receipt":{"net_usage":268}}`, id)
	if info, err := DecodeTransactionInfo([]byte(sucess)); err != nil || info.Failed {
		t.Fatalf("DecodeTransactionInfo(SUCESS, java-tron's spelling) = %+v, %v", info, err)
	}
	bad := []string{
		`{"id":"zz","blockNumber":1}`,
		fmt.Sprintf(`{"id":"%s","blockNumber":0}`, id),
		fmt.Sprintf(`{"id":"%s","blockNumber":1,"result":"MAYBE"}`, id),
		fmt.Sprintf(`{"id":"%s","blockNumber":1,"contract_address":"nope"}`, id),
		fmt.Sprintf(`{"id":"%s","blockNumber":1,"log":[{"address":"a614","topics":[],"data":""}]}`, id),
		fmt.Sprintf(`{"id":"%s","blockNumber":1,"log":[{"address":"a614f803b6fd780986a42c78ec9c7f77e6ded13c","topics":["01"],"data":""}]}`, id),
		fmt.Sprintf(`{"id":"%s","blockNumber":"1"}`, id),
		`{"Error":"boom"}`,
	}
	for _, b := range bad {
		if _, err := DecodeTransactionInfo([]byte(b)); !errors.Is(err, ErrBadResponse) {
			t.Errorf("DecodeTransactionInfo(%s) = %v, want ErrBadResponse", b, err)
		}
	}
}

func TestDecodeNowBlock(t *testing.T) {
	n, err := DecodeNowBlock([]byte(`{"blockID":"00","block_header":{"raw_data":{"number":77,"timestamp":5}}}`))
	if err != nil || n != 77 {
		t.Fatalf("DecodeNowBlock = %d, %v", n, err)
	}
	for _, b := range []string{`{}`, `{"block_header":{"raw_data":{"number":-1}}}`, `[]`, `{"Error":"x"}`} {
		if _, err := DecodeNowBlock([]byte(b)); !errors.Is(err, ErrBadResponse) {
			t.Errorf("DecodeNowBlock(%s) = %v, want ErrBadResponse", b, err)
		}
	}
}

func FuzzDecodeTransaction(f *testing.F) {
	good, _ := json.Marshal(signedTxJSON(f, testKey(2), MainnetUSDT, 9))
	f.Add(good)
	for _, m := range mainnetTxs {
		f.Add([]byte(m.json))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"Error":"x"}`))
	f.Add([]byte(`{"txID":"00","raw_data_hex":"0a"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := DecodeTransaction(b)
		if err != nil {
			if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrBadResponse) {
				t.Fatalf("DecodeTransaction error %v is neither ErrNotFound nor ErrBadResponse", err)
			}
			return
		}
		if id := TxID(tx.Raw); hex.EncodeToString(id[:]) != tx.ID {
			t.Fatalf("decoded transaction %s whose raw data hashes to %x", tx.ID, id)
		}
		for _, s := range tx.Signatures {
			if len(s) != SignatureLen {
				t.Fatalf("signature of %d bytes accepted", len(s))
			}
		}
	})
}

func FuzzDecodeTransactionInfo(f *testing.F) {
	id := strings.Repeat("cd", 32)
	f.Add([]byte(fmt.Sprintf(`{"id":"%s","blockNumber":3,"contract_address":"41a614f803b6fd780986a42c78ec9c7f77e6ded13c","receipt":{"result":"SUCCESS"},"log":[{"address":"a614f803b6fd780986a42c78ec9c7f77e6ded13c","topics":["%x","%064x","%064x"],"data":"%064x"}]}`,
		id, TransferEventTopic, 1, 2, 3)))
	f.Add([]byte(fmt.Sprintf(`{"id":"%s","blockNumber":3,"result":"FAILED","resMessage":"zz"}`, id)))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"blockNumber":1e99}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := DecodeTransactionInfo(b)
		if err != nil {
			if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrBadResponse) {
				t.Fatalf("DecodeTransactionInfo error %v is neither ErrNotFound nor ErrBadResponse", err)
			}
			return
		}
		if info.BlockNumber <= 0 || len(info.ID) != 64 {
			t.Fatalf("accepted info %+v", info)
		}
		for _, l := range info.Logs {
			if _, _, v, ok := l.TRC20Transfer(); ok && v.Sign() < 0 {
				t.Fatalf("negative transfer value %s", v)
			}
		}
	})
}

func FuzzDecodeNowBlock(f *testing.F) {
	f.Add([]byte(`{"blockID":"00","block_header":{"raw_data":{"number":77}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeNowBlock(b)
		if err == nil && n <= 0 {
			t.Fatalf("DecodeNowBlock = %d, nil", n)
		}
		if err != nil && !errors.Is(err, ErrBadResponse) {
			t.Fatalf("DecodeNowBlock error %v is not ErrBadResponse", err)
		}
	})
}

func TestDecodeBalances(t *testing.T) {
	if b, err := DecodeAccountBalance([]byte(`{"address":"41a614f803b6fd780986a42c78ec9c7f77e6ded13c","balance":42,"create_time":1}`)); err != nil || b != 42 {
		t.Fatalf("DecodeAccountBalance = %d, %v", b, err)
	}
	if b, err := DecodeAccountBalance([]byte(`{}`)); err != nil || b != 0 {
		t.Fatalf("DecodeAccountBalance({}) = %d, %v", b, err)
	}
	for _, s := range []string{`{"address":"x","balance":1}`, `{"address":"41a614f803b6fd780986a42c78ec9c7f77e6ded13c","balance":-1}`, `{"Error":"x"}`, `[`} {
		if _, err := DecodeAccountBalance([]byte(s)); !errors.Is(err, ErrBadResponse) {
			t.Errorf("DecodeAccountBalance(%s) = %v, want ErrBadResponse", s, err)
		}
	}
	out, err := DecodeConstantResult([]byte(fmt.Sprintf(`{"result":{"result":true},"energy_used":935,"constant_result":["%064x"]}`, 7)))
	if err != nil || len(out) != 32 || out[31] != 7 {
		t.Fatalf("DecodeConstantResult = %x, %v", out, err)
	}
	for _, s := range []string{
		`{"result":{"code":"CONTRACT_VALIDATE_ERROR","message":"4e6f20636f6e7472616374"}}`,
		`{"result":{"result":true},"constant_result":[]}`,
		`{"result":{"result":true},"constant_result":["zz"]}`,
	} {
		if _, err := DecodeConstantResult([]byte(s)); !errors.Is(err, ErrBadResponse) {
			t.Errorf("DecodeConstantResult(%s) = %v, want ErrBadResponse", s, err)
		}
	}
}

func FuzzDecodeBalances(f *testing.F) {
	f.Add([]byte(`{"address":"41a614f803b6fd780986a42c78ec9c7f77e6ded13c","balance":42}`))
	f.Add([]byte(fmt.Sprintf(`{"result":{"result":true},"constant_result":["%064x"]}`, 7)))
	f.Add([]byte(`{"result":{"code":"X","message":"zz"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := DecodeAccountBalance(b); err == nil && v < 0 {
			t.Fatalf("DecodeAccountBalance = %d", v)
		} else if err != nil && !errors.Is(err, ErrBadResponse) {
			t.Fatalf("DecodeAccountBalance error %v is not ErrBadResponse", err)
		}
		if _, err := DecodeConstantResult(b); err != nil && !errors.Is(err, ErrBadResponse) {
			t.Fatalf("DecodeConstantResult error %v is not ErrBadResponse", err)
		}
	})
}
