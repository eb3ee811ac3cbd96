package tron

import (
	"fmt"
	"time"
)

// Network names a Tron network.
type Network string

// The networks TronGrid serves.
const (
	Mainnet Network = "mainnet"
	Shasta  Network = "shasta"
	Nile    Network = "nile"
)

// DefaultURL is TronGrid's endpoint for the network ("" when unknown).
func (n Network) DefaultURL() string {
	switch n {
	case Mainnet:
		return "https://api.trongrid.io"
	case Shasta:
		return "https://api.shasta.trongrid.io"
	case Nile:
		return "https://nile.trongrid.io"
	}
	return ""
}

// Config is the Tron side of the payment configuration.
type Config struct {
	// Network is mainnet (default), shasta or nile.
	Network Network `yaml:"network"`
	// URL overrides the network's TronGrid endpoint (a node of one's own,
	// or the fake in tests).
	URL string `yaml:"url"`
	// APIKey is TronGrid's TRON-PRO-API-KEY (mainnet needs one beyond a
	// few requests per second).
	APIKey string `yaml:"api_key"`
	// Merchant is the address (T…) every intent pays.
	Merchant string `yaml:"merchant"`
	// USDTContract is the USDT-TRC20 contract; mainnet's
	// (TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t) by default there, required on
	// the test networks (their USDT deployments are not Tether's).
	USDTContract string `yaml:"usdt_contract"`
	// Timeout bounds each request to the node (default 15s).
	Timeout time.Duration `yaml:"timeout"`
}

// Settings is a validated Config.
type Settings struct {
	Network  Network
	Client   ClientConfig
	Merchant Address
	USDT     Token
	TRX      Token
}

// Validate checks c and fills in the defaults; errors name the field and
// what would fix it.
func (c Config) Validate() (Settings, error) {
	var s Settings
	s.Network = c.Network
	if s.Network == "" {
		s.Network = Mainnet
	}
	if s.Network.DefaultURL() == "" {
		return s, fmt.Errorf("tron.network %q: want mainnet, shasta or nile", c.Network)
	}
	url := c.URL
	if url == "" {
		url = s.Network.DefaultURL()
	}
	s.Client = ClientConfig{URL: url, APIKey: c.APIKey, Timeout: c.Timeout}
	if _, err := NewClient(s.Client); err != nil {
		return s, fmt.Errorf("tron.url: %w", err)
	}
	if c.Merchant == "" {
		return s, fmt.Errorf("tron.merchant: required (the T… address payments go to)")
	}
	m, err := ParseAddress(c.Merchant)
	if err != nil {
		return s, fmt.Errorf("tron.merchant: %w", err)
	}
	s.Merchant = m
	usdt := c.USDTContract
	if usdt == "" {
		if s.Network != Mainnet {
			return s, fmt.Errorf("tron.usdt_contract: required on %s (the network's USDT-TRC20 contract)", s.Network)
		}
		usdt = MainnetUSDT.String()
	}
	contract, err := ParseAddress(usdt)
	if err != nil {
		return s, fmt.Errorf("tron.usdt_contract: %w", err)
	}
	if contract == m {
		return s, fmt.Errorf("tron.merchant: is the USDT contract; want the merchant's own account")
	}
	// Against TronGrid's mainnet only Tether's contract is USDT; a node of
	// one's own (or the fake) may name another, as tests do.
	if s.Network == Mainnet && c.URL == "" && contract != MainnetUSDT {
		return s, fmt.Errorf("tron.usdt_contract: %s is not Tether's mainnet contract %s", contract, MainnetUSDT)
	}
	s.USDT, s.TRX = USDT(contract), TRX()
	return s, nil
}
