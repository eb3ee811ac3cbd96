package rating

import (
	"errors"
	"fmt"
	"math/big"
)

// ErrOverflow is matched (errors.Is) when an amount or total does not fit
// in an int64 number of cents. Arithmetic never wraps.
var ErrOverflow = errors.New("amount out of range")

// ErrInvalid is matched (errors.Is) when Rate, Prorate or Cost is given
// invalid input: an invalid tier or price, negative usage, a bad period.
var ErrInvalid = errors.New("invalid rating input")

// Amount is an exact amount of micro-dollars: a rational number, so that a
// price of a fraction of a micro-dollar per unit (e.g. $0.25 per million
// reads is 1/4 micro-dollar per read) or a proration by the second loses
// nothing until the invoice line is rounded to cents, once (see Cents).
// The zero value is 0. Amounts are immutable and safe to share.
type Amount struct {
	r *big.Rat // nil means 0; never modified after construction
}

// Micros returns n micro-dollars.
func Micros(n int64) Amount { return Amount{r: new(big.Rat).SetInt64(n)} }

func amountOf(r *big.Rat) Amount { return Amount{r: r} }

func (a Amount) rat() *big.Rat {
	if a.r == nil {
		return new(big.Rat)
	}
	return a.r
}

// Rat returns the amount in micro-dollars as a new big.Rat.
func (a Amount) Rat() *big.Rat { return new(big.Rat).Set(a.rat()) }

// Add returns a + b.
func (a Amount) Add(b Amount) Amount { return amountOf(new(big.Rat).Add(a.rat(), b.rat())) }

// Neg returns -a.
func (a Amount) Neg() Amount { return amountOf(new(big.Rat).Neg(a.rat())) }

// Sign returns -1, 0 or +1.
func (a Amount) Sign() int { return a.rat().Sign() }

// Cmp compares a and b like big.Rat.Cmp.
func (a Amount) Cmp(b Amount) int { return a.rat().Cmp(b.rat()) }

// String returns the exact amount in micro-dollars: an integer ("1500000")
// or a reduced fraction ("1/4").
func (a Amount) String() string { return a.rat().RatString() }

// MarshalText implements encoding.TextMarshaler with String's format.
func (a Amount) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses an integer or fraction of micro-dollars.
func (a *Amount) UnmarshalText(b []byte) error {
	r, ok := new(big.Rat).SetString(string(b))
	if !ok {
		return fmt.Errorf("%w: amount %q is not an integer or fraction of micro-dollars", ErrInvalid, b)
	}
	*a = amountOf(r)
	return nil
}

const microsPerCent = 10_000

// Cents rounds the amount to whole cents, the one rounding an invoice line
// undergoes: half away from zero, i.e. for amounts >= 0 round half up
// (4999.99… micro-dollars → 0 cents, exactly 5000 → 1 cent), and a credit is
// rounded like its positive counterpart, negated (-5000 micro-dollars → -1
// cent). Equivalent for an integer amount m >= 0 to (m + 5000) / 10000.
// A result outside int64 is an ErrOverflow.
func (a Amount) Cents() (int64, error) {
	r := a.rat()
	n := new(big.Int).Abs(r.Num())
	d := new(big.Int).Mul(r.Denom(), big.NewInt(microsPerCent))
	// floor(n/d + 1/2) = floor((2n + d) / 2d)
	n.Lsh(n, 1).Add(n, d)
	d.Lsh(d, 1)
	c := n.Quo(n, d)
	if r.Sign() < 0 {
		c.Neg(c)
	}
	if !c.IsInt64() {
		return 0, fmt.Errorf("%w: %s micro-dollars is beyond int64 cents", ErrOverflow, a)
	}
	return c.Int64(), nil
}

// RoundCents rounds an integer number of micro-dollars to cents by the same
// rule as Amount.Cents (half away from zero). It cannot overflow.
func RoundCents(micros int64) int64 {
	q, r := micros/microsPerCent, micros%microsPerCent
	switch {
	case r >= microsPerCent/2:
		q++
	case r <= -microsPerCent/2:
		q--
	}
	return q
}
