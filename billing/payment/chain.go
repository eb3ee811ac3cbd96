package payment

import (
	"fmt"
	"strings"
)

// Chain is a blockchain payments are accepted on.
type Chain string

// The chains accepted.
const (
	Solana Chain = "solana"
	Tron   Chain = "tron"
)

// Token is an asset a payment is made in.
type Token string

// The tokens accepted: each chain's native coin and its USD stablecoin.
const (
	SOL  Token = "SOL"
	USDC Token = "USDC"
	TRX  Token = "TRX"
	USDT Token = "USDT"
)

// Tokens lists every accepted token, in a fixed order.
var tokens = []Token{SOL, USDC, TRX, USDT}

// Tokens returns every accepted token, in a fixed order.
func Tokens() []Token { return append([]Token(nil), tokens...) }

// Chain is the chain the token is accepted on ("" for an unknown token).
func (t Token) Chain() Chain {
	switch t {
	case SOL, USDC:
		return Solana
	case TRX, USDT:
		return Tron
	}
	return ""
}

// Decimals is the number of decimal places between the token's whole unit
// and its smallest unit: 9 for SOL (lamports), 6 for TRX (sun), USDC and
// USDT.
func (t Token) Decimals() uint8 {
	if t == SOL {
		return 9
	}
	return 6
}

// Stable reports whether the token is a USD stablecoin, priced at par.
func (t Token) Stable() bool { return t == USDC || t == USDT }

// Native reports whether the token is its chain's own coin (not a token
// program or contract asset).
func (t Token) Native() bool { return t == SOL || t == TRX }

// ParseToken reads a token symbol, case-insensitively.
func ParseToken(s string) (Token, error) {
	t := Token(strings.ToUpper(strings.TrimSpace(s)))
	if t.Chain() == "" {
		return "", fmt.Errorf("token %q: want one of SOL, USDC, TRX, USDT", s)
	}
	return t, nil
}

// ParseChain reads a chain name, case-insensitively.
func ParseChain(s string) (Chain, error) {
	switch c := Chain(strings.ToLower(strings.TrimSpace(s))); c {
	case Solana, Tron:
		return c, nil
	}
	return "", fmt.Errorf("chain %q: want solana or tron", s)
}

// Network is the cluster a chain client talks to.
type Network string

// The networks. Tron's testnet is Nile or Shasta (whichever the API URL
// names); Tron has no devnet.
const (
	Mainnet Network = "mainnet"
	Devnet  Network = "devnet"
	Testnet Network = "testnet"
)

// ParseNetwork reads a network name.
func ParseNetwork(s string) (Network, error) {
	switch n := Network(strings.ToLower(strings.TrimSpace(s))); n {
	case Mainnet, Devnet, Testnet:
		return n, nil
	case "mainnet-beta":
		return Mainnet, nil
	}
	return "", fmt.Errorf("network %q: want mainnet, devnet or testnet", s)
}

// Finality is how settled a transfer is on its chain.
type Finality string

// The finality levels, weakest first. Solana's finalized and Tron's
// solidified are both Finalized: the block can no longer be rolled back.
const (
	// Pending: seen (processed, or in a block not yet voted on).
	Pending Finality = "pending"
	// Confirmed: voted on by a supermajority but not yet rooted.
	Confirmed Finality = "confirmed"
	// Finalized: rooted (Solana finalized, Tron solidified).
	Finalized Finality = "finalized"
)
