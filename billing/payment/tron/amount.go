package tron

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// ErrBadAmount is wrapped by every amount parsing error.
var ErrBadAmount = errors.New("invalid amount")

// Token is what a payment is made in: native TRX (Contract zero) or a
// TRC-20 token. Amounts are integers of base units (sun for TRX).
type Token struct {
	Symbol   string
	Contract Address
	Decimals int
}

// MainnetUSDT is Tether's TRC-20 contract on mainnet.
var MainnetUSDT = MustAddress("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")

// TRX is native TRX: 6 decimals, amounts in sun.
func TRX() Token { return Token{Symbol: "TRX", Decimals: 6} }

// USDT is USDT-TRC20 at contract (MainnetUSDT on mainnet): 6 decimals.
func USDT(contract Address) Token { return Token{Symbol: "USDT", Contract: contract, Decimals: 6} }

// Native reports native TRX.
func (t Token) Native() bool { return t.Contract.IsZero() }

// String names the token and, for TRC-20, its contract.
func (t Token) String() string {
	if t.Native() {
		return t.Symbol
	}
	return t.Symbol + "-TRC20(" + t.Contract.String() + ")"
}

// maxDigits bounds the decimal strings parsed (a uint256 has 78 digits).
const maxDigits = 78

// ParseAmount reads a non-negative decimal amount ("12", "12.5",
// "0.000001") into base units of a token with decimals places. No floats:
// a fraction with more places than decimals is an error, not rounded.
func ParseAmount(s string, decimals int) (*big.Int, error) {
	if decimals < 0 || decimals > 36 {
		return nil, fmt.Errorf("%w: %d decimals", ErrBadAmount, decimals)
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") {
		return nil, fmt.Errorf("%w: %q: want digits[.digits]", ErrBadAmount, clip(s))
	}
	if len(frac) > decimals {
		return nil, fmt.Errorf("%w: %q has more than %d decimal places", ErrBadAmount, clip(s), decimals)
	}
	if len(whole)+decimals > maxDigits {
		return nil, fmt.Errorf("%w: %q is too large", ErrBadAmount, clip(s))
	}
	digits := whole + frac + strings.Repeat("0", decimals-len(frac))
	if !allDigits(digits) {
		return nil, fmt.Errorf("%w: %q: want digits[.digits]", ErrBadAmount, clip(s))
	}
	v, _ := new(big.Int).SetString(digits, 10)
	return v, nil
}

// FormatAmount writes base units as a decimal with decimals places,
// trailing zeros of the fraction dropped ("1.5", "0.000001", "12").
func FormatAmount(v *big.Int, decimals int) string {
	neg := v.Sign() < 0
	s := new(big.Int).Abs(v).String()
	if decimals > 0 {
		if len(s) <= decimals {
			s = strings.Repeat("0", decimals-len(s)+1) + s
		}
		whole, frac := s[:len(s)-decimals], strings.TrimRight(s[len(s)-decimals:], "0")
		s = whole
		if frac != "" {
			s += "." + frac
		}
	}
	if neg {
		s = "-" + s
	}
	return s
}

// ParseUint256 reads a base-10 unsigned integer of at most 256 bits, as
// TronGrid renders TRC-20 values.
func ParseUint256(s string) (*big.Int, error) {
	if s == "" || len(s) > maxDigits || !allDigits(s) {
		return nil, fmt.Errorf("%w: %q is not a base-10 uint256", ErrBadAmount, clip(s))
	}
	v, _ := new(big.Int).SetString(s, 10)
	if v.Cmp(maxUint256) > 0 {
		return nil, fmt.Errorf("%w: %q exceeds uint256", ErrBadAmount, clip(s))
	}
	return v, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
