package rating

import (
	"fmt"
	"math/big"
	"time"
)

// Period is the span being rated, [Start, End), inside the billing cycle
// [CycleStart, CycleEnd) it belongs to (normally a calendar month; see
// Month). When the span is the whole cycle nothing is prorated; otherwise the
// base fee and the included allowances are prorated by the second, and the
// cycle's length defines the storage month (a byte-month is one byte held
// for CycleEnd-CycleStart).
//
// All four times are truncated to whole seconds (Unix time) before use.
type Period struct {
	Start, End           time.Time
	CycleStart, CycleEnd time.Time
}

// Month returns the whole calendar month (UTC) containing t as a Period.
func Month(t time.Time) Period {
	t = t.UTC()
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0)
	return Period{Start: start, End: end, CycleStart: start, CycleEnd: end}
}

// Seconds returns the whole seconds rated (End-Start) and in the cycle
// (CycleEnd-CycleStart), after checking CycleStart <= Start < End <=
// CycleEnd. The error matches ErrInvalid.
func (p Period) Seconds() (used, total int64, err error) {
	s, e, cs, ce := p.Start.Unix(), p.End.Unix(), p.CycleStart.Unix(), p.CycleEnd.Unix()
	switch {
	case p.Start.IsZero() || p.End.IsZero() || p.CycleStart.IsZero() || p.CycleEnd.IsZero():
		return 0, 0, fmt.Errorf("%w: period: start, end, cycle start and cycle end are all required", ErrInvalid)
	case e <= s:
		return 0, 0, fmt.Errorf("%w: period: end %s is not after start %s (by whole seconds)", ErrInvalid, stamp(e), stamp(s))
	case s < cs || e > ce:
		return 0, 0, fmt.Errorf("%w: period: %s to %s is not inside the cycle %s to %s", ErrInvalid, stamp(s), stamp(e), stamp(cs), stamp(ce))
	}
	return e - s, ce - cs, nil
}

// Whole reports whether the period is its whole cycle.
func (p Period) Whole() bool {
	return p.Start.Unix() == p.CycleStart.Unix() && p.End.Unix() == p.CycleEnd.Unix()
}

func stamp(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }

// Prorate returns amountMicros × used / total exactly, by the second: both
// durations are truncated to whole seconds first, so a tier change is
// charged for the seconds actually spent on the tier. Nothing is rounded; the
// result is rounded once, to cents, on the invoice line (Amount.Cents). For
// a credit of unused time pass a negative amount. total must be at least
// one second and 0 <= used <= total; otherwise the error matches ErrInvalid.
func Prorate(amountMicros int64, used, total time.Duration) (Amount, error) {
	u, t := int64(used/time.Second), int64(total/time.Second)
	switch {
	case t <= 0:
		return Amount{}, fmt.Errorf("%w: prorate: total %s is less than one second", ErrInvalid, total)
	case u < 0:
		return Amount{}, fmt.Errorf("%w: prorate: used %s is negative", ErrInvalid, used)
	case u > t:
		return Amount{}, fmt.Errorf("%w: prorate: used %s exceeds total %s", ErrInvalid, used, total)
	}
	return prorate(amountMicros, u, t), nil
}

// prorate returns amount × used / total for validated whole seconds.
func prorate(amountMicros, used, total int64) Amount {
	r := new(big.Rat).SetFrac(big.NewInt(used), big.NewInt(total))
	return amountOf(r.Mul(r, new(big.Rat).SetInt64(amountMicros)))
}
