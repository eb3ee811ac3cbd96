package api

import (
	"github.com/aerolithdb/aerolith/internal/jsonapi"

	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/solana"
	"github.com/aerolithdb/aerolith/store"
)

// The hosted checkout page of a payment intent, as BTCPay Server and
// Coinbase Commerce have one: GET /pay/{intent} needs no login, because
// the intent id is 128 random bits (payment.NewIntentID) and holding it is
// the permission to see what to pay. It shows the invoice (number, period,
// billed-to organization, amount in USD), the exact amount in the token,
// the Solana Pay QR code and URL or the Tron address, an expiry countdown,
// and the status, which its script polls from GET /pay/{intent}/status
// (pending → confirming → paid / underpaid / expired) without a reload.
// An unknown or malformed id is 404 with nothing else said.
//
// "confirming" is not a ledger state: the ledger records only finalized
// transfers. It means the chain shows a transfer for the intent that the
// ledger has not recorded yet (seen confirmed, or finalized and waiting
// for the payment watcher's next pass); the status endpoint asks the
// chain for it through a bounded cache (checkoutProbe).

//go:embed checkout.html
var checkoutFS embed.FS

var checkoutTmpl = template.Must(template.New("checkout.html").ParseFS(checkoutFS, "checkout.html"))

// SolanaPay builds the Solana Pay transfer request of an intent
// (*solana.Verifier implements it).
type SolanaPay interface {
	TransferRequest(in payment.Intent) (solana.TransferRequest, error)
}

var _ SolanaPay = (*solana.Verifier)(nil)

// CheckoutConfig configures the hosted checkout page.
type CheckoutConfig struct {
	// Solana builds the QR code and URL of Solana intents; nil: they show
	// the address and amount only.
	Solana SolanaPay
	// Verifiers read the chains for transfers not yet recorded (the
	// confirming status); an intent on a chain without one never shows
	// confirming.
	Verifiers []payment.Verifier
	// ProbeInterval is the least time between two chain reads for one
	// intent, however often its page polls (default 5s).
	ProbeInterval time.Duration
	// ProbeTimeout bounds one chain read (default 10s).
	ProbeTimeout time.Duration
}

// Statuses of the checkout page and its status endpoint.
const (
	CheckoutPending    = "pending"
	CheckoutConfirming = "confirming"
	CheckoutPaid       = "paid"
	CheckoutUnderpaid  = "underpaid"
	CheckoutExpired    = "expired"
	// CheckoutClosed: the invoice no longer takes this payment (paid by
	// other means, void); nothing more should be sent.
	CheckoutClosed = "closed"
)

// checkoutStatus is the JSON of GET /pay/{intent}/status.
type checkoutStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	// Final: no further change is expected; the page stops polling.
	Final bool `json:"final"`
	// SendAmount is what is left to send, in whole tokens (exact decimal).
	SendAmount string `json:"send_amount"`
	// PayURL is the Solana Pay URL for SendAmount ("" on Tron).
	PayURL    string    `json:"pay_url,omitempty"`
	Now       time.Time `json:"now"`
	ExpiresAt time.Time `json:"expires_at"`
}

// checkoutView is what the template renders.
type checkoutView struct {
	Nonce        string
	Intent       ledger.PaymentIntent
	InvoiceID    string
	Organization string
	Period       string
	AmountUSD    string
	Token        string
	Chain        string
	Recipient    string
	SendAmount   string
	// PayURL is the Solana Pay URL, checked to start with "solana:".
	PayURL     template.URL
	PayURLText string
	Status     checkoutStatus
	ExpiresAt  string
	MonitorEnd string
	StatusURL  string
	QRURL      string
}

// CheckoutPath is the path of an intent's checkout page on the billing
// service, for answers that hand the payer a link.
func CheckoutPath(intentID string) string { return "/pay/" + intentID }

// checkoutData reads the intent and its invoice; a missing or malformed
// id is errCheckoutNotFound.
func (s *Server) checkoutData(r *http.Request) (ledger.PaymentIntent, ledger.Invoice, ledger.Tenant, error) {
	id := r.PathValue("intent")
	var (
		p   ledger.PaymentIntent
		inv ledger.Invoice
		tn  ledger.Tenant
	)
	if payment.CheckIntentID(id) != nil {
		return p, inv, tn, errCheckoutNotFound
	}
	err := s.cfg.Store.View(r.Context(), store.Linearizable, func(tx *bolt.Tx) (err error) {
		if p, err = ledger.GetPaymentIntent(tx, id); err != nil {
			return err
		}
		if inv, err = ledger.GetInvoice(tx, p.InvoiceID); err != nil {
			return err
		}
		tn, err = ledger.GetTenant(tx, p.TenantID)
		return err
	})
	if errors.Is(err, ledger.ErrNotFound) {
		return p, inv, tn, errCheckoutNotFound
	}
	return p, inv, tn, err
}

