package api

import (
	"github.com/aerolithdb/aerolith/internal/jsonapi"

	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/solana"
	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// chainDouble is a payment.Verifier whose chain shows the observations the
// test sets, per intent.
type chainDouble struct {
	mu    sync.Mutex
	seen  map[string][]payment.Observation
	calls int
}

func (c *chainDouble) Chain() payment.Chain { return payment.Solana }

func (c *chainDouble) Verify(_ context.Context, in payment.Intent) ([]payment.Observation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return c.seen[in.ID], nil
}

func (c *chainDouble) set(id string, obs ...payment.Observation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[id] = obs
}

// checkoutEnv is a billing API with the checkout page on Solana, a tenant
// whose organization name is hostile HTML, and its open invoice.
type checkoutEnv struct {
	*env
	verifier *solana.Verifier
	chain    *chainDouble
	cfg      payment.Config
	inv      ledger.Invoice
}

func newCheckoutEnv(t *testing.T) *checkoutEnv {
	t.Helper()
	cfg := payment.DefaultConfig(payment.Mainnet)
	cfg.Solana.Merchant = "mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN"
	// No I/O: the page only builds transfer requests with it.
	v, err := solana.New(cfg.Solana, rpc.New("http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	chain := &chainDouble{seen: map[string][]payment.Observation{}}
	e := newEnv(t, func(c *Config) {
		c.Checkout = CheckoutConfig{Solana: v, Verifiers: []payment.Verifier{chain}, ProbeInterval: time.Nanosecond}
	})
	var tn ledger.Tenant
	e.want(201, "POST", "/api/v1/tenants", adminKey, map[string]string{
		"organization": `<script>alert("org")</script> & Sons`, "name": "evil", "tier": "starter", "email": "billing@evil.example",
	}, &tn)
	feb := time.Date(2026, 2, 1, 0, 0, 1, 0, time.UTC)
	e.clock.Set(feb)
	drafts := e.closeDrafts(feb)
	if len(drafts) != 1 {
		t.Fatalf("closed %d drafts, want 1", len(drafts))
	}
	var inv ledger.Invoice
	e.want(200, "POST", "/api/v1/invoices/"+drafts[0].ID+"/finalize", adminKey, nil, &inv)
	if inv.AmountDueCents < 600 {
		t.Fatalf("invoice due %d cents, want at least $6 to split", inv.AmountDueCents)
	}
	return &checkoutEnv{env: e, verifier: v, chain: chain, cfg: cfg, inv: inv}
}

// intent creates a USDC intent for cents of the invoice.
func (c *checkoutEnv) intent(cents uint64) ledger.PaymentIntent {
	c.t.Helper()
	q, err := c.verifier.Quote(payment.USDC, payment.ParRate(payment.USDC), "aerolith "+c.inv.ID)
	if err != nil {
		c.t.Fatal(err)
	}
	in, err := payment.NewIntent(c.cfg, c.inv.ID, c.inv.Tenant, cents, q, c.clock.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	return *c.propose(ledger.CreatePaymentIntent{Header: ledger.Header{Time: c.clock.Now().UnixNano(), Actor: "test"}, Intent: in}).PaymentIntent
}

// transfer records a finalized USDC transfer of units for p.
func (c *checkoutEnv) transfer(p ledger.PaymentIntent, tx string, units uint64) {
	c.t.Helper()
	c.propose(ledger.RecordChainPayment{Header: ledger.Header{Time: c.clock.Now().UnixNano(), Actor: "test"}, IntentID: p.ID,
		Observation: payment.Observation{Chain: payment.Solana, TxID: tx, Token: payment.USDC, Amount: units, Recipient: p.Recipient,
			Finality: payment.Finalized, BlockTime: c.clock.Now()}})
}

// status reads the status endpoint and the page, checks that both say the
// same, and returns the endpoint's answer.
func (c *checkoutEnv) status(p ledger.PaymentIntent) checkoutStatus {
	c.t.Helper()
	var st checkoutStatus
	c.want(200, "GET", "/pay/"+p.ID+"/status", "", nil, &st)
	page := c.want(200, "GET", "/pay/"+p.ID, "", nil, nil)
	if want := `data-status="` + st.Status + `"`; !strings.Contains(string(page.body), want) {
		c.t.Fatalf("page of %s lacks %s (status endpoint: %+v)", p.ID, want, st)
	}
	return st
}

func TestCheckoutStatuses(t *testing.T) {
	c := newCheckoutEnv(t)
	pending, confirming, underpaid, paid := c.intent(100), c.intent(150), c.intent(100), c.intent(200)
	c.chain.set(confirming.ID, payment.Observation{Chain: payment.Solana, TxID: "sig-confirmed", Token: payment.USDC,
		Amount: confirming.Amount, Recipient: confirming.Recipient, Finality: payment.Confirmed})
	// A failed transfer on chain is no sign of a payment coming.
	c.chain.set(pending.ID, payment.Observation{Chain: payment.Solana, TxID: "sig-failed", Failed: true, Finality: payment.Confirmed})
	c.transfer(underpaid, "sig-half", underpaid.Amount/2)
	c.transfer(paid, "sig-full", paid.Amount)
	c.clock.Set(c.clock.Now().Add(time.Minute))

	for _, tc := range []struct {
		p     ledger.PaymentIntent
		want  string
		final bool
		send  string // whole USDC left to send
		msg   string
	}{
		{pending, CheckoutPending, false, "1", "Waiting for your payment"},
		{confirming, CheckoutConfirming, false, "1.5", "waiting for it to be finalized"},
		{underpaid, CheckoutUnderpaid, false, "0.5", "Received $0.50 of $1.00. Send the remaining 0.5 USDC"},
		{paid, CheckoutPaid, true, "2", "Paid: $2.00 received"},
	} {
		st := c.status(tc.p)
		if st.Status != tc.want || st.Final != tc.final || st.SendAmount != tc.send || !strings.Contains(st.Message, tc.msg) {
			t.Errorf("status of the %s intent = %+v, want %s (final %v), send %s, message with %q", tc.want, st, tc.want, tc.final, tc.send, tc.msg)
		}
		page := string(c.want(200, "GET", "/pay/"+tc.p.ID, "", nil, nil).body)
		if hidden := strings.Contains(page, `<section id="pay" aria-labelledby="pay-h" hidden>`); hidden != tc.final {
			t.Errorf("%s: payment details hidden = %v, want %v", tc.want, hidden, tc.final)
		}
		if tc.want == CheckoutPaid {
			if st.PayURL != "" {
				t.Errorf("paid intent still offers %s", st.PayURL)
			}
			continue
		}
		// The URL asks for what is left, with the intent's reference.
		req, err := solana.ParseTransferRequest(st.PayURL, func(sol.PublicKey) (uint8, error) { return 6, nil })
		if err != nil {
			t.Fatalf("%s: pay url %q: %v", tc.want, st.PayURL, err)
		}
		if got := payment.FormatUnits(req.Amount, 6); got != tc.send || len(req.References) != 1 || req.References[0].String() != tc.p.Reference ||
			req.Recipient.String() != tc.p.Recipient || req.SPLToken.String() != payment.MainnetUSDCMint {
			t.Errorf("%s: pay url %q: amount %s, refs %v", tc.want, st.PayURL, got, req.References)
		}
		if got := decodeQRSVG(t, c.want(200, "GET", "/pay/"+tc.p.ID+"/qr.svg", "", nil, nil).body); got != st.PayURL {
			t.Errorf("%s: QR code says %q, want %q", tc.want, got, st.PayURL)
		}
	}
	// The confirming transfer finalizes and is recorded: paid.
	c.transfer(confirming, "sig-confirmed", confirming.Amount)
	if st := c.status(confirming); st.Status != CheckoutPaid {
		t.Errorf("after the transfer is recorded: %+v", st)
	}

	// The quote expires: a late payment is still recognised, so the page
	// keeps polling; once the monitoring window is over the ledger expires
	// the intent for good.
	c.clock.Set(pending.Expires.Add(time.Second))
	if st := c.status(pending); st.Status != CheckoutExpired || st.Final || !strings.Contains(st.Message, "still recognised") {
		t.Errorf("after the quote expired: %+v", st)
	}
	c.clock.Set(pending.MonitorUntil.Add(time.Second))
	c.propose(ledger.ExpirePaymentIntent{Header: ledger.Header{Time: c.clock.Now().UnixNano(), Actor: "test"}, IntentID: pending.ID})
	if st := c.status(pending); st.Status != CheckoutExpired || !st.Final {
		t.Errorf("expired by the ledger: %+v", st)
	}

	// The rest of the invoice is paid by wire: the underpaid intent's
	// page says to send nothing more.
	var inv ledger.Invoice
	c.want(200, "GET", "/api/v1/invoices/"+c.inv.ID, adminKey, nil, &inv)
	c.want(201, "POST", "/api/v1/invoices/"+c.inv.ID+"/payments", adminKey, map[string]any{
		"amount_cents": inv.AmountDueCents, "method": "manual", "external_ref": "w-1"}, nil)
	if st := c.status(underpaid); st.Status != CheckoutClosed || !st.Final || st.PayURL != "" || !strings.Contains(st.Message, "Do not send") {
		t.Errorf("after the invoice was paid by wire: %+v", st)
	}
	c.want(404, "GET", "/pay/"+underpaid.ID+"/qr.svg", "", nil, nil)
}

// The chain is read at most once per interval, however often the page
// polls.
func TestCheckoutProbeBounded(t *testing.T) {
	c := newCheckoutEnv(t)
	c.srv.probe.every = time.Hour
	p := c.intent(100)
	for range 5 {
		c.want(200, "GET", "/pay/"+p.ID+"/status", "", nil, nil)
	}
	if c.chain.calls != 1 {
		t.Fatalf("5 polls read the chain %d times, want 1", c.chain.calls)
	}
}

func TestCheckoutPageHTML(t *testing.T) {
	c := newCheckoutEnv(t)
	p := c.intent(512)
	r := c.want(200, "GET", CheckoutPath(p.ID), "", nil, nil)
	body := string(r.body)

	// Invoice fields are escaped, never markup.
	if strings.Contains(body, `<script>alert`) || !strings.Contains(body, `&lt;script&gt;alert(&#34;org&#34;)&lt;/script&gt; &amp; Sons`) {
		t.Errorf("organization not escaped:\n%s", body)
	}
	for _, want := range []string{
		`<dd id="invoice-id">` + c.inv.ID + `</dd>`,
		`<dd id="amount-usd" class="amount">$5.12</dd>`,
		`<span id="send-amount">5.12</span> USDC`,
		`<code id="recipient">` + p.Recipient + `</code>`,
		`<time id="countdown" datetime="` + p.Expires.Format(time.RFC3339) + `"`,
		`role="status" aria-live="polite"`,
		`<img id="qr" src="` + p.ID + `/qr.svg" alt="`,
		`lang="en"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// The link is the Solana Pay URL (html/template would have replaced
	// an unknown scheme with #ZgotmplZ).
	m := regexp.MustCompile(`<a id="pay-url" href="([^"]+)">`).FindStringSubmatch(body)
	if m == nil || !strings.HasPrefix(m[1], "solana:"+p.Recipient+"?amount=5.12&amp;spl-token=") {
		t.Errorf("pay link = %v", m)
	}

	// Headers: a nonce'd CSP without unsafe-inline, matching the page's
	// script and style; no framing, sniffing, referrer or caching.
	csp := r.header.Get("Content-Security-Policy")
	nonce := regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9_-]{22})'`).FindStringSubmatch(csp)
	if nonce == nil || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP = %q", csp)
	}
	if !strings.Contains(body, `<script nonce="`+nonce[1]+`"`) || !strings.Contains(body, `<style nonce="`+nonce[1]+`"`) {
		t.Errorf("script or style without the CSP nonce %s", nonce[1])
	}
	if strings.Contains(body, " style=") || strings.Contains(body, " onclick=") {
		t.Errorf("inline style or handler attribute, which the CSP blocks")
	}
	again := c.want(200, "GET", "/pay/"+p.ID, "", nil, nil)
	if again.header.Get("Content-Security-Policy") == csp {
		t.Errorf("nonce reused across answers")
	}
	for _, path := range []string{"/pay/" + p.ID, "/pay/" + p.ID + "/status", "/pay/" + p.ID + "/qr.svg"} {
		h := c.want(200, "GET", path, "", nil, nil).header
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if h.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", path, k, h.Get(k), v)
			}
		}
	}
	if ct := c.want(200, "GET", "/pay/"+p.ID+"/qr.svg", "", nil, nil).header.Get("Content-Type"); ct != "image/svg+xml" {
		t.Errorf("qr content type %q", ct)
	}
}

