package billing

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	sol "github.com/gagliardetto/solana-go"
	"rsc.io/qr"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/solana/solanatest"
	"github.com/aerolithdb/aerolith/billing/payment/tron/trongridtest"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// TestWalletCLI drives `aerolith wallet` against a real `billing serve`
// process whose chains are the fake Solana JSON-RPC node and the fake
// TronGrid: a tenant connects a Solana keypair file and a Tron key file
// by signing the service's challenges, reads its balances from the
// chains, gets the Solana Pay URL of an invoice with a QR code that
// decodes to it, pays with --keypair (a real signed USDC transfer), sees
// the invoice paid in status and history, and disconnects.
func TestWalletCLI(t *testing.T) {
	proctest.SkipIfShort(t)
	node := solanatest.New()
	defer node.Close()
	node.SetLandingCommitment(solanatest.Finalized)
	merchant, err := sol.NewRandomPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	mint := sol.MustPublicKeyFromBase58(payment.MainnetUSDCMint)
	node.AddMint(mint, 6)
	node.FundToken(merchant.PublicKey(), mint, 0)
	grid := trongridtest.New()
	defer grid.Close()
	usdt := trongridtest.Addr(trongridtest.Key("usdt"))
	grid.AddToken(usdt, "USDT")

	dir := t.TempDir()
	ctx := context.Background()
	b, err := proctest.StartBilling(ctx, proctest.BillingConfig{Binary: binary, Dir: filepath.Join(dir, "billing"), ExtraArgs: []string{
		"--period", "2s", "--usage-bucket", "1s", "--grace", "1s", "--payment-terms", "1h",
		"--solana-rpc-url", node.URL(), "--solana-merchant", merchant.PublicKey().String(),
		"--tron-api-url", grid.URL(), "--tron-merchant", trongridtest.Addr(trongridtest.Key("merchant")).String(), "--tron-usdt-contract", usdt.String(),
		"--payment-prices", "SOL=150,TRX=0.25", "--payment-watch-interval", "200ms",
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	admin, err := b.Admin()
	if err != nil {
		t.Fatal(err)
	}
	ten, err := admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "Acme", Name: "acme", Tier: "starter", Email: "ap@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := admin.CreateTenantKey(ctx, ten.ID, "wallet") // the tenant role: connecting and paying change things
	if err != nil {
		t.Fatal(err)
	}
	enr, err := admin.RegisterCluster(ctx, "", []string{ten.ID})
	if err != nil {
		t.Fatal(err)
	}
	agent, err := billingclient.New(billingclient.Config{URL: b.URL(), Key: enr.EnrollmentToken})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := agent.SendUsage(ctx, []billingclient.UsageRecord{{NodeID: "n1", Seq: 1, TenantID: ten.ID, Start: now, End: now.Add(time.Second), Reads: 5_000_000, Writes: 10}}); err != nil {
		t.Fatal(err)
	}
	var invoiceID string
	testwait.For(t, time.Minute, "an open invoice", func() error {
		invs, err := admin.ListInvoices(ctx, billingclient.InvoiceQuery{TenantID: ten.ID, Status: "open"})
		if err != nil {
			return err
		}
		for _, inv := range invs {
			if inv.AmountDueCents > 0 {
				invoiceID = inv.ID
				return nil
			}
		}
		return fmt.Errorf("%d open invoices, none with something due", len(invs))
	})

	// The customer's keys, as solana-keygen and a Tron wallet export them.
	wallet, err := sol.NewRandomPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	ints := make([]int, len(wallet))
	for i, c := range wallet {
		ints[i] = int(c)
	}
	raw, _ := json.Marshal(ints)
	keypair := filepath.Join(dir, "id.json")
	tronKeyFile := filepath.Join(dir, "tron.key")
	tk := trongridtest.Key("customer")
	if err := os.WriteFile(keypair, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tronKeyFile, []byte(hex.EncodeToString(tk.Serialize())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	node.Fund(wallet.PublicKey(), 2_000_000_000)
	node.FundToken(wallet.PublicKey(), mint, 500_000_000)
	grid.Fund(trongridtest.Addr(tk), 7_000_000)
	grid.Solidify()

	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, append([]string{"wallet"}, args...)...)
		cmd.Env = append(os.Environ(), "AEROLITH_BILLING_URL="+b.URL(), "AEROLITH_BILLING_KEY="+key.Key, "AEROLITH_INSECURE_HTTP=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("aerolith wallet %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	addr := wallet.PublicKey().String()
	if out := run("connect", "--keypair", keypair); !strings.Contains(out, "connected solana wallet "+addr+" to tenant "+ten.ID) {
		t.Fatalf("connect: %s", out)
	}
	taddr := trongridtest.Addr(tk).String()
	if out := run("connect", "--tron-key", tronKeyFile); !strings.Contains(out, "connected tron wallet "+taddr) {
		t.Fatalf("connect tron: %s", out)
	}
	out := run("balance")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`solana\s+` + addr + `\s+SOL\s+2\n`),
		regexp.MustCompile(`solana\s+` + addr + `\s+USDC\s+500\n`),
		regexp.MustCompile(`tron\s+` + taddr + `\s+TRX\s+7\n`),
	} {
		if !want.MatchString(out) {
			t.Fatalf("balance does not match %s:\n%s", want, out)
		}
	}

	// Pay instructions: the URL, and a QR code that is the URL.
	out = run("pay", invoiceID, "--token", "USDC")
	url := regexp.MustCompile(`(?m)^solana:\S+$`).FindString(out)
	if url == "" || !strings.Contains(url, "spl-token="+payment.MainnetUSDCMint) || !strings.Contains(out, "checkout page: /pay/pi_") {
		t.Fatalf("pay without a key:\n%s", out)
	}
	checkQR(t, out, url)
	if out := run("status"); !strings.Contains(out, "pending payment intents:") || !strings.Contains(out, invoiceID) {
		t.Fatalf("status with a pending intent:\n%s", out)
	}

	// Pay with the keypair: built, signed, sent, confirmed.
	out = run("pay", invoiceID, "--token", "USDC", "--keypair", keypair, "--solana-rpc-url", node.URL(), "--wait", "30s")
	if !regexp.MustCompile(`payment intent pi_\S+: paid`).MatchString(out) {
		t.Fatalf("pay with --keypair:\n%s", out)
	}
	inv, err := admin.GetInvoice(ctx, invoiceID)
	if err != nil || inv.Status != "paid" {
		t.Fatalf("invoice after paying: %+v, %v", inv.Status, err)
	}
	if out := run("history"); strings.Count(out, invoiceID) != 2 || !strings.Contains(out, " paid ") {
		t.Fatalf("history:\n%s", out)
	}

	// The next invoice in USDT on Tron, sent with --tron-key: not final
	// until the block is solidified, then the watcher settles it.
	later := time.Now()
	if _, err := agent.SendUsage(ctx, []billingclient.UsageRecord{{NodeID: "n1", Seq: 2, TenantID: ten.ID, Start: later, End: later.Add(time.Second), Reads: 5_000_000, Writes: 10}}); err != nil {
		t.Fatal(err)
	}
	var second string
	testwait.For(t, time.Minute, "a second open invoice", func() error {
		invs, err := admin.ListInvoices(ctx, billingclient.InvoiceQuery{TenantID: ten.ID, Status: "open"})
		if err != nil {
			return err
		}
		for _, inv := range invs {
			if inv.AmountDueCents > 0 && inv.ID != invoiceID {
				second = inv.ID
				return nil
			}
		}
		return fmt.Errorf("%d open invoices", len(invs))
	})
	grid.Mint(usdt, trongridtest.Addr(tk), big.NewInt(1_000_000_000))
	grid.Fund(trongridtest.Addr(tk), 200_000_000)
	grid.Solidify()
	out = run("pay", second, "--token", "USDT", "--tron-key", tronKeyFile, "--tron-api-url", grid.URL(), "--wait", "0s")
	if !strings.Contains(out, "not final yet") || !regexp.MustCompile(`sent \d+\.\d+ USDT for invoice `+second+` \(intent pi_\S+\): transaction [0-9a-f]{64}`).MatchString(out) {
		t.Fatalf("pay with --tron-key:\n%s", out)
	}
	grid.Solidify()
	testwait.For(t, time.Minute, "the tron payment settled by the watcher", func() error {
		inv, err := admin.GetInvoice(ctx, second)
		if err != nil {
			return err
		}
		if inv.Status != "paid" {
			return fmt.Errorf("invoice %s", inv.Status)
		}
		return nil
	})
	if out := run("disconnect", addr); !strings.Contains(out, "disconnected solana wallet "+addr) {
		t.Fatalf("disconnect: %s", out)
	}
	if out := run("status"); strings.Contains(out, addr) || !strings.Contains(out, taddr) {
		t.Fatalf("status after disconnect:\n%s", out)
	}
}

// checkQR reads the half-block QR code printed after url back into
// modules and compares them with url's QR code.
func checkQR(t *testing.T, out, url string) {
	t.Helper()
	code, err := qr.Encode(url, qr.M)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && strings.Trim(l, "█▀▄ ") == "" {
			rows = append(rows, l)
		}
	}
	const quiet = 4
	n := code.Size + 2*quiet
	if len(rows) != (n+1)/2 {
		t.Fatalf("QR code has %d lines, want %d:\n%s", len(rows), (n+1)/2, out)
	}
	for i, l := range rows {
		cells := []rune(l)
		if len(cells) != n {
			t.Fatalf("QR line %d has %d cells, want %d", i, len(cells), n)
		}
		for x, c := range cells {
			for half, y := range []int{2 * i, 2*i + 1} {
				if y >= n {
					continue
				}
				dark := c == ' ' || (half == 0 && c == '▄') || (half == 1 && c == '▀')
				mx, my := x-quiet, y-quiet
				want := mx >= 0 && my >= 0 && mx < code.Size && my < code.Size && code.Black(mx, my)
				if dark != want {
					t.Fatalf("QR module (%d,%d) dark=%v, want %v", mx, my, dark, want)
				}
			}
		}
	}
}
