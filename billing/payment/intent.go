package payment

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Intent is one request to pay an invoice (or part of it) in one token on
// one chain, at a rate quoted when it was created. Its ID is unguessable,
// so it can be shown to anyone holding it (the hosted checkout page).
type Intent struct {
	// ID is 128 random bits in lowercase base32 with a "pi_" prefix.
	ID        string `json:"id"`
	InvoiceID string `json:"invoice_id"`
	TenantID  string `json:"tenant_id"`
	Chain     Chain  `json:"chain"`
	Token     Token  `json:"token"`
	// AmountCents is the USD value asked for.
	AmountCents uint64 `json:"amount_cents"`
	// Amount is AmountCents in the token's smallest unit at Rate, rounded
	// up: exactly what the payer must send.
	Amount uint64 `json:"amount"`
	// Rate is the quote the intent was created at; a late payment within
	// the monitoring window is honoured at it.
	Rate Rate `json:"rate"`
	// Recipient is the merchant's address on the chain (for SPL tokens the
	// wallet owning the receiving associated token account).
	Recipient string `json:"recipient"`
	// Reference ties a transfer to this intent: a fresh public key on
	// Solana (Solana Pay reference); on Tron what the tron package
	// documents.
	Reference string `json:"reference"`
	// Memo is carried by the transfer when the chain supports one.
	Memo         string    `json:"memo,omitempty"`
	Created      time.Time `json:"created"`
	Expires      time.Time `json:"expires"`
	MonitorUntil time.Time `json:"monitor_until"`
}

// intentIDPrefix marks payment intent ids.
const intentIDPrefix = "pi_"

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewIntentID returns a fresh unguessable intent id (128 bits from
// crypto/rand).
func NewIntentID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on supported platforms (it panics itself
		// since Go 1.24); keep the guarantee explicit.
		panic(fmt.Sprintf("payment: crypto/rand: %v", err))
	}
	return intentIDPrefix + strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// ErrIntentID is the cause of a malformed intent id.
var ErrIntentID = errors.New("invalid payment intent id")

// CheckIntentID reports whether id has the shape NewIntentID produces, so
// that untrusted ids (URL paths) are refused before any lookup.
func CheckIntentID(id string) error {
	rest, ok := strings.CutPrefix(id, intentIDPrefix)
	if !ok || len(rest) != 26 {
		return fmt.Errorf("%w: %q", ErrIntentID, id)
	}
	if _, err := idEncoding.DecodeString(strings.ToUpper(rest)); err != nil {
		return fmt.Errorf("%w: %q", ErrIntentID, id)
	}
	return nil
}

// Quote is what NewIntent needs besides the invoice: the token, the rate,
// where to pay and how to tie the transfer to the intent.
type Quote struct {
	Token     Token
	Rate      Rate
	Recipient string
	Reference string
	Memo      string
}

// NewIntent builds an intent for cents of an invoice at the quote, expiring
// after cfg.QuoteExpiry and watched until cfg.MonitorWindow after that.
func NewIntent(cfg Config, invoiceID, tenantID string, cents uint64, q Quote, now time.Time) (Intent, error) {
	if cents == 0 {
		return Intent{}, fmt.Errorf("amount_cents: must be positive")
	}
	if q.Token.Chain() == "" {
		return Intent{}, fmt.Errorf("token %q: not accepted", q.Token)
	}
	if q.Recipient == "" {
		return Intent{}, fmt.Errorf("recipient: no merchant address for %s", q.Token.Chain())
	}
	if q.Reference == "" {
		return Intent{}, fmt.Errorf("reference: required")
	}
	units, err := q.Rate.UnitsFor(cents)
	if err != nil {
		return Intent{}, fmt.Errorf("amount_cents %d in %s: %w", cents, q.Token, err)
	}
	if units == 0 {
		return Intent{}, fmt.Errorf("amount_cents %d in %s: rounds to zero", cents, q.Token)
	}
	expiry, window := cfg.QuoteExpiry, cfg.MonitorWindow
	if expiry <= 0 {
		expiry = DefaultQuoteExpiry
	}
	if window <= 0 {
		window = DefaultMonitorWindow
	}
	now = now.UTC().Truncate(time.Second)
	return Intent{
		ID:           NewIntentID(),
		InvoiceID:    invoiceID,
		TenantID:     tenantID,
		Chain:        q.Token.Chain(),
		Token:        q.Token,
		AmountCents:  cents,
		Amount:       units,
		Rate:         q.Rate,
		Recipient:    q.Recipient,
		Reference:    q.Reference,
		Memo:         q.Memo,
		Created:      now,
		Expires:      now.Add(expiry),
		MonitorUntil: now.Add(expiry + window),
	}, nil
}
