package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	sol "github.com/gagliardetto/solana-go"
	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/tron"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/store"
)

// IntentAnswer is the answer of create and confirm: the stored intent and
// how to pay it.
type IntentAnswer struct {
	Intent *ledger.PaymentIntent `json:"intent"`
	// AmountDisplay is Intent.Amount in whole tokens, to the last digit
	// (on Tron the digits are what ties the transfer to the intent).
	AmountDisplay string `json:"amount_display"`
	// SolanaPayURL is the Solana Pay transfer request (solana: URL).
	SolanaPayURL string `json:"solana_pay_url,omitempty"`
	// TronAddress is where to send exactly AmountDisplay on Tron.
	TronAddress string `json:"tron_address,omitempty"`
	// TokenAddress is the token's mint (USDC) or contract (USDT); empty
	// for the native coins.
	TokenAddress string    `json:"token_address,omitempty"`
	ExpiresAt    time.Time `json:"expires_at"`
	CheckoutURL  string    `json:"checkout_url"`
	// Seen (confirm) lists the transfers found on chain now, judged.
	Seen []SeenTransfer `json:"seen,omitempty"`
}

// SeenTransfer is one transfer a confirm found, with its verdict.
type SeenTransfer struct {
	TxID    string          `json:"tx_id"`
	Outcome payment.Outcome `json:"outcome"`
	// Recorded: the ledger has it (now or before) for this intent.
	Recorded bool `json:"recorded"`
}

func (s *Server) intentAnswer(pay *Payments, p *ledger.PaymentIntent) (IntentAnswer, error) {
	a := IntentAnswer{Intent: p, AmountDisplay: payment.FormatUnits(p.Amount, p.Token.Decimals()), ExpiresAt: p.Expires, CheckoutURL: CheckoutPath(p.ID)}
	switch p.Chain {
	case payment.Solana:
		if pay.Solana == nil {
			break
		}
		req, err := pay.Solana.TransferRequest(p.Intent)
		if err != nil {
			return a, err
		}
		a.SolanaPayURL = req.String()
		if p.Token == payment.USDC {
			a.TokenAddress = pay.Solana.USDCMint().String()
		}
	case payment.Tron:
		a.TronAddress = p.Recipient
		if p.Token == payment.USDT && pay.Tron != nil {
			if t, err := pay.Tron.Token(payment.USDT); err == nil {
				a.TokenAddress = t.Contract.String()
			}
		}
	}
	return a, nil
}

// createBody is the body of POST /api/v1/payment/create.
type createBody struct {
	TenantID  string `json:"tenant_id"`
	InvoiceID string `json:"invoice_id"`
	Token     string `json:"token"`
	Chain     string `json:"chain"`
}

// maxAmountRetries bounds how often create picks another unique Tron
// amount after a concurrent create took the one it chose.
const maxAmountRetries = 5

