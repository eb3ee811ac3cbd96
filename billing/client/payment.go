package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/aerolithdb/aerolith/billing/payment"
)

// WalletChallenge is what a wallet signs to connect (GET
// /api/v1/payment/wallet/challenge): sign Message exactly.
type WalletChallenge struct {
	Chain     string    `json:"chain"`
	Address   string    `json:"address"`
	Domain    string    `json:"domain"`
	Nonce     string    `json:"nonce"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Message   string    `json:"message"`
}

// Wallet is a wallet connected to a tenant.
type Wallet struct {
	TenantID    string    `json:"tenant_id"`
	Chain       string    `json:"chain"`
	Address     string    `json:"address"`
	ConnectedAt time.Time `json:"connected_at"`
	ConnectedBy string    `json:"connected_by"`
}

// WalletProof is a signed challenge.
type WalletProof struct {
	// TenantID is required with an admin key, optional with a tenant key.
	TenantID  string `json:"tenant_id,omitempty"`
	Chain     string `json:"chain"`
	Address   string `json:"address"`
	Message   string `json:"message"`
	Signature string `json:"signature"`
}

// WalletBalance is one token balance of a connected wallet, read from the
// chain.
type WalletBalance struct {
	Chain   string `json:"chain"`
	Address string `json:"address"`
	Token   string `json:"token"`
	Amount  uint64 `json:"amount"`
	Display string `json:"display"`
}

// ChainTransfer is a transfer recorded for an intent, with its verdict.
type ChainTransfer struct {
	payment.Observation
	Outcome    payment.Outcome `json:"outcome"`
	PaymentID  string          `json:"payment_id,omitempty"`
	RecordedAt time.Time       `json:"recorded_at"`
}

// PaymentIntent is a stored payment intent: pending, underpaid, paid,
// overpaid or expired.
type PaymentIntent struct {
	payment.Intent
	Status        string          `json:"status"`
	PaidCents     uint64          `json:"paid_cents"`
	CreditedCents int64           `json:"credited_cents"`
	Transfers     []ChainTransfer `json:"transfers"`
	CreatedBy     string          `json:"created_by"`
}

// SeenTransfer is a transfer a confirm found on chain, judged.
type SeenTransfer struct {
	TxID     string          `json:"tx_id"`
	Outcome  payment.Outcome `json:"outcome"`
	Recorded bool            `json:"recorded"`
}

// PaymentIntentAnswer is what create and confirm answer: the intent and
// how to pay it.
type PaymentIntentAnswer struct {
	Intent        PaymentIntent  `json:"intent"`
	AmountDisplay string         `json:"amount_display"`
	SolanaPayURL  string         `json:"solana_pay_url,omitempty"`
	TronAddress   string         `json:"tron_address,omitempty"`
	TokenAddress  string         `json:"token_address,omitempty"`
	ExpiresAt     time.Time      `json:"expires_at"`
	CheckoutURL   string         `json:"checkout_url"`
	Seen          []SeenTransfer `json:"seen,omitempty"`
}

// PaymentHistory is a tenant's connected wallets and payment intents.
type PaymentHistory struct {
	TenantID string          `json:"tenant_id"`
	Wallets  []Wallet        `json:"wallets"`
	Intents  []PaymentIntent `json:"intents"`
}

// CreatePayment asks for a payment intent.
type CreatePayment struct {
	// TenantID is required with an admin key.
	TenantID  string `json:"tenant_id,omitempty"`
	InvoiceID string `json:"invoice_id"`
	Token     string `json:"token"`
	Chain     string `json:"chain,omitempty"`
}

func tenantQuery(tenant string) url.Values {
	q := url.Values{}
	if tenant != "" {
		q.Set("tenant_id", tenant)
	}
	return q
}

// WalletChallenge asks for a sign-in challenge for the wallet (tenant is
// required with an admin key, "" with a tenant key).
func (c *Client) WalletChallenge(ctx context.Context, tenant, chain, address string) (WalletChallenge, error) {
	q := tenantQuery(tenant)
	q.Set("chain", chain)
	q.Set("address", address)
	var out WalletChallenge
	// Not idempotent: each call records a new nonce.
	err := c.send(ctx, http.MethodGet, "/api/v1/payment/wallet/challenge", q, nil, &out, false)
	return out, err
}

// ConnectWallet connects a wallet with its signed challenge.
func (c *Client) ConnectWallet(ctx context.Context, p WalletProof) (Wallet, error) {
	var out Wallet
	err := c.send(ctx, http.MethodPost, "/api/v1/payment/wallet/connect", nil, p, &out, false)
	return out, err
}

// DisconnectWallet removes a connected wallet.
func (c *Client) DisconnectWallet(ctx context.Context, tenant, chain, address string) (Wallet, error) {
	body := struct {
		TenantID string `json:"tenant_id,omitempty"`
		Chain    string `json:"chain"`
		Address  string `json:"address"`
	}{tenant, chain, address}
	var out Wallet
	err := c.send(ctx, http.MethodPost, "/api/v1/payment/wallet/disconnect", nil, body, &out, false)
	return out, err
}

// WalletBalances reads the connected wallets' balances from their chains
// (chain and address, when set, pick one wallet).
func (c *Client) WalletBalances(ctx context.Context, tenant, chain, address string) ([]WalletBalance, error) {
	q := tenantQuery(tenant)
	if chain != "" {
		q.Set("chain", chain)
	}
	if address != "" {
		q.Set("address", address)
	}
	var out struct {
		Balances []WalletBalance `json:"balances"`
	}
	err := c.send(ctx, http.MethodGet, "/api/v1/payment/balance", q, nil, &out, true)
	return out.Balances, err
}

// CreatePayment creates a payment intent for what is due on an invoice.
func (c *Client) CreatePayment(ctx context.Context, req CreatePayment) (PaymentIntentAnswer, error) {
	var out PaymentIntentAnswer
	err := c.send(ctx, http.MethodPost, "/api/v1/payment/create", nil, req, &out, false)
	return out, err
}

// ConfirmPayment asks the chain now for an intent's transfers (txID, when
// set, names one) and records the final ones.
func (c *Client) ConfirmPayment(ctx context.Context, tenant, intentID, txID string) (PaymentIntentAnswer, error) {
	body := struct {
		TenantID string `json:"tenant_id,omitempty"`
		IntentID string `json:"intent_id"`
		TxID     string `json:"tx_id,omitempty"`
	}{tenant, intentID, txID}
	var out PaymentIntentAnswer
	// Idempotent: a transfer is recorded once for its intent.
	err := c.send(ctx, http.MethodPost, "/api/v1/payment/confirm", nil, body, &out, true)
	return out, err
}

// PaymentHistory returns the tenant's wallets and payment intents.
func (c *Client) PaymentHistory(ctx context.Context, tenant string) (PaymentHistory, error) {
	var out PaymentHistory
	err := c.send(ctx, http.MethodGet, "/api/v1/payment/history", tenantQuery(tenant), nil, &out, true)
	return out, err
}
