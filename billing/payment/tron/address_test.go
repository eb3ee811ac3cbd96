package tron

import (
	"errors"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

func TestParseAddress(t *testing.T) {
	const usdtHex = "41a614f803b6fd780986a42c78ec9c7f77e6ded13c"
	tests := []struct {
		in      string
		wantHex string
		wantErr string
	}{
		{in: "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", wantHex: usdtHex},
		{in: usdtHex, wantHex: usdtHex},
		{in: "0x" + strings.ToUpper(usdtHex), wantHex: usdtHex},
		{in: "", wantErr: "empty"},
		{in: "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", wantErr: "checksum"},
		{in: "TR7NHqjeKQ", wantErr: "decodes to 8 bytes"},
		{in: "T0OIl", wantErr: "not base58"},
		{in: "42a614f803b6fd780986a42c78ec9c7f77e6ded13c", wantErr: "prefix 0x42"},
		{in: "41a614f803b6fd780986a42c78ec9c7f77e6ded1", wantErr: "neither base58"},
		{in: "41a614f803b6fd780986a42c78ec9c7f77e6ded1zz", wantErr: "bad hex"},
		{in: "1111111111111111111114oLvT2", wantErr: "neither base58"},
		{in: "T" + strings.Repeat("z", 60), wantErr: "too long"},
	}
	for _, tt := range tests {
		a, err := ParseAddress(tt.in)
		if tt.wantErr != "" {
			if err == nil || !errors.Is(err, ErrBadAddress) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseAddress(%q) = %v, want an ErrBadAddress naming %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseAddress(%q) = %v", tt.in, err)
			continue
		}
		if a.Hex() != tt.wantHex {
			t.Errorf("ParseAddress(%q).Hex() = %s, want %s", tt.in, a.Hex(), tt.wantHex)
		}
	}
	if got := MustAddress(usdtHex).String(); got != "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t" {
		t.Errorf("String() = %s, want TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", got)
	}
}

// TestPublicKeyAddress checks keccak and the key → address rule with the
// well-known Ethereum vector of private key 1 (its EVM address is
// 0x7e5f4552091a69125d5dfcb7b8c2659029395bdf; Tron adds 0x41).
func TestPublicKeyAddress(t *testing.T) {
	var one [32]byte
	one[31] = 1
	key := secp256k1.PrivKeyFromBytes(one[:])
	got := PublicKeyAddress(key.PubKey())
	if want := "417e5f4552091a69125d5dfcb7b8c2659029395bdf"; got.Hex() != want {
		t.Fatalf("PublicKeyAddress(key 1) = %s, want %s", got.Hex(), want)
	}
	back, err := ParseAddress(got.String())
	if err != nil || back != got {
		t.Fatalf("ParseAddress(%s) = %v, %v; want the same address", got, back, err)
	}
}

func TestAddressText(t *testing.T) {
	a := MainnetUSDT
	b, _ := a.MarshalText()
	var c Address
	if err := c.UnmarshalText(b); err != nil || c != a {
		t.Fatalf("UnmarshalText(%s) = %v, %v", b, c, err)
	}
	if err := c.UnmarshalText([]byte("Tnope")); err == nil {
		t.Fatal("UnmarshalText(Tnope) = nil, want an error")
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "41a614f803b6fd780986a42c78ec9c7f77e6ded13c", "0x41a614f803b6fd780986a42c78ec9c7f77e6ded13c", "T", "", "TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("ParseAddress(%q) error %v is not ErrBadAddress", s, err)
			}
			return
		}
		if a[0] != AddressPrefix {
			t.Fatalf("ParseAddress(%q) = %x without the 0x41 prefix", s, a)
		}
		for _, form := range []string{a.String(), a.Hex()} {
			if b, err := ParseAddress(form); err != nil || b != a {
				t.Fatalf("ParseAddress(%q) = %v, %v; want %x", form, b, err, a)
			}
		}
	})
}
