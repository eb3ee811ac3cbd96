package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rsc.io/qr"

	"github.com/aerolithdb/aerolith/billing/payment/signin"
	"github.com/aerolithdb/aerolith/billing/payment/tron"
)

// TestWriteQR: every module of the code is where the half blocks say,
// inside a 4-module quiet zone.
func TestWriteQR(t *testing.T) {
	const text = "solana:7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU?amount=10&spl-token=EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
	var b bytes.Buffer
	if err := writeQR(&b, text); err != nil {
		t.Fatal(err)
	}
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		t.Fatal(err)
	}
	n := code.Size + 8
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != (n+1)/2 {
		t.Fatalf("%d lines, want %d", len(lines), (n+1)/2)
	}
	for i, l := range lines {
		cells := []rune(l)
		if len(cells) != n {
			t.Fatalf("line %d: %d cells, want %d", i, len(cells), n)
		}
		for x, c := range cells {
			for half, y := range []int{2 * i, 2*i + 1} {
				if y >= n {
					continue
				}
				dark := c == ' ' || (half == 0 && c == '▄') || (half == 1 && c == '▀')
				mx, my := x-4, y-4
				want := mx >= 0 && my >= 0 && mx < code.Size && my < code.Size && code.Black(mx, my)
				if dark != want {
					t.Fatalf("module (%d,%d): dark %v, want %v", mx, my, dark, want)
				}
			}
		}
	}
}

// TestLoadWalletKey: a Tron hex key file signs as its address; missing or
// bad key files are refused naming the flag.
func TestLoadWalletKey(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "tron.key")
	if err := os.WriteFile(good, []byte("0x"+strings.Repeat("11", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("zz"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := loadWalletKey("", good)
	if err != nil {
		t.Fatal(err)
	}
	msg := "hello"
	sig, err := tron.DecodeHex(k.sign(msg))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := tron.RecoverSigner(signin.TronMessageHash([]byte(msg)), sig)
	if err != nil || signer.String() != k.address || k.chain != "tron" {
		t.Fatalf("signer %s (%v), key %+v", signer, err, k)
	}
	for _, tt := range []struct{ keypair, tronKey, want string }{
		{"", "", "--keypair"},
		{"a", "b", "give one"},
		{filepath.Join(dir, "none.json"), "", "--keypair"},
		{"", bad, "--tron-key"},
	} {
		if _, err := loadWalletKey(tt.keypair, tt.tronKey); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("loadWalletKey(%q, %q) = %v, want an error naming %s", tt.keypair, tt.tronKey, err, tt.want)
		}
	}
}
