package service

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/png" // screenshots
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/solana"
	"github.com/aerolithdb/aerolith/billing/payment/solana/solanatest"
	"github.com/aerolithdb/aerolith/internal/testwait"
)

// chromiumEnv names the headless Chromium the browser tests drive; `make
// test` sets it after `make chromium` unpacked Debian's package into
// .tools/chromium.
const chromiumEnv = "AEROLITH_CHROMIUM"

// browser starts headless Chromium for the test, or skips it when none is
// configured. The flags keep it off the network: this machine has none
// but loopback, and Chromium's background fetches would only fail.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv(chromiumEnv)
	if path == "" {
		t.Skipf("%s is not set: run `make chromium` and set it to .tools/chromium/chromium (make test does both)", chromiumEnv)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s=%s: %v (run `make chromium`)", chromiumEnv, path, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // the tests may run as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(900, 1400),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser; it needs a context without a
	// deadline (a timeout would stop the browser with it).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// TestCheckoutPageInBrowser: a real billing service configured with a
// Solana merchant on the fake node serves the checkout page of a USDC
// intent to headless Chromium. The page renders the invoice, its QR code
// (read back from a screenshot) is the intent's Solana Pay URL, the
// keyboard reaches its controls, and when the payer's real signed
// transfer lands the status turns to confirming, then — once the node
// finalizes it and the service's watcher records it — to paid, without a
// reload.
func TestCheckoutPageInBrowser(t *testing.T) {
	bctx := browser(t)

	node := solanatest.New()
	defer node.Close()
	node.SetLandingCommitment(solanatest.Confirmed)
	merchant, payer := mustKey(t).PublicKey(), mustKey(t)
	mint := sol.MustPublicKeyFromBase58(payment.MainnetUSDCMint)
	node.AddMint(mint, 6)
	node.Fund(payer.PublicKey(), 1_000_000_000)
	node.FundToken(payer.PublicKey(), mint, 1_000_000_000)
	node.FundToken(merchant, mint, 0)
	s, admin := startService(t, t.TempDir(), func(c *Config) {
		c.Payment.SolanaRPCURL, c.Payment.SolanaMerchant = node.URL(), merchant.String()
		c.Payment.WatchInterval = 100 * time.Millisecond
	})
	ctx := context.Background()
	ten, err := admin.CreateTenant(ctx, client.TenantRequest{Organization: "Acme <Payments>", Name: "acme", Tier: "starter", Email: "ap@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	var open contract.Invoice
	testwait.For(t, time.Minute, "an open invoice", func() error {
		invs, err := admin.ListInvoices(ctx, client.InvoiceQuery{TenantID: ten.ID, Status: "open"})
		if err != nil {
			return err
		}
		for _, inv := range invs {
			if inv.AmountDueCents > 0 {
				open = inv
				return nil
			}
		}
		return fmt.Errorf("%d open invoices, none with an amount due", len(invs))
	})

	pc, err := s.cfg.PaymentSettings()
	if err != nil {
		t.Fatal(err)
	}
	client := rpc.New(node.URL())
	v, err := solana.New(pc.Solana, client)
	if err != nil {
		t.Fatal(err)
	}
	q, err := v.Quote(payment.USDC, payment.ParRate(payment.USDC), "aerolith "+open.ID)
	if err != nil {
		t.Fatal(err)
	}
	in, err := payment.NewIntent(pc, open.ID, ten.ID, uint64(open.AmountDueCents), q, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	mustPropose(t, s.Store(), ledger.CreatePaymentIntent{Header: ledger.Header{Time: time.Now().UnixNano(), Actor: "test"}, Intent: in})
	req, err := v.TransferRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	wantURL := req.String()

	run := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		actx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(actx, a); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		actx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(actx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	eval := func(expr string) string {
		t.Helper()
		actx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(actx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return s
	}
	// contrast checks every visible text element's contrast ratio against
	// its effective background (WCAG 2 relative luminance): at least 4.5.
	contrast := func(when string) {
		t.Helper()
		res := eval(contrastJS)
		var ratio float64
		var which string
		if _, err := fmt.Sscanf(res, "%f %s", &ratio, &which); err != nil {
			t.Fatalf("contrast %s: %q: %v", when, res, err)
		}
		if ratio < 4.5 {
			t.Errorf("%s: lowest contrast %.2f:1 on %s, want at least 4.5:1", when, ratio, which)
		}
	}
	// waitStatus polls the DOM until the status element says want.
	waitStatus := func(want string) {
		t.Helper()
		run("status "+want, chromedp.Poll[chromedp.Void](
			fmt.Sprintf(`document.getElementById("status").dataset.status === %q`, want),
			chromedp.WithPollingInterval(100*time.Millisecond)))
	}

	run("open the page", chromedp.Navigate("http://"+s.HTTPAddr()+"/pay/"+in.ID))
	run("page rendered", chromedp.WaitVisible(chromedp.CSS("#qr")))
	// The QR image loaded (naturalWidth is 0 for a broken image).
	run("qr loaded", chromedp.Poll[chromedp.Void](`document.getElementById("qr").complete && document.getElementById("qr").naturalWidth > 0`))
	if got := text("#invoice-id"); got != open.ID {
		t.Errorf("invoice number %q, want %q", got, open.ID)
	}
	if got := text("#organization"); got != "Acme <Payments>" {
		t.Errorf("organization %q", got)
	}
	if got, want := text("#send-amount"), payment.FormatUnits(in.Amount, 6); got != want {
		t.Errorf("amount %q, want %q", got, want)
	}
	if got := eval(`document.getElementById("pay-url").getAttribute("href")`); got != wantURL {
		t.Errorf("pay link %q, want %q", got, wantURL)
	}
	if got := eval(`document.getElementById("status").getAttribute("aria-live")`); got != "polite" {
		t.Errorf("status aria-live %q", got)
	}
	// The script runs under the CSP: the countdown is filled in.
	run("countdown", chromedp.Poll[chromedp.Void](`/\d+ min \d\d s/.test(document.getElementById("countdown").textContent)`))
	waitStatus(ledger.IntentPending)
	contrast("pending")

	// The QR code, as a phone camera would see it on screen.
	sctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	shot, err := chromedp.Run(sctx, chromedp.Screenshot(chromedp.CSS("#qr"), chromedp.NodeVisible))
	cancel()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, _, err := image.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("decode screenshot: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("QR code in the screenshot: %v", err)
	}
	if res.GetText() != wantURL {
		t.Fatalf("QR code = %q, want the intent's Solana Pay URL %q", res.GetText(), wantURL)
	}

	// Keyboard: Tab reaches the copy button, then the wallet link.
	run("tab", chromedp.KeyEvent("\t"))
	if got := eval(`document.activeElement.textContent`); got != "Copy address" {
		t.Errorf("first Tab focuses %q, want the copy button", got)
	}
	run("tab", chromedp.KeyEvent("\t"))
	if got := eval(`document.activeElement.id`); got != "pay-url" {
		t.Errorf("second Tab focuses #%s, want #pay-url", got)
	}

	// The payer's wallet pays the URL: a real signed transfer, landing
	// confirmed.
	ixs, err := solana.Instructions(req, payer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	tx, err := sol.NewTransaction(ixs, node.LatestBlockhash(), sol.TransactionPayer(payer.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Sign(func(sol.PublicKey) *sol.PrivateKey { return &payer }); err != nil {
		t.Fatal(err)
	}
	sig, err := client.SendTransaction(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	waitStatus("confirming")
	contrast("confirming")
	node.SetCommitment(sig, solanatest.Finalized)
	waitStatus(ledger.IntentPaid)
	if msg := text("#status"); msg == "" {
		t.Error("paid without a message")
	}
	if got := eval(`String(document.getElementById("pay").hidden)`); got != "true" {
		t.Error("the payment details are still shown once paid")
	}
	contrast("paid")
	inv, err := admin.GetInvoice(ctx, open.ID)
	if err != nil || inv.Status != contract.InvoicePaid {
		t.Fatalf("invoice after the page said paid: %+v, %v", inv, err)
	}
}

// contrastJS returns "RATIO ELEMENT" for the visible text element with the
// lowest contrast against the first non-transparent background behind it.
const contrastJS = `(function () {
  function lum(c) {
    var a = c.match(/[\d.]+/g).slice(0, 3).map(function (v) {
      v = v / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * a[0] + 0.7152 * a[1] + 0.0722 * a[2];
  }
  function bg(el) {
    for (; el; el = el.parentElement) {
      var c = getComputedStyle(el).backgroundColor, m = c.match(/[\d.]+/g);
      if (m && (m.length < 4 || +m[3] > 0)) { return c; }
    }
    return "rgb(255, 255, 255)";
  }
  var worst = 99, which = "none";
  document.querySelectorAll("h1, h2, dt, dd, p, a, button, code, span, time").forEach(function (el) {
    if (!el.offsetParent || !el.textContent.trim()) { return; }
    var l1 = lum(getComputedStyle(el).color), l2 = lum(bg(el));
    var r = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (r < worst) { worst = r; which = el.tagName.toLowerCase() + (el.id ? "#" + el.id : ""); }
  });
  return worst.toFixed(2) + " " + which;
})()`