func TestCheckoutNotFound(t *testing.T) {
	c := newCheckoutEnv(t)
	p := c.intent(100)
	unknown := payment.NewIntentID()
	for _, id := range []string{unknown, "pi_short", "in_" + p.ID[3:], url.PathEscape("<script>"), strings.ToUpper(p.ID)} {
		r := c.do("GET", "/pay/"+id, "", nil)
		if r.status != 404 || strings.Contains(string(r.body), id) || !strings.Contains(string(r.body), "Payment link not found") ||
			r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET /pay/%s = %d %s", id, r.status, r.body)
		}
		for _, sub := range []string{"/status", "/qr.svg"} {
			r := c.do("GET", "/pay/"+id+sub, "", nil)
			if r.status != 404 || r.errCode() != jsonapi.CodeNotFound || r.errMsg() != "payment link not found" {
				t.Errorf("GET /pay/%s%s = %d %s", id, sub, r.status, r.body)
			}
		}
	}
	// Only GET (and HEAD).
	if r := c.do("POST", "/pay/"+p.ID+"/status", "", nil); r.status != 405 {
		t.Errorf("POST status = %d", r.status)
	}
	// The status answer says nothing of the tenant.
	var raw map[string]any
	c.want(200, "GET", "/pay/"+p.ID+"/status", "", nil, &raw)
	b, _ := json.Marshal(raw)
	if strings.Contains(string(b), c.inv.Tenant) || strings.Contains(string(b), "Sons") {
		t.Errorf("status leaks the tenant: %s", b)
	}
}

