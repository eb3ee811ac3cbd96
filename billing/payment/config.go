package payment

import (
	"fmt"
	"net/url"
	"time"
)

// Defaults for Config.
const (
	DefaultQuoteExpiry   = 15 * time.Minute
	DefaultMonitorWindow = 24 * time.Hour
)

// Mainnet token addresses (others are configurable).
const (
	MainnetUSDCMint     = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
	DevnetUSDCMint      = "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU"
	MainnetUSDTContract = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
)

// Public RPC endpoints per network.
var (
	solanaRPC = map[Network]string{
		Mainnet: "https://api.mainnet-beta.solana.com",
		Devnet:  "https://api.devnet.solana.com",
		Testnet: "https://api.testnet.solana.com",
	}
	tronAPI = map[Network]string{
		Mainnet: "https://api.trongrid.io",
		Testnet: "https://nile.trongrid.io",
	}
)

// Config configures crypto payments. The zero value of a chain's section
// (no merchant address) leaves that chain off.
type Config struct {
	Network Network      `json:"network" yaml:"network"`
	Solana  SolanaConfig `json:"solana" yaml:"solana"`
	Tron    TronConfig   `json:"tron" yaml:"tron"`
	// QuoteExpiry is how long an intent's rate holds (default 15 min).
	QuoteExpiry time.Duration `json:"quote_expiry" yaml:"quote_expiry"`
	// MonitorWindow is how long after expiry a late payment is still
	// honoured at the quoted rate (default 24 h).
	MonitorWindow time.Duration `json:"monitor_window" yaml:"monitor_window"`
	// Prices are configured USD prices per whole SOL and TRX ("150.25");
	// PriceURL, when set, is asked instead (see EndpointPrices).
	Prices   map[string]string `json:"prices" yaml:"prices"`
	PriceURL string            `json:"price_url" yaml:"price_url"`
}

// SolanaConfig is the Solana section of Config.
type SolanaConfig struct {
	RPCURL string `json:"rpc_url" yaml:"rpc_url"`
	// Merchant is the wallet receiving SOL; USDC goes to its associated
	// token account for USDCMint.
	Merchant string `json:"merchant" yaml:"merchant"`
	USDCMint string `json:"usdc_mint" yaml:"usdc_mint"`
	// Finality required before a payment counts: "finalized" (only value
	// accepted; kept explicit so configuration says what it gets).
	Finality Finality `json:"finality" yaml:"finality"`
	// Label and Message are shown by the payer's wallet (Solana Pay).
	Label   string `json:"label" yaml:"label"`
	Message string `json:"message" yaml:"message"`
}

// TronConfig is the Tron section of Config.
type TronConfig struct {
	APIURL string `json:"api_url" yaml:"api_url"`
	APIKey string `json:"api_key" yaml:"api_key"`
	// Merchant is the base58check address receiving TRX and USDT.
	Merchant     string `json:"merchant" yaml:"merchant"`
	USDTContract string `json:"usdt_contract" yaml:"usdt_contract"`
	// Finality required: "finalized" (solidified).
	Finality Finality `json:"finality" yaml:"finality"`
}

// DefaultConfig is the configuration for a network with its public
// endpoints and token addresses; merchants are left to fill in.
func DefaultConfig(n Network) Config {
	c := Config{Network: n, QuoteExpiry: DefaultQuoteExpiry, MonitorWindow: DefaultMonitorWindow}
	c.applyDefaults()
	return c
}

// applyDefaults fills what is empty from the network's defaults.
func (c *Config) applyDefaults() {
	if c.Network == "" {
		c.Network = Mainnet
	}
	if c.QuoteExpiry == 0 {
		c.QuoteExpiry = DefaultQuoteExpiry
	}
	if c.MonitorWindow == 0 {
		c.MonitorWindow = DefaultMonitorWindow
	}
	if c.Solana.RPCURL == "" {
		c.Solana.RPCURL = solanaRPC[c.Network]
	}
	if c.Solana.USDCMint == "" {
		switch c.Network {
		case Mainnet:
			c.Solana.USDCMint = MainnetUSDCMint
		case Devnet:
			c.Solana.USDCMint = DevnetUSDCMint
		}
	}
	if c.Solana.Finality == "" {
		c.Solana.Finality = Finalized
	}
	if c.Tron.APIURL == "" {
		c.Tron.APIURL = tronAPI[c.Network]
	}
	if c.Tron.USDTContract == "" && c.Network == Mainnet {
		c.Tron.USDTContract = MainnetUSDTContract
	}
	if c.Tron.Finality == "" {
		c.Tron.Finality = Finalized
	}
}

// Normalize fills defaults and validates, naming the first bad field.
// Address syntax is checked by the chain packages, which know it.
func (c *Config) Normalize() error {
	if c.Network != "" {
		n, err := ParseNetwork(string(c.Network))
		if err != nil {
			return fmt.Errorf("payment.network: %w", err)
		}
		c.Network = n
	}
	c.applyDefaults()
	switch {
	case c.QuoteExpiry < time.Minute:
		return fmt.Errorf("payment.quote_expiry: %s is shorter than a minute", c.QuoteExpiry)
	case c.MonitorWindow < 0:
		return fmt.Errorf("payment.monitor_window: %s is negative", c.MonitorWindow)
	case c.Solana.Finality != Finalized:
		return fmt.Errorf("payment.solana.finality: %q; only finalized payments count", c.Solana.Finality)
	case c.Tron.Finality != Finalized:
		return fmt.Errorf("payment.tron.finality: %q; only finalized (solidified) payments count", c.Tron.Finality)
	}
	for name, u := range map[string]string{"solana.rpc_url": c.Solana.RPCURL, "tron.api_url": c.Tron.APIURL, "price_url": c.PriceURL} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("payment.%s: %q is not an http(s) URL", name, u)
		}
	}
	if c.Solana.Merchant != "" && c.Solana.RPCURL == "" {
		return fmt.Errorf("payment.solana.rpc_url: required for network %s", c.Network)
	}
	if c.Tron.Merchant != "" && c.Tron.APIURL == "" {
		return fmt.Errorf("payment.tron.api_url: required for network %s", c.Network)
	}
	if c.Tron.Merchant != "" && c.Tron.USDTContract == "" {
		return fmt.Errorf("payment.tron.usdt_contract: required on %s (no default outside mainnet)", c.Network)
	}
	if c.Solana.Merchant != "" && c.Solana.USDCMint == "" {
		return fmt.Errorf("payment.solana.usdc_mint: required on %s (no default)", c.Network)
	}
	if _, err := NewFixedPrices(c.Prices); err != nil {
		return fmt.Errorf("payment.%w", err)
	}
	return nil
}

// PriceSource builds the configured price source: the endpoint when
// PriceURL is set, else the configured prices.
func (c Config) PriceSource() (PriceSource, error) {
	if c.PriceURL != "" {
		return EndpointPrices{URL: c.PriceURL}, nil
	}
	return NewFixedPrices(c.Prices)
}
