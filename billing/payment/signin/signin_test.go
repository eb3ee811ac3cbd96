package signin

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/aerolithdb/aerolith/billing/payment/tron"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newAuth(t *testing.T) (*Authenticator, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)}
	a, err := New(Config{
		Domain: "billing.aerolith.example", Statement: "Sign in to Aerolith billing",
		ChainIDs: map[Chain]string{Solana: "mainnet", Tron: "mainnet"},
		Nonces:   &MemoryNonces{Now: c.now}, Now: c.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

func solKey(seed string) ed25519.PrivateKey {
	h := sha256.Sum256([]byte(seed))
	return ed25519.NewKeyFromSeed(h[:])
}

func tronKey(seed string) *secp256k1.PrivateKey {
	h := sha256.Sum256([]byte(seed))
	return secp256k1.PrivKeyFromBytes(h[:])
}

func tronAddr(k *secp256k1.PrivateKey) string { return tron.PublicKeyAddress(k.PubKey()).String() }

// wallet is one chain's key and how it signs.
type wallet struct {
	chain   Chain
	address string
	sign    func(msg string) string
}

func wallets() []wallet {
	sk, tk := solKey("alice"), tronKey("alice")
	return []wallet{
		{Solana, SolanaAddress(sk), func(m string) string { return SignSolana(sk, m) }},
		{Tron, tronAddr(tk), func(m string) string { return SignTron(tk, m) }},
	}
}

func TestSignIn(t *testing.T) {
	ctx := context.Background()
	for _, w := range wallets() {
		t.Run(string(w.chain), func(t *testing.T) {
			a, _ := newAuth(t)
			ch, err := a.Challenge(ctx, w.chain, w.address)
			if err != nil {
				t.Fatal(err)
			}
			id, err := a.Verify(ctx, Proof{Chain: w.chain, Address: w.address, Message: ch.Message, Signature: w.sign(ch.Message)})
			if err != nil || id.Address != w.address || id.Chain != w.chain {
				t.Fatalf("Verify = %+v, %v; want %s", id, err, w.address)
			}
		})
	}
}

func TestChallengeMessage(t *testing.T) {
	a, _ := newAuth(t)
	addr := SolanaAddress(solKey("bob"))
	ch, err := a.Challenge(context.Background(), Solana, addr)
	if err != nil {
		t.Fatal(err)
	}
	want := "billing.aerolith.example wants you to sign in with your Solana account:\n" + addr + "\n\n" +
		"Sign in to Aerolith billing\n\n" +
		"URI: https://billing.aerolith.example\nVersion: 1\nChain ID: mainnet\nNonce: " + ch.Nonce + "\n" +
		"Issued At: 2026-12-06T20:00:00.000Z\nExpiration Time: 2026-12-06T20:05:00.000Z"
	if ch.Message != want {
		t.Fatalf("challenge message =\n%s\nwant\n%s", ch.Message, want)
	}
	if len(ch.Nonce) != 32 || !ch.ExpiresAt.Equal(ch.IssuedAt.Add(5*time.Minute)) {
		t.Fatalf("challenge = %+v", ch)
	}
	if _, err := a.Challenge(context.Background(), Tron, "not-an-address"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Challenge(bad tron address) = %v, want ErrMalformed", err)
	}
	if _, err := a.Challenge(context.Background(), Tron, tron.MainnetUSDT.Hex()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Challenge(hex tron address) = %v, want ErrMalformed (base58 only)", err)
	}
	if _, err := a.Challenge(context.Background(), "ethereum", addr); !errors.Is(err, ErrUnsupportedChain) {
		t.Fatalf("Challenge(ethereum) = %v, want ErrUnsupportedChain", err)
	}
}

// TestTronSignatureForms accepts TronLink's 27/28 and java-tron's 0/1
// recovery ids, with or without 0x.
func TestTronSignatureForms(t *testing.T) {
	ctx := context.Background()
	k := tronKey("carol")
	for name, edit := range map[string]func(string) string{
		"0x v27":  func(s string) string { return s },
		"bare":    func(s string) string { return strings.TrimPrefix(s, "0x") },
		"v 0/1":   func(s string) string { b, _ := tron.DecodeHex(s); b[64] -= 27; return tronHex(b) },
		"upper x": func(s string) string { return "0X" + strings.ToUpper(s[2:]) },
	} {
		a, _ := newAuth(t)
		ch, _ := a.Challenge(ctx, Tron, tronAddr(k))
		if _, err := a.Verify(ctx, Proof{Chain: Tron, Address: tronAddr(k), Message: ch.Message, Signature: edit(SignTron(k, ch.Message))}); err != nil {
			t.Errorf("%s: Verify = %v", name, err)
		}
	}
}

func tronHex(b []byte) string { return hex.EncodeToString(b) }

func TestSignInRefusals(t *testing.T) {
	ctx := context.Background()
	for _, w := range wallets() {
		mallory := wallet{chain: w.chain}
		if w.chain == Solana {
			mk := solKey("mallory")
			mallory.address, mallory.sign = SolanaAddress(mk), func(m string) string { return SignSolana(mk, m) }
		} else {
			mk := tronKey("mallory")
			mallory.address, mallory.sign = tronAddr(mk), func(m string) string { return SignTron(mk, m) }
		}
		tests := []struct {
			name string
			// proof builds the proof from a fresh challenge for w.
			proof func(a *Authenticator, c *clock, ch Challenge) Proof
			want  error
		}{
			{"wrong key", func(_ *Authenticator, _ *clock, ch Challenge) Proof {
				return Proof{w.chain, w.address, ch.Message, mallory.sign(ch.Message)}
			}, ErrBadSignature},
			{"replayed nonce", func(a *Authenticator, _ *clock, ch Challenge) Proof {
				p := Proof{w.chain, w.address, ch.Message, w.sign(ch.Message)}
				if _, err := a.Verify(ctx, p); err != nil {
					t.Fatalf("first Verify = %v", err)
				}
				return p
			}, ErrNonceUnknown},
			{"expired challenge", func(_ *Authenticator, c *clock, ch Challenge) Proof {
				c.t = ch.ExpiresAt
				return Proof{w.chain, w.address, ch.Message, w.sign(ch.Message)}
			}, ErrExpired},
			{"wrong domain", func(_ *Authenticator, _ *clock, ch Challenge) Proof {
				m := strings.Replace(ch.Message, "billing.aerolith.example wants", "billing.aerolith.example.evil.test wants", 1)
				return Proof{w.chain, w.address, m, w.sign(m)}
			}, ErrWrongDomain},
			{"wrong uri", func(_ *Authenticator, _ *clock, ch Challenge) Proof {
				m := strings.Replace(ch.Message, "URI: https://billing.aerolith.example", "URI: https://evil.test", 1)
				return Proof{w.chain, w.address, m, w.sign(m)}
			}, ErrWrongDomain},
			{"domain in capitals", func(a *Authenticator, _ *clock, ch Challenge) Proof {
				m := strings.Replace(ch.Message, "billing.aerolith.example wants", "Billing.Aerolith.Example wants", 1)
				p := Proof{w.chain, w.address, m, w.sign(m)}
				if _, err := a.Verify(ctx, p); err != nil {
					t.Fatalf("Verify with the domain in capitals = %v, want success", err)
				}
				return p // and then it is a replay
			}, ErrNonceUnknown},
			{"other network", func(_ *Authenticator, _ *clock, ch Challenge) Proof {
				m := strings.Replace(ch.Message, "Chain ID: mainnet", "Chain ID: devnet", 1)
				return Proof{w.chain, w.address, m, w.sign(m)}
			}, ErrUnsupportedChain},
			{"nonce never issued", func(_ *Authenticator, _ *clock, ch Challenge) Proof {
				m := strings.Replace(ch.Message, "Nonce: "+ch.Nonce, "Nonce: 0123456789abcdef0123456789abcdef", 1)
				return Proof{w.chain, w.address, m, w.sign(m)}
			}, ErrNonceUnknown},
			{"another wallet's challenge", func(a *Authenticator, _ *clock, ch Challenge) Proof {
				m := strings.Replace(ch.Message, "\n"+w.address+"\n", "\n"+mallory.address+"\n", 1)
				return Proof{w.chain, mallory.address, m, mallory.sign(m)}
			}, ErrWrongAddress},
			{"address differs from message", func(_ *Authenticator, _ *clock, ch Challenge) Proof {
				return Proof{w.chain, mallory.address, ch.Message, mallory.sign(ch.Message)}
			}, ErrWrongAddress},
			{"issued in the future", func(_ *Authenticator, c *clock, ch Challenge) Proof {
				c.t = ch.IssuedAt.Add(-2 * time.Minute)
				return Proof{w.chain, w.address, ch.Message, w.sign(ch.Message)}
			}, ErrNotYetValid},
			{"no expiration", func(_ *Authenticator, _ *clock, ch Challenge) Proof {
				m := ch.Message[:strings.Index(ch.Message, "\nExpiration Time:")]
				return Proof{w.chain, w.address, m, w.sign(m)}
			}, ErrMalformed},
			{"other chain", func(_ *Authenticator, _ *clock, ch Challenge) Proof {
				other := Tron
				if w.chain == Tron {
					other = Solana
				}
				return Proof{other, w.address, ch.Message, w.sign(ch.Message)}
			}, ErrUnsupportedChain},
			{"empty signature", func(_ *Authenticator, _ *clock, ch Challenge) Proof { return Proof{w.chain, w.address, ch.Message, ""} }, ErrMalformed},
			{"garbage signature", func(_ *Authenticator, _ *clock, ch Challenge) Proof {
				return Proof{w.chain, w.address, ch.Message, "!!not a signature!!"}
			}, ErrMalformed},
			{"truncated signature", func(_ *Authenticator, _ *clock, ch Challenge) Proof {
				s := w.sign(ch.Message)
				return Proof{w.chain, w.address, ch.Message, s[:len(s)-4]}
			}, ErrMalformed},
			{"signature of another message", func(_ *Authenticator, _ *clock, ch Challenge) Proof {
				return Proof{w.chain, w.address, ch.Message, w.sign(ch.Message + " ")}
			}, ErrBadSignature},
		}
		for _, tt := range tests {
			t.Run(string(w.chain)+"/"+tt.name, func(t *testing.T) {
				a, c := newAuth(t)
				ch, err := a.Challenge(ctx, w.chain, w.address)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := a.Verify(ctx, tt.proof(a, c, ch)); !errors.Is(err, tt.want) {
					t.Fatalf("Verify = %v, want %v", err, tt.want)
				}
			})
		}
	}
}

func TestTronMalformedSignatures(t *testing.T) {
	ctx := context.Background()
	k := tronKey("dave")
	a, _ := newAuth(t)
	ch, _ := a.Challenge(ctx, Tron, tronAddr(k))
	good := SignTron(k, ch.Message)
	for name, sig := range map[string]string{
		"v 5":       good[:len(good)-2] + "05",
		"zero r s":  "0x" + strings.Repeat("00", 64) + "1b",
		"not hex":   "0x" + strings.Repeat("zz", 65),
		"too long":  good + "00",
		"base58ish": "3yZe7d",
	} {
		_, err := a.Verify(ctx, Proof{Tron, tronAddr(k), ch.Message, sig})
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: Verify = %v, want ErrMalformed or ErrBadSignature", name, err)
		}
	}
	// The nonce survived the failed attempts: the real signature still works.
	if _, err := a.Verify(ctx, Proof{Tron, tronAddr(k), ch.Message, good}); err != nil {
		t.Fatalf("Verify after failed attempts = %v", err)
	}
}

func TestSolanaBase64Signature(t *testing.T) {
	ctx := context.Background()
	k := solKey("erin")
	a, _ := newAuth(t)
	ch, _ := a.Challenge(ctx, Solana, SolanaAddress(k))
	sig := ed25519.Sign(k, []byte(ch.Message))
	if _, err := a.Verify(ctx, Proof{Solana, SolanaAddress(k), ch.Message, b64(sig)}); err != nil {
		t.Fatalf("Verify with a base64 signature = %v", err)
	}
}

func TestNewConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no domain":     {Nonces: &MemoryNonces{}},
		"path domain":   {Domain: "a.example/x", Nonces: &MemoryNonces{}},
		"no nonces":     {Domain: "a.example"},
		"two-line stmt": {Domain: "a.example", Nonces: &MemoryNonces{}, Statement: "a\nb"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New = nil error", name)
		}
	}
}