func TestFormatUSD(t *testing.T) {
	for _, tc := range []struct {
		cents int64
		want  string
	}{{0, "$0.00"}, {5, "$0.05"}, {100, "$1.00"}, {123456, "$1,234.56"}, {100000000, "$1,000,000.00"}, {-250, "-$2.50"}} {
		if got := formatUSD(tc.cents); got != tc.want {
			t.Errorf("formatUSD(%d) = %q, want %q", tc.cents, got, tc.want)
		}
	}
}

// decodeQRSVG rasterizes an SVG of qrSVG's shape (runs of modules
// "M x y h n v1 h-n z") and decodes the QR code in it.
func decodeQRSVG(t *testing.T, svg []byte) string {
	t.Helper()
	vb := regexp.MustCompile(`viewBox="0 0 (\d+) (\d+)"`).FindSubmatch(svg)
	if vb == nil {
		t.Fatalf("no viewBox in %.100s", svg)
	}
	n, _ := strconv.Atoi(string(vb[1]))
	const scale = 4
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for _, m := range regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`).FindAllSubmatch(svg, -1) {
		x, _ := strconv.Atoi(string(m[1]))
		y, _ := strconv.Atoi(string(m[2]))
		w, _ := strconv.Atoi(string(m[3]))
		for dy := range scale {
			for dx := range w * scale {
				img.SetGray(x*scale+dx, y*scale+dy, color.Gray{})
			}
		}
	}
	return decodeQR(t, img)
}

func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR: %v", err)
	}
	return res.GetText()
}

// boltStore serves reads from an empty bbolt database: enough for the
// checkout routes' lookups (every id is unknown), with no raft to start,
// so the fuzz target runs thousands of requests a second.
type boltStore struct{ db *bolt.DB }

func (s boltStore) Propose(context.Context, []byte) ([]byte, uint64, error) {
	return nil, 0, errors.New("read-only")
}
func (s boltStore) View(_ context.Context, _ store.Consistency, fn func(tx *bolt.Tx) error) error {
	return s.db.View(fn)
}
func (s boltStore) Members(context.Context) ([]store.Member, error) { return nil, nil }
func (s boltStore) Leader() (string, string)                        { return "n0", "" }
func (s boltStore) Ready() bool                                     { return true }
func (s boltStore) Stats() store.Stats                              { return store.Stats{} }

// FuzzCheckoutID: whatever a caller puts where the intent id goes, the
// checkout routes answer 404 (or 400 for a path the mux refuses), never
// an error of ours, and never echo markup back.
func FuzzCheckoutID(f *testing.F) {
	for _, s := range []string{"pi_aaaaaaaaaaaaaaaaaaaaaaaaaa", "pi_" + strings.Repeat("7", 26), "<script>alert(1)</script>", "pi_%2e%2e", "", "..", "pi_\x00", "PI_AAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(s)
	}
	db, err := bolt.Open(filepath.Join(f.TempDir(), "empty.db"), 0o600, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	srv, err := New(Config{Store: boltStore{db}, AdminKeys: []string{adminKey}, Logger: storetest.TestLogger()})
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, id string) {
		for _, sub := range []string{"", "/status", "/qr.svg"} {
			target := "/pay/" + url.PathEscape(id) + sub
			req := httptest.NewRequest("GET", "http://billing.test/", nil)
			req.URL.Path, req.URL.RawPath = "/pay/"+id+sub, target
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 404 && w.Code != 400 {
				t.Fatalf("GET %s = %d %s", target, w.Code, w.Body)
			}
			if w.Code != 404 || id == "" || strings.Contains(id, "/") {
				continue // not this route's answer
			}
			// A 404 says the same whatever the id: nothing is echoed.
			if sub == "" {
				if w.Body.String() != checkoutNotFoundHTML {
					t.Fatalf("GET %s: 404 page %s", target, w.Body)
				}
			} else if r := (resp{status: w.Code, body: w.Body.Bytes()}); r.errMsg() != "payment link not found" {
				t.Fatalf("GET %s: 404 answer %s", target, w.Body)
			}
		}
	})
}

// A Tron intent shows the merchant address and the exact (unique) amount
// to send, and has no QR code.
func TestCheckoutTron(t *testing.T) {
	c := newCheckoutEnv(t)
	rate := payment.ParRate(payment.USDT)
	in, err := payment.NewIntent(c.cfg, c.inv.ID, c.inv.Tenant, 300, payment.Quote{Token: payment.USDT, Rate: rate,
		Recipient: "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7", Reference: "amount:3000017"}, c.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The unique amount: a few base units above the quote (tron.UniqueAmount).
	in.Amount += 17
	p := *c.propose(ledger.CreatePaymentIntent{Header: ledger.Header{Time: c.clock.Now().UnixNano(), Actor: "test"}, Intent: in}).PaymentIntent
	body := string(c.want(200, "GET", "/pay/"+p.ID, "", nil, nil).body)
	for _, want := range []string{
		`Pay with USDT on Tron`,
		`<span id="send-amount">3.000017</span> USDT`,
		`<code id="recipient">TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7</code>`,
		`the exact amount is what ties your transfer to this invoice`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("tron page lacks %s", want)
		}
	}
	if strings.Contains(body, `id="qr"`) || strings.Contains(body, `id="pay-url"`) {
		t.Error("tron page shows a Solana Pay QR code or link")
	}
	var st checkoutStatus
	c.want(200, "GET", "/pay/"+p.ID+"/status", "", nil, &st)
	if st.Status != CheckoutPending || st.PayURL != "" || st.SendAmount != "3.000017" {
		t.Errorf("tron status %+v", st)
	}
	c.want(404, "GET", "/pay/"+p.ID+"/qr.svg", "", nil, nil)
}
