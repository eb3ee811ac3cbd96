// Package signin is wallet sign-in: the service hands out a challenge (a
// single-use nonce, its domain, when it was issued and when it expires)
// as a sign-in message, the wallet signs the message, and Verify checks
// the signature and the challenge and names the wallet.
//
// Solana wallets sign a Sign-In With Solana message (the wallet-standard
// solana:signIn text) with ed25519; the address is the base58 public key.
// TronLink signs the same text with "Tron" in its header through
// signMessageV2: secp256k1 over Keccak-256("\x19TRON Signed Message:\n" +
// len(message) + message), recovered to a Tron address (v 27/28 or 0/1).
//
// A nonce is taken from the NonceStore when a signature checks, so it
// signs in once; a replay, an expired challenge, a message for another
// domain, another address or another chain are refused with a sentinel
// error the API maps to its answer.
package signin

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/mr-tron/base58"

	"github.com/aerolithdb/aerolith/billing/payment/tron"
)

// Chain names the wallet's chain.
type Chain string

// The chains a wallet signs in with.
const (
	Solana Chain = "solana"
	Tron   Chain = "tron"
)

func (c Chain) title() string {
	switch c {
	case Solana:
		return "Solana"
	case Tron:
		return "Tron"
	}
	return string(c)
}

// ParseChain reads "solana" or "tron".
func ParseChain(s string) (Chain, error) {
	switch c := Chain(strings.ToLower(s)); c {
	case Solana, Tron:
		return c, nil
	}
	return "", fmt.Errorf("%w: %q (want solana or tron)", ErrUnsupportedChain, clip(s))
}

// Sentinel errors of Verify.
var (
	ErrUnsupportedChain = errors.New("unsupported chain")
	ErrWrongDomain      = errors.New("sign-in message for another domain")
	ErrExpired          = errors.New("sign-in challenge expired")
	ErrNotYetValid      = errors.New("sign-in message not valid yet")
	ErrNonceUnknown     = errors.New("sign-in nonce unknown or already used")
	ErrBadSignature     = errors.New("sign-in signature does not verify")
	ErrWrongAddress     = errors.New("sign-in message for another wallet")
)

// Config configures an Authenticator.
type Config struct {
	// Domain is the host (and port) the billing service is reached at;
	// messages for another domain are refused (phishing sites relaying a
	// challenge get a message naming their own domain).
	Domain string
	// URI is the sign-in URI put in messages (default https://Domain).
	URI string
	// Statement is the human-readable line wallets show.
	Statement string
	// TTL is how long a challenge stays valid (default 5 minutes).
	TTL time.Duration
	// Skew is the clock difference tolerated on Issued At and Not Before
	// (default 1 minute).
	Skew time.Duration
	// ChainIDs names the network put in messages per chain (e.g. solana:
	// mainnet, tron: mainnet); none when empty.
	ChainIDs map[Chain]string
	// Nonces keeps issued nonces; required.
	Nonces NonceStore
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Authenticator issues challenges and verifies signed messages. Safe for
// concurrent use when its NonceStore is.
type Authenticator struct {
	cfg Config
}

// New checks cfg.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Domain == "" || strings.ContainsAny(cfg.Domain, " \t/") {
		return nil, fmt.Errorf("sign-in domain %q: want a host[:port]", cfg.Domain)
	}
	if cfg.Nonces == nil {
		return nil, errors.New("sign-in: a nonce store is required")
	}
	if cfg.URI == "" {
		cfg.URI = "https://" + cfg.Domain
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 5 * time.Minute
	}
	if cfg.Skew <= 0 {
		cfg.Skew = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if strings.Contains(cfg.Statement, "\n") {
		return nil, errors.New("sign-in statement: one line only")
	}
	return &Authenticator{cfg: cfg}, nil
}