var errCheckoutNotFound = errors.New("payment link not found")

// checkoutPage: GET /pay/{intent} → the HTML page.
func (s *Server) checkoutPage(w http.ResponseWriter, r *http.Request, _ principal) error {
	nonce := newNonce()
	checkoutHeaders(w, nonce)
	p, inv, tn, err := s.checkoutData(r)
	if errors.Is(err, errCheckoutNotFound) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(checkoutNotFoundHTML))
		return nil
	}
	if err != nil {
		return err
	}
	st := s.checkoutState(r, p, inv)
	v := checkoutView{
		Nonce:        nonce,
		Intent:       p,
		InvoiceID:    inv.ID,
		Organization: tn.Organization,
		Period:       inv.PeriodStart.UTC().Format(periodLayout) + " – " + inv.PeriodEnd.UTC().Format(periodLayout),
		AmountUSD:    formatUSD(int64(p.AmountCents)),
		Token:        string(p.Token),
		Chain:        chainName(p.Chain),
		Recipient:    p.Recipient,
		SendAmount:   st.SendAmount,
		Status:       st,
		ExpiresAt:    p.Expires.UTC().Format(time.RFC3339),
		MonitorEnd:   p.MonitorUntil.UTC().Format(periodLayout),
		StatusURL:    p.ID + "/status",
		QRURL:        p.ID + "/qr.svg",
	}
	if st.PayURL != "" {
		v.PayURL, v.PayURLText = template.URL(st.PayURL), st.PayURL
	}
	var buf bytes.Buffer
	if err := checkoutTmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("checkout page: %w", err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
	return nil
}

// checkoutStatusJSON: GET /pay/{intent}/status → checkoutStatus.
func (s *Server) checkoutStatusJSON(w http.ResponseWriter, r *http.Request, _ principal) error {
	checkoutHeaders(w, "")
	p, inv, _, err := s.checkoutData(r)
	if errors.Is(err, errCheckoutNotFound) {
		return jsonapi.NotFound("payment link not found")
	}
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, s.checkoutState(r, p, inv))
	return nil
}

