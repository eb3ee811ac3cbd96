package service

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gagliardetto/solana-go/rpc"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aerolithdb/aerolith/billing/api"
	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/signin"
	"github.com/aerolithdb/aerolith/billing/payment/solana"
	"github.com/aerolithdb/aerolith/billing/payment/tron"
	"github.com/aerolithdb/aerolith/internal/settings"
	"github.com/aerolithdb/aerolith/store"
)

// DefaultPaymentWatchInterval is the payment watcher's default pass
// interval: about the time a Solana block takes to finalize.
const DefaultPaymentWatchInterval = 15 * time.Second

// PaymentConfig is the crypto payments part of Config. Without a merchant
// address no chain is watched.
type PaymentConfig struct {
	Network        string
	SolanaRPCURL   string
	SolanaMerchant string
	SolanaUSDCMint string
	TronAPIURL     string
	TronAPIKey     string
	TronMerchant   string
	TronUSDT       string
	// Prices are "SYMBOL=USD" pairs ("SOL=150.25"); PriceURL replaces them.
	Prices        []string
	PriceURL      string
	QuoteExpiry   time.Duration
	MonitorWindow time.Duration
	WatchInterval time.Duration
	// SignInDomain is the host[:port] wallet sign-in messages name
	// (default: the advertised HTTP address).
	SignInDomain string
}

// The payment options, appended to the table here to keep them together.
func init() {
	table.Options = append(table.Options, []settings.Option[Config]{
		{Name: "payment-network", Usage: "chain network of crypto payments: mainnet, devnet or testnet (sets the default RPC URLs and token addresses)", Field: func(c *Config) any { return &c.Payment.Network }},
		{Name: "solana-rpc-url", Usage: "Solana JSON-RPC endpoint; default: the network's public endpoint", Field: func(c *Config) any { return &c.Payment.SolanaRPCURL }},
		{Name: "solana-merchant", Usage: "Solana wallet (base58) receiving SOL and, in its associated token account, USDC; unset: no Solana payments", Field: func(c *Config) any { return &c.Payment.SolanaMerchant }},
		{Name: "solana-usdc-mint", Usage: "USDC mint; default on mainnet EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v, on devnet Circle's devnet mint", Field: func(c *Config) any { return &c.Payment.SolanaUSDCMint }},
		{Name: "tron-api-url", Usage: "TronGrid (or a full node's) HTTP API; default: the network's TronGrid endpoint (testnet: Nile)", Field: func(c *Config) any { return &c.Payment.TronAPIURL }},
		{Name: "tron-api-key", Usage: "TronGrid API key, sent as TRON-PRO-API-KEY", Field: func(c *Config) any { return &c.Payment.TronAPIKey }},
		{Name: "tron-merchant", Usage: "Tron address (T…) receiving TRX and USDT-TRC20; unset: no Tron payments", Field: func(c *Config) any { return &c.Payment.TronMerchant }},
		{Name: "tron-usdt-contract", Usage: "USDT-TRC20 contract; default on mainnet TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t, required elsewhere", Field: func(c *Config) any { return &c.Payment.TronUSDT }},
		{Name: "payment-prices", Usage: "USD prices of SOL and TRX for quotes, comma-separated SYMBOL=PRICE (e.g. SOL=150.25,TRX=0.2471); stablecoins are at par", Field: func(c *Config) any { return &c.Payment.Prices }},
		{Name: "payment-price-url", Usage: `price endpoint answering {"SOL":"150.25","TRX":"0.2471"}, asked for each quote instead of --payment-prices`, Field: func(c *Config) any { return &c.Payment.PriceURL }},
		{Name: "payment-quote-expiry", Usage: "how long a payment intent's quoted rate holds", Field: func(c *Config) any { return &c.Payment.QuoteExpiry }},
		{Name: "payment-monitor-window", Usage: "how long after a quote expires a late payment is still honoured at the quoted rate", Field: func(c *Config) any { return &c.Payment.MonitorWindow }},
		{Name: "wallet-signin-domain", Usage: "host[:port] wallet sign-in messages are for (what users reach the billing API at); default: the advertised HTTP address", Field: func(c *Config) any { return &c.Payment.SignInDomain }},
		{Name: "payment-watch-interval", Usage: "how often the leader checks the chains for payments of pending intents", Field: func(c *Config) any { return &c.Payment.WatchInterval }},
	}...)
}

