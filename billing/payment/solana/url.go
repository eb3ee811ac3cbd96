package solana

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	sol "github.com/gagliardetto/solana-go"

	"github.com/aerolithdb/aerolith/billing/payment"
)

// ErrURL is the cause of every transfer request URL parsing error.
var ErrURL = errors.New("invalid solana pay url")

// Limits on what a transfer request carries. Solana Pay sets none for
// label and message; ours keep a hostile URL from carrying megabytes.
const (
	maxURLLen     = 4096
	maxReferences = 16
	maxTextLen    = 512
	// MaxMemoLen is the longest memo accepted: the Memo program takes up
	// to about 566 bytes in one transaction; a little less leaves room.
	MaxMemoLen = 512
)

// TransferRequest is a Solana Pay transfer request
// (solana:<recipient>?amount=&spl-token=&reference=&label=&message=&memo=).
// Amount is in the token's smallest unit, written into the URL as an exact
// decimal of whole tokens using Decimals.
type TransferRequest struct {
	Recipient sol.PublicKey
	// Amount in the smallest unit; HasAmount says whether it is set (a
	// request without an amount lets the payer choose).
	Amount    uint64
	HasAmount bool
	// Decimals of the token: 9 for SOL, the mint's for SPL tokens.
	Decimals uint8
	// SPLToken is the mint for an SPL token transfer; zero for SOL.
	SPLToken   sol.PublicKey
	References []sol.PublicKey
	Label      string
	Message    string
	Memo       string
}

// String builds the URL. Parameters are written in the order the Solana
// Pay specification lists them, percent-encoded.
func (r TransferRequest) String() string {
	var b strings.Builder
	b.WriteString("solana:")
	b.WriteString(r.Recipient.String())
	sep := byte('?')
	add := func(k, v string) {
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	if r.HasAmount {
		add("amount", payment.FormatUnits(r.Amount, r.Decimals))
	}
	if !r.SPLToken.IsZero() {
		add("spl-token", r.SPLToken.String())
	}
	for _, ref := range r.References {
		add("reference", ref.String())
	}
	if r.Label != "" {
		add("label", r.Label)
	}
	if r.Message != "" {
		add("message", r.Message)
	}
	if r.Memo != "" {
		add("memo", r.Memo)
	}
	return b.String()
}

// ParseTransferRequest reads a Solana Pay transfer request URL. decimals
// gives the token's decimals for the amount: the caller knows them from
// spl-token (9 for SOL); it is called with the parsed mint, or nil for
// 9/SOL-only callers. Every malformed part is an error wrapping ErrURL
// that names the part: a recipient or reference that is not a base58
// public key, an amount with a sign, exponent or too many decimals,
// duplicate single-valued parameters, text that is not UTF-8.
func ParseTransferRequest(raw string, decimals func(mint sol.PublicKey) (uint8, error)) (TransferRequest, error) {
	var r TransferRequest
	if len(raw) > maxURLLen {
		return r, fmt.Errorf("%w: %d bytes, at most %d", ErrURL, len(raw), maxURLLen)
	}
	rest, ok := strings.CutPrefix(raw, "solana:")
	if !ok {
		return r, fmt.Errorf("%w: does not start with solana:", ErrURL)
	}
	path, query, _ := strings.Cut(rest, "?")
	if strings.Contains(path, "/") || strings.Contains(path, "%") {
		// A transaction request (solana:https%3A...) is another protocol.
		return r, fmt.Errorf("%w: recipient %q: a transfer request names a public key", ErrURL, path)
	}
	pk, err := sol.PublicKeyFromBase58(path)
	if err != nil {
		return r, fmt.Errorf("%w: recipient %q: %v", ErrURL, path, err)
	}
	r.Recipient = pk
	vals, err := url.ParseQuery(query)
	if err != nil {
		return r, fmt.Errorf("%w: query: %v", ErrURL, err)
	}
	for k, vs := range vals {
		switch k {
		case "amount", "spl-token", "label", "message", "memo":
			if len(vs) > 1 {
				return r, fmt.Errorf("%w: %s given %d times", ErrURL, k, len(vs))
			}
		case "reference":
			if len(vs) > maxReferences {
				return r, fmt.Errorf("%w: %d references, at most %d", ErrURL, len(vs), maxReferences)
			}
		default:
			// Solana Pay says unknown parameters are ignored, so that the
			// spec can grow.
		}
	}
	if s := vals.Get("spl-token"); s != "" {
		if r.SPLToken, err = sol.PublicKeyFromBase58(s); err != nil {
			return r, fmt.Errorf("%w: spl-token %q: %v", ErrURL, s, err)
		}
	}
	r.Decimals = 9
	if !r.SPLToken.IsZero() {
		if decimals == nil {
			return r, fmt.Errorf("%w: spl-token %s: decimals unknown", ErrURL, r.SPLToken)
		}
		if r.Decimals, err = decimals(r.SPLToken); err != nil {
			return r, fmt.Errorf("%w: spl-token %s: %v", ErrURL, r.SPLToken, err)
		}
	}
	if vs, ok := vals["amount"]; ok {
		if r.Amount, err = payment.ParseUnits(vs[0], r.Decimals); err != nil {
			return r, fmt.Errorf("%w: amount: %w", ErrURL, err)
		}
		r.HasAmount = true
	}
	seen := map[sol.PublicKey]bool{}
	for _, s := range vals["reference"] {
		ref, err := sol.PublicKeyFromBase58(s)
		if err != nil {
			return r, fmt.Errorf("%w: reference %q: %v", ErrURL, s, err)
		}
		if seen[ref] {
			return r, fmt.Errorf("%w: reference %s given twice", ErrURL, ref)
		}
		seen[ref] = true
		r.References = append(r.References, ref)
	}
	for _, f := range []struct {
		name string
		dst  *string
		max  int
	}{{"label", &r.Label, maxTextLen}, {"message", &r.Message, maxTextLen}, {"memo", &r.Memo, MaxMemoLen}} {
		v := vals.Get(f.name)
		if !utf8.ValidString(v) {
			return r, fmt.Errorf("%w: %s is not UTF-8", ErrURL, f.name)
		}
		if len(v) > f.max {
			return r, fmt.Errorf("%w: %s is %d bytes, at most %d", ErrURL, f.name, len(v), f.max)
		}
		*f.dst = v
	}
	return r, nil
}

// ErrMemo is the cause of every memo error.
var ErrMemo = errors.New("invalid memo")

// ParseMemo reads the data of a Memo program instruction: UTF-8, as the
// program itself requires, at most MaxMemoLen bytes.
func ParseMemo(data []byte) (string, error) {
	if len(data) > MaxMemoLen {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrMemo, len(data), MaxMemoLen)
	}
	if !utf8.Valid(data) {
		return "", fmt.Errorf("%w: not UTF-8", ErrMemo)
	}
	return string(data), nil
}