// checkoutQR: GET /pay/{intent}/qr.svg → the QR code of the Solana Pay
// URL for what is left to send (404 for intents without one).
func (s *Server) checkoutQR(w http.ResponseWriter, r *http.Request, _ principal) error {
	checkoutHeaders(w, "")
	p, inv, _, err := s.checkoutData(r)
	if errors.Is(err, errCheckoutNotFound) {
		return jsonapi.NotFound("payment link not found")
	}
	if err != nil {
		return err
	}
	st := s.checkoutState(r, p, inv)
	if st.PayURL == "" {
		return jsonapi.NotFound("this payment has no QR code")
	}
	svg, err := qrSVG(st.PayURL)
	if err != nil {
		return fmt.Errorf("checkout qr: %w", err)
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	_, _ = w.Write(svg)
	return nil
}

// checkoutState decides the status shown for an intent.
func (s *Server) checkoutState(r *http.Request, p ledger.PaymentIntent, inv ledger.Invoice) checkoutStatus {
	now := s.cfg.Now()
	confirming := false
	if s.probe != nil && (p.Status == ledger.IntentPending || p.Status == ledger.IntentUnderpaid) && !now.After(p.MonitorUntil) {
		confirming = s.probe.confirming(r.Context(), p, now)
	}
	st := checkoutStateOf(p, inv, now, confirming)
	if st.Status != CheckoutPaid && st.Status != CheckoutClosed && p.Chain == payment.Solana && s.cfg.Checkout.Solana != nil {
		if u, err := s.solanaPayURL(p); err != nil {
			s.log.Warn("checkout: no solana pay url", "intent", p.ID, "err", err)
		} else {
			st.PayURL = u
		}
	}
	return st
}

// solanaPayURL is the Solana Pay URL for what is left to pay of p.
func (s *Server) solanaPayURL(p ledger.PaymentIntent) (string, error) {
	req, err := s.cfg.Checkout.Solana.TransferRequest(p.Intent)
	if err != nil {
		return "", err
	}
	req.Amount = remainingUnits(p)
	return req.String(), nil
}

// remainingUnits is what is left to send, in the token's smallest unit:
// the whole amount, or for an underpaid intent the missing cents at the
// quoted rate rounded up (so that sending it completes the payment).
func remainingUnits(p ledger.PaymentIntent) uint64 {
	if p.Status != ledger.IntentUnderpaid || p.PaidCents >= p.AmountCents {
		return p.Amount
	}
	u, err := p.Rate.UnitsFor(p.AmountCents - p.PaidCents)
	if err != nil || u > p.Amount {
		return p.Amount
	}
	return u
}

// checkoutStateOf is the status of p with its invoice at now; confirming
// says whether the chain shows a transfer the ledger has not recorded.
func checkoutStateOf(p ledger.PaymentIntent, inv ledger.Invoice, now time.Time, confirming bool) checkoutStatus {
	send := payment.FormatUnits(remainingUnits(p), p.Token.Decimals())
	st := checkoutStatus{SendAmount: send, Now: now.UTC(), ExpiresAt: p.Expires.UTC()}
	open := inv.Status == ledger.InvoiceOpen || inv.Status == ledger.InvoiceUncollectible
	switch {
	case p.Status == ledger.IntentPaid:
		st.Status, st.Final = CheckoutPaid, true
		st.Message = fmt.Sprintf("Paid: %s received. Thank you.", formatUSD(int64(p.PaidCents)))
	case p.Status == ledger.IntentOverpaid:
		st.Status, st.Final = CheckoutPaid, true
		st.Message = fmt.Sprintf("Paid: %s received; the %s above the amount due was credited to your account.",
			formatUSD(int64(p.PaidCents)), formatUSD(int64(p.PaidCents-p.AmountCents)))
	case confirming:
		st.Status = CheckoutConfirming
		st.Message = "Payment seen on chain; waiting for it to be finalized. Keep this page open."
	case !open:
		st.Status, st.Final = CheckoutClosed, true
		st.Message = fmt.Sprintf("Invoice %s is %s and takes no further payment. Do not send anything.", inv.ID, inv.Status)
	case p.Status == ledger.IntentUnderpaid:
		st.Status = CheckoutUnderpaid
		st.Message = fmt.Sprintf("Received %s of %s. Send the remaining %s %s to complete the payment.",
			formatUSD(int64(p.PaidCents)), formatUSD(int64(p.AmountCents)), send, p.Token)
	case p.Status == ledger.IntentExpired:
		st.Status, st.Final = CheckoutExpired, true
		st.Message = "This payment link expired without a payment. Ask for a new one."
	case now.After(p.Expires):
		st.Status = CheckoutExpired
		st.Message = fmt.Sprintf("The quote expired. A payment already sent is still recognised until %s; otherwise ask for a new payment link.",
			p.MonitorUntil.UTC().Format(periodLayout))
	default:
		st.Status = CheckoutPending
		st.Message = "Waiting for your payment."
	}
	return st
}

const periodLayout = "2 Jan 2006 15:04 UTC"

// checkoutHeaders sets the security headers of the checkout routes: a
// content security policy allowing only the page's own nonce'd script and
// style and same-origin fetches and images, no framing, no MIME sniffing,
// no referrer (the URL is the payment link), and no caching (the status
// changes; the page carries a fresh nonce).
func checkoutHeaders(w http.ResponseWriter, nonce string) {
	h := w.Header()
	csp := "default-src 'none'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	if nonce != "" {
		csp += "; script-src 'nonce-" + nonce + "'; style-src 'nonce-" + nonce + "'"
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail (it panics itself since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// formatUSD writes cents as "$1,234.56".
func formatUSD(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	whole := strconv.FormatInt(cents/100, 10)
	var b []byte
	for i := range len(whole) {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, whole[i])
	}
	return fmt.Sprintf("%s$%s.%02d", sign, b, cents%100)
}

func chainName(c payment.Chain) string {
	switch c {
	case payment.Solana:
		return "Solana"
	case payment.Tron:
		return "Tron"
	}
	return string(c)
}

const checkoutNotFoundHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Payment link not found</title></head>
<body><main><h1>Payment link not found</h1><p>Check the link you were given, or ask for a new one.</p></main></body></html>
`
