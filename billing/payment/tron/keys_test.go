package tron

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

func TestKeccak256(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"},
		{"Transfer(address,address,uint256)", "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"},
	}
	for _, tt := range tests {
		if got := Keccak256([]byte(tt.in)); hex.EncodeToString(got[:]) != tt.want {
			t.Errorf("Keccak256(%q) = %x, want %s", tt.in, got, tt.want)
		}
	}
	sel := Keccak256([]byte("transfer(address,uint256)"))
	if [4]byte(sel[:4]) != transferSelector {
		t.Errorf("transfer selector = %x, want %x", sel[:4], transferSelector)
	}
}

func TestSignRecover(t *testing.T) {
	key, err := ParsePrivateKey("0x" + hex.EncodeToString(make([]byte, 31)) + "07")
	if err != nil {
		t.Fatal(err)
	}
	want := PublicKeyAddress(key.PubKey())
	digest := Keccak256([]byte("pay invoice 42"))
	sig := Sign(key, digest)
	if sig[64] != 27 && sig[64] != 28 {
		t.Fatalf("Sign v = %d, want 27 or 28", sig[64])
	}
	zero := append([]byte(nil), sig...)
	zero[64] -= 27
	for name, s := range map[string][]byte{"v 27/28": sig, "v 0/1": zero} {
		got, err := RecoverSigner(digest, s)
		if err != nil || got != want {
			t.Errorf("%s: RecoverSigner = %s, %v; want %s", name, got, err, want)
		}
	}
	other := Keccak256([]byte("pay invoice 43"))
	if got, err := RecoverSigner(other, sig); err == nil && got == want {
		t.Error("RecoverSigner of another digest recovered the signer")
	}
	bad := []struct {
		name string
		sig  []byte
	}{
		{"short", sig[:64]},
		{"v 2", append(append([]byte(nil), sig[:64]...), 2)},
		{"v 29", append(append([]byte(nil), sig[:64]...), 29)},
		{"zero r s", make([]byte, 65)},
	}
	for _, b := range bad {
		if _, err := RecoverSigner(digest, b.sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: RecoverSigner = %v, want ErrBadSignature", b.name, err)
		}
	}
}

func TestParsePrivateKey(t *testing.T) {
	for _, s := range []string{"", "zz", "00", hex.EncodeToString(make([]byte, 32)), "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"} {
		if _, err := ParsePrivateKey(s); err == nil {
			t.Errorf("ParsePrivateKey(%q) = nil error", s)
		}
	}
	var b [32]byte
	b[0] = 9
	k, err := ParsePrivateKey(hex.EncodeToString(b[:]) + "\n")
	if err != nil || !k.PubKey().IsEqual(secp256k1.PrivKeyFromBytes(b[:]).PubKey()) {
		t.Fatalf("ParsePrivateKey = %v", err)
	}
}
