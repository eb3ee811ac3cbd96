package service

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/aerolithdb/aerolith/billing/payment"
)

func TestPaymentOptions(t *testing.T) {
	load := func(args ...string) (Config, error) {
		t.Helper()
		fs := pflag.NewFlagSet("billing", pflag.ContinueOnError)
		RegisterFlags(fs)
		if err := fs.Parse(append([]string{"--data-dir", t.TempDir(), "--admin-key", "0123456789abcdef0123", "--insecure-http"}, args...)); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(fs, func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		return cfg, cfg.Validate()
	}
	cfg, err := load()
	if err != nil {
		t.Fatalf("no payment options: %v", err)
	}
	pc, err := cfg.PaymentSettings()
	if err != nil || pc.Network != payment.Mainnet || pc.Solana.Merchant != "" {
		t.Fatalf("defaults: %+v, %v", pc, err)
	}
	cfg, err = load("--payment-network", "devnet", "--solana-merchant", "mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN",
		"--payment-prices", "SOL=150.25,TRX=0.2471", "--payment-quote-expiry", "10m")
	if err != nil {
		t.Fatal(err)
	}
	pc, err = cfg.PaymentSettings()
	if err != nil || pc.Solana.RPCURL != "https://api.devnet.solana.com" || pc.Solana.USDCMint != payment.DevnetUSDCMint ||
		pc.Prices["SOL"] != "150.25" || pc.QuoteExpiry.Minutes() != 10 || pc.MonitorWindow != payment.DefaultMonitorWindow {
		t.Fatalf("devnet settings: %+v, %v", pc, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--solana-merchant", "not-a-key"}, "solana-merchant"},
		{[]string{"--payment-network", "moon"}, "payment-network"},
		{[]string{"--payment-prices", "SOL"}, "payment-prices"},
		{[]string{"--payment-prices", "SOL=free"}, "payment-prices"},
		{[]string{"--solana-rpc-url", "ftp://x", "--solana-merchant", "mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN"}, "solana-rpc-url"},
		{[]string{"--payment-quote-expiry", "1s"}, "payment-quote-expiry"},
		{[]string{"--payment-network", "testnet", "--solana-merchant", "mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN"}, "solana-usdc-mint"},
	} {
		if _, err := load(tc.args...); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: Validate = %v, want an error starting with %q", tc.args, err, tc.want)
		}
	}
}