func TestMemoryNonces(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Unix(1000, 0)}
	s := &MemoryNonces{Now: c.now}
	if err := s.Put(ctx, Nonce{Value: "n1", Expires: c.t.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, Nonce{Value: "n1", Expires: c.t.Add(time.Minute)}); err == nil {
		t.Fatal("Put of an issued nonce = nil error")
	}
	if err := s.Put(ctx, Nonce{Value: "n2", Expires: c.t.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Take(ctx, "n1"); err != nil {
		t.Fatalf("Take = %v", err)
	}
	if _, err := s.Take(ctx, "n1"); !errors.Is(err, ErrNonceUnknown) {
		t.Fatalf("second Take = %v, want ErrNonceUnknown", err)
	}
	c.t = c.t.Add(time.Minute)
	if _, err := s.Take(ctx, "n2"); !errors.Is(err, ErrNonceUnknown) {
		t.Fatalf("Take of an expired nonce = %v, want ErrNonceUnknown", err)
	}
}

// TestConcurrentReplay sends one proof many times at once: exactly one
// sign-in succeeds.
func TestConcurrentReplay(t *testing.T) {
	ctx := context.Background()
	w := wallets()[1]
	a, _ := newAuth(t)
	ch, err := a.Challenge(ctx, w.chain, w.address)
	if err != nil {
		t.Fatal(err)
	}
	p := Proof{w.chain, w.address, ch.Message, w.sign(ch.Message)}
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := a.Verify(ctx, p)
			errs <- err
		}()
	}
	ok := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			ok++
		case !errors.Is(err, ErrNonceUnknown):
			t.Errorf("Verify = %v, want nil or ErrNonceUnknown", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent sign-ins with one nonce succeeded, want 1", ok, n)
	}
}
