package signin

import (
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// full is a message with every field, in the wallet-standard's format.
const full = `example.com:8443 wants you to sign in with your Solana account:
7S3P4HxJpyyigGzodYwHtCxZyUQe9JiBMHyRWXArAaKv

I accept the terms.

URI: https://example.com:8443/login
Version: 1
Chain ID: mainnet
Nonce: 32891756
Issued At: 2026-12-06T20:00:00.000Z
Expiration Time: 2026-12-06T20:05:00.000Z
Not Before: 2026-12-06T19:59:00Z
Request ID: req-1
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json`

func TestParseMessage(t *testing.T) {
	m, err := ParseMessage(full)
	if err != nil {
		t.Fatal(err)
	}
	want := &Message{
		Chain: Solana, Domain: "example.com:8443", Address: "7S3P4HxJpyyigGzodYwHtCxZyUQe9JiBMHyRWXArAaKv",
		Statement: "I accept the terms.", URI: "https://example.com:8443/login", Version: "1", ChainID: "mainnet",
		Nonce: "32891756", IssuedAt: time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC), ExpirationTime: time.Date(2026, 12, 6, 20, 5, 0, 0, time.UTC),
		NotBefore: time.Date(2026, 12, 6, 19, 59, 0, 0, time.UTC), RequestID: "req-1",
		Resources: []string{"ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/", "https://example.com/my-web2-claim.json"},
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("ParseMessage =\n%+v\nwant\n%+v", m, want)
	}
	if got := strings.Replace(m.String(), "19:59:00.000Z", "19:59:00Z", 1); got != full {
		t.Fatalf("String =\n%s\nwant\n%s", got, full)
	}
	// The wallet-standard's own createSignInMessageText test vectors.
	for _, v := range []struct {
		text string
		want Message
	}{
		{"solana.com wants you to sign in with your Solana account:\nA", Message{Chain: Solana, Domain: "solana.com", Address: "A"}},
		{"solana.com wants you to sign in with your Solana account:\nA\n\nS", Message{Chain: Solana, Domain: "solana.com", Address: "A", Statement: "S"}},
	} {
		m, err := ParseMessage(v.text)
		if err != nil || !reflect.DeepEqual(*m, v.want) || v.want.String() != v.text {
			t.Fatalf("ParseMessage(%q) = %+v, %v; String() = %q", v.text, m, err, v.want.String())
		}
	}
	minimal := "example.com wants you to sign in with your Tron account:\nTR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
	if m, err := ParseMessage(minimal); err != nil || m.Chain != Tron || m.String() != minimal {
		t.Fatalf("ParseMessage(minimal) = %+v, %v", m, err)
	}
	noStatement := minimal + "\n\nNonce: abcdefgh"
	if m, err := ParseMessage(noStatement); err != nil || m.Nonce != "abcdefgh" || m.Statement != "" {
		t.Fatalf("ParseMessage(no statement) = %+v, %v", m, err)
	}
}

func TestParseMessageErrors(t *testing.T) {
	const head = "example.com wants you to sign in with your Solana account:\nADDR"
	tests := map[string]string{
		"empty":              "",
		"no address":         "example.com wants you to sign in with your Solana account:",
		"other chain":        "example.com wants you to sign in with your Ethereum account:\n0xabc",
		"no domain":          " wants you to sign in with your Solana account:\nADDR",
		"domain with space":  "exa mple.com wants you to sign in with your Solana account:\nADDR",
		"empty address":      "example.com wants you to sign in with your Solana account:\n",
		"no blank line":      head + "\nNonce: 1",
		"trailing blank":     head + "\n",
		"two statements":     head + "\n\nline one\nline two",
		"unknown field":      head + "\n\nNonce: 1\nColor: blue",
		"repeated field":     head + "\n\nNonce: 1\nNonce: 2",
		"out of order":       head + "\n\nNonce: 1\nURI: https://x",
		"bad time":           head + "\n\nIssued At: yesterday",
		"empty value":        head + "\n\nNonce: ",
		"resources empty":    head + "\n\nResources:",
		"resource bad":       head + "\n\nResources:\n* x",
		"field after res":    head + "\n\nResources:\n- x\nNonce: 1",
		"carriage return":    strings.ReplaceAll(full, "\n", "\r\n"),
		"too long":           head + "\n\n" + strings.Repeat("x", 5000),
		"blank then nothing": head + "\n\nstatement\n",
	}
	for name, s := range tests {
		if _, err := ParseMessage(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: ParseMessage = %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add(full)
	f.Add("example.com wants you to sign in with your Tron account:\nTR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")
	f.Add("example.com wants you to sign in with your Solana account:\nA\n\nURI: u\n")
	f.Add("a wants you to sign in with your Solana account:\nb\n\nIssued At: 2026-12-06T20:00:00.123456789+02:00")
	f.Add("a wants you to sign in with your Solana account:\nb\n\nResources:\n- c")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMessage(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseMessage error %v is not ErrMalformed", err)
			}
			return
		}
		// What parses renders to a message that parses the same.
		again, err := ParseMessage(m.String())
		if err != nil {
			t.Fatalf("ParseMessage(String()) = %v for %q", err, m.String())
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, again)
		}
	})
}

// FuzzVerify feeds untrusted proofs to Verify: with no nonce issued,
// nothing may sign in, and every refusal is one of the documented errors.
func FuzzVerify(f *testing.F) {
	f.Add("solana", "7S3P4HxJpyyigGzodYwHtCxZyUQe9JiBMHyRWXArAaKv", full, "3yZe7d")
	f.Add("tron", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", strings.Replace(full, "Solana", "Tron", 1), "0x"+strings.Repeat("11", 65))
	f.Add("tron", "", "", "")
	f.Fuzz(func(t *testing.T, chain, address, message, sig string) {
		a, err := New(Config{Domain: "example.com:8443", URI: "https://example.com:8443/login", Nonces: &MemoryNonces{},
			Now: func() time.Time { return time.Date(2026, 12, 6, 20, 1, 0, 0, time.UTC) }})
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Verify(context.Background(), Proof{Chain: Chain(chain), Address: address, Message: message, Signature: sig})
		if err == nil {
			t.Fatal("Verify succeeded without an issued nonce")
		}
		for _, e := range []error{ErrMalformed, ErrUnsupportedChain, ErrWrongDomain, ErrExpired, ErrNotYetValid, ErrNonceUnknown, ErrBadSignature, ErrWrongAddress} {
			if errors.Is(err, e) {
				return
			}
		}
		t.Fatalf("Verify error %v is none of the sentinels", err)
	})
}