// PaymentSettings returns the payment configuration the options describe,
// with the network's defaults filled in, or an error naming the option.
func (c *Config) PaymentSettings() (payment.Config, error) {
	p := c.Payment
	pc := payment.Config{Network: payment.Network(p.Network), QuoteExpiry: p.QuoteExpiry, MonitorWindow: p.MonitorWindow, PriceURL: p.PriceURL}
	pc.Solana = payment.SolanaConfig{RPCURL: p.SolanaRPCURL, Merchant: p.SolanaMerchant, USDCMint: p.SolanaUSDCMint}
	pc.Tron = payment.TronConfig{APIURL: p.TronAPIURL, APIKey: p.TronAPIKey, Merchant: p.TronMerchant, USDTContract: p.TronUSDT}
	if len(p.Prices) > 0 {
		pc.Prices = map[string]string{}
		for _, kv := range p.Prices {
			sym, price, ok := strings.Cut(kv, "=")
			if !ok {
				return payment.Config{}, fmt.Errorf("payment-prices: %q is not SYMBOL=PRICE (e.g. SOL=150.25)", kv)
			}
			pc.Prices[strings.TrimSpace(sym)] = strings.TrimSpace(price)
		}
	}
	if err := pc.Normalize(); err != nil {
		return payment.Config{}, optionNamed(err)
	}
	if p.WatchInterval < 0 || (p.WatchInterval > 0 && p.WatchInterval < 10*time.Millisecond) {
		return payment.Config{}, fmt.Errorf("payment-watch-interval: %s is below 10ms", p.WatchInterval)
	}
	if pc.Solana.Merchant != "" {
		if _, err := solana.New(pc.Solana, rpc.New(pc.Solana.RPCURL)); err != nil {
			return payment.Config{}, optionNamed(err)
		}
	}
	if pc.Tron.Merchant != "" {
		if _, err := tron.SettingsFrom(pc); err != nil {
			return payment.Config{}, optionNamed(err)
		}
	}
	return pc, nil
}

// paymentWatcher builds the watcher of the configured chains; nil when no
// chain has a merchant.
func (s *Service) paymentWatcher(st *store.Store, reg prometheus.Registerer) (*PaymentWatcher, error) {
	pc, err := s.cfg.PaymentSettings()
	if err != nil {
		return nil, err
	}
	var vs []payment.Verifier
	if pc.Solana.Merchant != "" {
		v, err := solana.New(pc.Solana, rpc.New(pc.Solana.RPCURL))
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	if pc.Tron.Merchant != "" {
		ts, err := tron.SettingsFrom(pc)
		if err != nil {
			return nil, err
		}
		v, err := tron.NewPaymentVerifier(ts)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, nil
	}
	interval := s.cfg.Payment.WatchInterval
	if interval == 0 {
		interval = DefaultPaymentWatchInterval
	}
	return NewPaymentWatcher(PaymentWatcherConfig{Store: st, Verifiers: vs, Interval: interval, Logger: s.log, Registerer: reg})
}

// openPaymentWatcher starts the watcher when a chain is configured.
func (s *Service) openPaymentWatcher(ctx context.Context, st *store.Store, reg prometheus.Registerer) error {
	w, err := s.paymentWatcher(st, reg)
	if err != nil || w == nil {
		return err
	}
	if err := w.Open(ctx); err != nil {
		return err
	}
	s.payWatch = w
	return nil
}

// optionFields maps billing/payment's field names in its errors to the
// options that set them.
var optionFields = strings.NewReplacer(
	"payment.solana.rpc_url", "solana-rpc-url",
	"payment.solana.merchant", "solana-merchant",
	"payment.solana.usdc_mint", "solana-usdc-mint",
	"payment.tron.api_url", "tron-api-url",
	"payment.tron.merchant", "tron-merchant",
	"payment.tron.usdt_contract", "tron-usdt-contract",
	"tron.url", "tron-api-url",
	"tron.merchant", "tron-merchant",
	"tron.usdt_contract", "tron-usdt-contract",
	"tron.network", "payment-network",
	"payment.network", "payment-network",
	"payment.quote_expiry", "payment-quote-expiry",
	"payment.monitor_window", "payment-monitor-window",
	"payment.prices", "payment-prices",
	"payment.price_url", "payment-price-url",
)

// optionNamed rewrites a billing/payment configuration error to name the
// option (the cause is kept for errors.Is).
func optionNamed(err error) error {
	return renamed{err}
}

type renamed struct{ err error }

func (r renamed) Error() string { return optionFields.Replace(r.err.Error()) }
func (r renamed) Unwrap() error { return r.err }

// apiPayments builds what the payment endpoints need; nil when no chain
// has a merchant (they then answer 503).
func (s *Service) apiPayments(httpAdv string) (*api.Payments, error) {
	pc, err := s.cfg.PaymentSettings()
	if err != nil {
		return nil, err
	}
	if pc.Solana.Merchant == "" && pc.Tron.Merchant == "" {
		return nil, nil
	}
	domain := s.cfg.Payment.SignInDomain
	if domain == "" {
		domain = httpAdv
	}
	ids := map[signin.Chain]string{signin.Solana: string(pc.Network), signin.Tron: string(pc.Network)}
	p, err := api.NewPayments(pc, signin.Config{Domain: domain, Statement: "Connect this wallet to your Aerolith billing account.", ChainIDs: ids})
	if err != nil {
		return nil, fmt.Errorf("wallet-signin-domain: %w", err)
	}
	return p, nil
}