// createPayment: POST /api/v1/payment/create → 201 an intent for what is
// due on an open invoice of the tenant, in token (on chain, which must be
// the token's): the Solana Pay URL, or the Tron address and the exact
// (unique) amount, the expiry and the checkout page's path.
func (s *Server) createPayment(w http.ResponseWriter, r *http.Request, p principal) error {
	pay, err := s.payments()
	if err != nil {
		return err
	}
	var b createBody
	if err := decodeStrict(r.Body, &b, false); err != nil {
		return err
	}
	tenant, err := payTenant(p, b.TenantID)
	if err != nil {
		return err
	}
	if b.InvoiceID == "" {
		return payInvalid("invoice_id: required")
	}
	if b.Token == "" {
		return payInvalid("token: required (SOL, USDC, TRX or USDT)")
	}
	tok, err := payment.ParseToken(b.Token)
	if err != nil {
		return payInvalid("token: %v", err)
	}
	if b.Chain != "" {
		c, err := payment.ParseChain(b.Chain)
		if err != nil {
			return payInvalid("chain: %v", err)
		}
		if c != tok.Chain() {
			return payInvalid("chain: %s is paid on %s, not %s", tok, tok.Chain(), c)
		}
	}
	if _, err := pay.verifier("token", tok.Chain()); err != nil {
		return err
	}
	var inv ledger.Invoice
	if err := s.view(r, func(tx *bolt.Tx) (err error) {
		inv, err = ledger.GetInvoice(tx, b.InvoiceID)
		return err
	}); err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return payNotFound("invoice_id: invoice %q not found", clip(b.InvoiceID))
		}
		return err
	}
	if inv.Tenant != tenant {
		return payNotFound("invoice_id: invoice %q not found", clip(b.InvoiceID))
	}
	if (inv.Status != ledger.InvoiceOpen && inv.Status != ledger.InvoiceUncollectible) || inv.AmountDueCents <= 0 {
		return payState("invoice_id: invoice %s is %s with %d cents due and accepts no payment", inv.ID, inv.Status, max(inv.AmountDueCents, 0))
	}
	rate, err := payment.RateFor(r.Context(), pay.Prices, tok)
	if err != nil {
		return chainFailure(w, "token: no price for %s: %v", tok, err)
	}
	var q payment.Quote
	if tok.Chain() == payment.Solana {
		if q, err = pay.Solana.Quote(tok, rate, "aerolith "+inv.ID); err != nil {
			return err
		}
	} else {
		q = payment.Quote{Token: tok, Rate: rate, Recipient: pay.Tron.Merchant().String(), Reference: tron.NewReference()}
	}
	for attempt := 0; ; attempt++ {
		in, err := payment.NewIntent(pay.Config, inv.ID, tenant, uint64(inv.AmountDueCents), q, s.cfg.Now())
		if err != nil {
			return payInvalid("%v", err)
		}
		if in.Chain == payment.Tron {
			if err := s.uniqueTronAmount(r.Context(), &in); err != nil {
				return err
			}
		}
		res, err := s.propose(r.Context(), ledger.CreatePaymentIntent{Header: s.header(p), Intent: in})
		if errors.Is(err, ledger.ErrConflict) && in.Chain == payment.Tron && attempt < maxAmountRetries && strings.HasPrefix(err.Error(), "amount") {
			continue // another create took the amount meanwhile
		}
		if err != nil {
			return err
		}
		a, err := s.intentAnswer(pay, res.PaymentIntent)
		if err != nil {
			return err
		}
		jsonapi.WriteJSON(w, http.StatusCreated, a)
		return nil
	}
}

// uniqueTronAmount raises in's amount past those of the open intents.
func (s *Server) uniqueTronAmount(ctx context.Context, in *payment.Intent) error {
	var open []payment.Intent
	if err := s.cfg.Store.View(ctx, store.Linearizable, func(tx *bolt.Tx) error {
		ps, err := ledger.PendingPaymentIntents(tx)
		for _, p := range ps {
			open = append(open, p.Intent)
		}
		return err
	}); err != nil {
		return err
	}
	if err := tron.UniqueIntent(in, open); err != nil {
		return payState("amount: %v; try again when open intents expire", err)
	}
	return nil
}

// confirmBody is the body of POST /api/v1/payment/confirm.
type confirmBody struct {
	TenantID string `json:"tenant_id"`
	IntentID string `json:"intent_id"`
	TxID     string `json:"tx_id"`
}

