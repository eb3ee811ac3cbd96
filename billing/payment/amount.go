package payment

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// ErrAmount is the cause of every amount parsing error.
var ErrAmount = errors.New("invalid amount")

// maxAmountLen bounds a decimal amount string: uint64 has 20 digits, plus a
// point and up to 255 decimals of zeros would still be absurd.
const maxAmountLen = 64

// ParseUnits converts a decimal string of whole token units ("1.5",
// "0.000001", "12") to the token's smallest unit with decimals places,
// exactly: no float is involved, and a value with more significant decimals
// than the token has, a sign, an exponent, or a value beyond uint64 is an
// error wrapping ErrAmount. Trailing zeros past the token's precision are
// accepted ("1.50000000000" for 6 decimals).
func ParseUnits(s string, decimals uint8) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: empty", ErrAmount)
	}
	if len(s) > maxAmountLen {
		return 0, fmt.Errorf("%w: %d characters, at most %d", ErrAmount, len(s), maxAmountLen)
	}
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || (dot && frac == "") {
		return 0, fmt.Errorf("%w: %q is not a decimal number like 1.25", ErrAmount, s)
	}
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, fmt.Errorf("%w: %q is not a decimal number like 1.25", ErrAmount, s)
			}
		}
	}
	if len(whole) > 1 && whole[0] == '0' {
		return 0, fmt.Errorf("%w: %q has a leading zero", ErrAmount, s)
	}
	trimmed := strings.TrimRight(frac, "0")
	if len(trimmed) > int(decimals) {
		return 0, fmt.Errorf("%w: %q has more than %d decimal places", ErrAmount, s, decimals)
	}
	digits := whole + trimmed + strings.Repeat("0", int(decimals)-len(trimmed))
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is too large", ErrAmount, s)
	}
	return v, nil
}

// FormatUnits writes an amount in the smallest unit as a decimal string of
// whole units with no trailing zeros ("1.5", "0.000001", "12"), the inverse
// of ParseUnits.
func FormatUnits(v uint64, decimals uint8) string {
	s := strconv.FormatUint(v, 10)
	if decimals == 0 {
		return s
	}
	d := int(decimals)
	if len(s) <= d {
		s = strings.Repeat("0", d-len(s)+1) + s
	}
	whole, frac := s[:len(s)-d], strings.TrimRight(s[len(s)-d:], "0")
	if frac == "" {
		return whole
	}
	return whole + "." + frac
}

// Rate is a quoted exchange rate as an integer ratio: Units of a token's
// smallest unit are worth Cents US cents. SOL at $150.25 is
// {Units: 1_000_000_000, Cents: 15025}; USDC at par is
// {Units: 1_000_000, Cents: 100}.
type Rate struct {
	Units uint64 `json:"units"`
	Cents uint64 `json:"cents"`
}

// Valid reports whether both sides are positive.
func (r Rate) Valid() bool { return r.Units > 0 && r.Cents > 0 }

// String writes the ratio, e.g. "1000000000 units = 15025 cents".
func (r Rate) String() string { return fmt.Sprintf("%d units = %d cents", r.Units, r.Cents) }

// ParRate is a stablecoin's rate: one whole token is one dollar.
func ParRate(t Token) Rate { return Rate{Units: pow10(t.Decimals()), Cents: 100} }

// ParseUSDRate reads a USD price per whole token as a decimal string
// ("150.25", "0.2471") exactly into a Rate for the token. Prices are
// accepted to 1e-9 of a cent.
func ParseUSDRate(t Token, usd string) (Rate, error) {
	// A price in nano-cents keeps sub-cent prices (TRX) exact.
	const scale = 11 // 2 for cents + 9 for nano
	n, err := ParseUnits(usd, scale)
	if err != nil {
		return Rate{}, fmt.Errorf("usd price of %s: %w", t, err)
	}
	if n == 0 {
		return Rate{}, fmt.Errorf("usd price of %s: %w: must be positive", t, ErrAmount)
	}
	// pow10(decimals) units are worth n/1e9 cents; 1e9 × 1e9 (SOL) still
	// fits in 64 bits, and reducing by the gcd keeps later products small.
	u := pow10(t.Decimals()) * 1_000_000_000
	g := gcd(u, n)
	return Rate{Units: u / g, Cents: n / g}, nil
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func pow10(d uint8) uint64 {
	v := uint64(1)
	for range d {
		v *= 10
	}
	return v
}

// ErrOverflow is returned when a conversion does not fit in 64 bits.
var ErrOverflow = errors.New("amount out of range")

// UnitsFor converts USD cents to the token's smallest unit at the rate,
// rounding up so that paying the quoted amount always covers the cents.
func (r Rate) UnitsFor(cents uint64) (uint64, error) {
	if !r.Valid() {
		return 0, fmt.Errorf("rate %s: both sides must be positive", r)
	}
	return mulDiv(cents, r.Units, r.Cents, true)
}

// CentsFor converts an amount in the token's smallest unit to USD cents at
// the rate, rounding down so that a payment is never worth more than it is.
func (r Rate) CentsFor(units uint64) (uint64, error) {
	if !r.Valid() {
		return 0, fmt.Errorf("rate %s: both sides must be positive", r)
	}
	return mulDiv(units, r.Cents, r.Units, false)
}

// mulDiv computes a*b/d in 128 bits, rounding up or down.
func mulDiv(a, b, d uint64, up bool) (uint64, error) {
	hi, lo := bits.Mul64(a, b)
	if hi >= d {
		return 0, fmt.Errorf("%w: %d × %d / %d", ErrOverflow, a, b, d)
	}
	q, rem := bits.Div64(hi, lo, d)
	if up && rem != 0 {
		if q == math.MaxUint64 {
			return 0, fmt.Errorf("%w: %d × %d / %d", ErrOverflow, a, b, d)
		}
		q++
	}
	return q, nil
}