// Challenge is what a wallet is asked to sign.
type Challenge struct {
	Chain     Chain     `json:"chain"`
	Address   string    `json:"address"`
	Domain    string    `json:"domain"`
	Nonce     string    `json:"nonce"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Message is the exact text to sign.
	Message string `json:"message"`
}

// Challenge issues a challenge for the wallet address on chain and
// records its nonce.
func (a *Authenticator) Challenge(ctx context.Context, chain Chain, address string) (Challenge, error) {
	if _, err := ParseChain(string(chain)); err != nil {
		return Challenge{}, err
	}
	if err := checkAddress(chain, address); err != nil {
		return Challenge{}, err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Challenge{}, err
	}
	now := a.cfg.Now().UTC().Truncate(time.Millisecond)
	m := Message{
		Chain: chain, Domain: a.cfg.Domain, Address: address, Statement: a.cfg.Statement,
		URI: a.cfg.URI, Version: "1", ChainID: a.cfg.ChainIDs[chain], Nonce: hex.EncodeToString(b[:]),
		IssuedAt: now, ExpirationTime: now.Add(a.cfg.TTL),
	}
	if err := a.cfg.Nonces.Put(ctx, Nonce{Value: m.Nonce, Chain: chain, Address: address, Expires: m.ExpirationTime}); err != nil {
		return Challenge{}, fmt.Errorf("sign-in: storing the nonce: %w", err)
	}
	return Challenge{Chain: chain, Address: address, Domain: m.Domain, Nonce: m.Nonce, IssuedAt: m.IssuedAt, ExpiresAt: m.ExpirationTime, Message: m.String()}, nil
}

// Proof is a wallet's answer: the message it signed and its signature
// (Solana: base58 or base64 of 64 bytes; Tron: hex of 65 bytes, 0x
// optional).
type Proof struct {
	Chain     Chain  `json:"chain"`
	Address   string `json:"address"`
	Message   string `json:"message"`
	Signature string `json:"signature"`
}

// Identity is a verified wallet.
type Identity struct {
	Chain   Chain
	Address string
}

// Verify checks p: the message parses, is for this domain, this chain and
// p's address, is within its validity, the signature is the address's,
// and then takes its nonce (so a replay fails with ErrNonceUnknown). The
// nonce is taken only after the signature checks: a stranger cannot burn
// someone's challenge.
func (a *Authenticator) Verify(ctx context.Context, p Proof) (Identity, error) {
	if _, err := ParseChain(string(p.Chain)); err != nil {
		return Identity{}, err
	}
	m, err := ParseMessage(p.Message)
	if err != nil {
		return Identity{}, err
	}
	if m.Chain != p.Chain {
		return Identity{}, fmt.Errorf("%w: the message is for a %s wallet, the proof for %s", ErrUnsupportedChain, m.Chain, p.Chain)
	}
	if !strings.EqualFold(m.Domain, a.cfg.Domain) { // host names are case-insensitive
		return Identity{}, fmt.Errorf("%w: %q, want %q", ErrWrongDomain, clip(m.Domain), a.cfg.Domain)
	}
	if m.URI != "" && m.URI != a.cfg.URI {
		return Identity{}, fmt.Errorf("%w: uri %q, want %q", ErrWrongDomain, clip(m.URI), a.cfg.URI)
	}
	if want := a.cfg.ChainIDs[p.Chain]; want != "" && m.ChainID != "" && m.ChainID != want {
		return Identity{}, fmt.Errorf("%w: chain id %q, want %q", ErrUnsupportedChain, clip(m.ChainID), want)
	}
	if m.Address != p.Address {
		return Identity{}, fmt.Errorf("%w: the message names %s, the proof %s", ErrWrongAddress, clip(m.Address), clip(p.Address))
	}
	if m.Nonce == "" || m.IssuedAt.IsZero() || m.ExpirationTime.IsZero() {
		return Identity{}, fmt.Errorf("%w: Nonce, Issued At and Expiration Time are required", ErrMalformed)
	}
	now := a.cfg.Now()
	if !now.Before(m.ExpirationTime) {
		return Identity{}, fmt.Errorf("%w at %s", ErrExpired, m.ExpirationTime.Format(time.RFC3339))
	}
	if m.IssuedAt.After(now.Add(a.cfg.Skew)) || (!m.NotBefore.IsZero() && m.NotBefore.After(now.Add(a.cfg.Skew))) {
		return Identity{}, fmt.Errorf("%w: issued %s", ErrNotYetValid, m.IssuedAt.Format(time.RFC3339))
	}
	switch p.Chain {
	case Solana:
		err = verifySolana(p.Address, p.Message, p.Signature)
	case Tron:
		err = verifyTron(p.Address, p.Message, p.Signature)
	}
	if err != nil {
		return Identity{}, err
	}
	n, err := a.cfg.Nonces.Take(ctx, m.Nonce)
	if err != nil {
		return Identity{}, err
	}
	if n.Chain != p.Chain || n.Address != p.Address {
		return Identity{}, fmt.Errorf("%w: the nonce was issued to another wallet", ErrWrongAddress)
	}
	if !now.Before(n.Expires) {
		return Identity{}, fmt.Errorf("%w at %s", ErrExpired, n.Expires.Format(time.RFC3339))
	}
	return Identity{Chain: p.Chain, Address: p.Address}, nil
}

func checkAddress(chain Chain, address string) error {
	switch chain {
	case Solana:
		_, err := solanaKey(address)
		return err
	case Tron:
		a, err := tron.ParseAddress(address)
		if err == nil && a.String() != address {
			err = errors.New("want the base58 form (T…)")
		}
		if err != nil {
			return fmt.Errorf("%w: tron address %q: %v", ErrMalformed, clip(address), err)
		}
	}
	return nil
}

func solanaKey(address string) (ed25519.PublicKey, error) {
	b, err := base58.Decode(address)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: solana address %q is not 32 bytes of base58", ErrMalformed, clip(address))
	}
	return ed25519.PublicKey(b), nil
}

func verifySolana(address, message, signature string) error {
	pub, err := solanaKey(address)
	if err != nil {
		return err
	}
	sig, err := base58.Decode(signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		sig, err = base64.StdEncoding.DecodeString(signature)
	}
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: solana signature is not 64 bytes of base58 or base64", ErrMalformed)
	}
	if !ed25519.Verify(pub, []byte(message), sig) {
		return fmt.Errorf("%w: not by %s", ErrBadSignature, address)
	}
	return nil
}

// TronMessageHash is the digest TronLink's signMessageV2 signs (TronWeb's
// hashMessage): Keccak-256 of "\x19TRON Signed Message:\n", the message's
// length in bytes in decimal, and the message.
func TronMessageHash(message []byte) [32]byte {
	return tron.Keccak256([]byte("\x19TRON Signed Message:\n"+strconv.Itoa(len(message))), message)
}

func verifyTron(address, message, signature string) error {
	want, err := tron.ParseAddress(address)
	if err != nil {
		return fmt.Errorf("%w: tron address %q: %v", ErrMalformed, clip(address), err)
	}
	sig, err := tron.DecodeHex(signature)
	if err != nil || len(sig) != tron.SignatureLen {
		return fmt.Errorf("%w: tron signature is not 65 bytes of hex", ErrMalformed)
	}
	got, err := tron.RecoverSigner(TronMessageHash([]byte(message)), sig)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if got != want {
		return fmt.Errorf("%w: signed by %s, not %s", ErrBadSignature, got, want)
	}
	return nil
}

// SignSolana signs message as a Solana wallet's signIn does and returns
// the base58 signature (for the CLI's key files).
func SignSolana(key ed25519.PrivateKey, message string) string {
	return base58.Encode(ed25519.Sign(key, []byte(message)))
}

// SolanaAddress is the base58 address of key.
func SolanaAddress(key ed25519.PrivateKey) string {
	return base58.Encode(key.Public().(ed25519.PublicKey))
}

// SignTron signs message as TronLink's signMessageV2 does and returns
// 0x-prefixed hex with v 27/28.
func SignTron(key *secp256k1.PrivateKey, message string) string {
	return "0x" + hex.EncodeToString(tron.Sign(key, TronMessageHash([]byte(message))))
}