// confirmPayment: POST /api/v1/payment/confirm → 200 the intent after
// asking its chain now, as the watcher would, and recording every final
// transfer found; tx_id names a transaction to judge against the intent
// (on Tron this ties a transfer of another amount, an under- or
// overpayment, to the intent; on Solana the transaction must carry the
// intent's reference). A transaction that settled another intent is 409.
func (s *Server) confirmPayment(w http.ResponseWriter, r *http.Request, p principal) error {
	pay, err := s.payments()
	if err != nil {
		return err
	}
	var b confirmBody
	if err := decodeStrict(r.Body, &b, false); err != nil {
		return err
	}
	tenant, err := payTenant(p, b.TenantID)
	if err != nil {
		return err
	}
	if err := payment.CheckIntentID(b.IntentID); err != nil {
		return payInvalid("intent_id: %v", err)
	}
	pi, err := s.intentOf(r, tenant, b.IntentID)
	if err != nil {
		return err
	}
	v, err := pay.verifier("intent_id", pi.Chain)
	if err != nil {
		return err
	}
	if b.TxID != "" {
		switch pi.Chain {
		case payment.Solana:
			if _, err := sol.SignatureFromBase58(b.TxID); err != nil {
				return payInvalid("tx_id: %q is not a solana transaction signature: %v", clip(b.TxID), err)
			}
		case payment.Tron:
			if _, err := tron.ParseTxID(b.TxID); err != nil {
				return payInvalid("tx_id: %v", err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), pay.chainTimeout())
	defer cancel()
	obs, err := v.Verify(ctx, pi.Intent)
	if err != nil {
		return chainFailure(w, "reading %s: %v", pi.Chain, err)
	}
	if b.TxID != "" && pi.Chain == payment.Tron && !hasTx(obs, b.TxID) {
		ob, err := pay.Tron.VerifyTx(ctx, pi.Intent, b.TxID)
		switch {
		case errors.Is(err, tron.ErrNotFound):
			return payNotFound("tx_id: tron transaction %s not found", b.TxID)
		case errors.Is(err, tron.ErrRPC):
			return chainFailure(w, "reading tron: %v", err)
		case err != nil:
			return payInvalid("tx_id: %v", err)
		}
		obs = append(obs, ob)
	}
	if b.TxID != "" && !hasTx(obs, b.TxID) {
		return payNotFound("tx_id: no transfer %s carrying the intent's reference found on %s (yet)", b.TxID, pi.Chain)
	}
	known := map[string]bool{}
	for _, t := range pi.Transfers {
		known[t.TxID] = true
	}
	var seen []SeenTransfer
	for _, ob := range obs {
		out := payment.Assess(pi.Intent, ob)
		st := SeenTransfer{TxID: ob.TxID, Outcome: out, Recorded: known[ob.TxID]}
		if !known[ob.TxID] && out.Status != payment.StatusPending {
			_, err := s.propose(r.Context(), ledger.RecordChainPayment{Header: s.header(p), IntentID: pi.ID, Observation: ob})
			switch {
			case err == nil:
				st.Recorded = true
			case errors.Is(err, ledger.ErrConflict) && ob.TxID != b.TxID:
				// a listing's transfer that settled another intent
			default:
				return err
			}
		}
		seen = append(seen, st)
	}
	if pi, err = s.intentOf(r, tenant, b.IntentID); err != nil {
		return err
	}
	a, err := s.intentAnswer(pay, &pi)
	if err != nil {
		return err
	}
	a.Seen = seen
	jsonapi.WriteJSON(w, http.StatusOK, a)
	return nil
}

func hasTx(obs []payment.Observation, id string) bool {
	for _, ob := range obs {
		if strings.EqualFold(ob.TxID, id) {
			return true
		}
	}
	return false
}

// intentOf loads a tenant's intent (another tenant's is 404).
func (s *Server) intentOf(r *http.Request, tenant, id string) (ledger.PaymentIntent, error) {
	var pi ledger.PaymentIntent
	err := s.view(r, func(tx *bolt.Tx) (err error) {
		pi, err = ledger.GetPaymentIntent(tx, id)
		return err
	})
	if errors.Is(err, ledger.ErrNotFound) || (err == nil && pi.TenantID != tenant) {
		return pi, payNotFound("intent_id: payment intent %q not found", id)
	}
	return pi, err
}

// History is the answer of GET /api/v1/payment/history.
type History struct {
	TenantID string                 `json:"tenant_id"`
	Wallets  []ledger.Wallet        `json:"wallets"`
	Intents  []ledger.PaymentIntent `json:"intents"`
}

// paymentHistory: GET /api/v1/payment/history → 200 the tenant's
// connected wallets and payment intents (oldest first) with every
// transfer seen for them and its verdict.
func (s *Server) paymentHistory(w http.ResponseWriter, r *http.Request, p principal) error {
	tenant, err := payTenant(p, r.URL.Query().Get("tenant_id"))
	if err != nil {
		return err
	}
	h := History{TenantID: tenant}
	if err := s.view(r, func(tx *bolt.Tx) (err error) {
		if h.Wallets, err = ledger.Wallets(tx, tenant); err != nil {
			return err
		}
		h.Intents, err = ledger.PaymentIntents(tx, tenant)
		return err
	}); err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, h)
	return nil
}
