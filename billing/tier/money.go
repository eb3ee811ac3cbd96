package tier

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Money is an amount of US dollars in micro-dollars (1 dollar = 1,000,000).
// In text (YAML, JSON, String) it is a decimal dollar string such as "10.00"
// or "0.000014": exact, never a float.
type Money int64

// Dollars returns d whole dollars as Money. It does not check for overflow;
// use ParseMoney for untrusted input.
func Dollars(d int64) Money { return Money(d * microsPerDollar) }

const microsPerDollar = 1_000_000

// errMoneySyntax describes the accepted money syntax.
var errMoneySyntax = errors.New(`want dollars such as "10", "10.00" or "$0.25", at most 6 decimal places`)

// ParseMoney parses a decimal dollar amount into micro-dollars exactly:
// an optional '-', an optional '$', digits, and optionally '.' followed by
// one to six digits ("10", "$10", "10.00", "0.000014", "-1.50"). More than six
// decimal places, exponents, separators and out-of-range values are errors.
func ParseMoney(s string) (Money, error) {
	in := s
	neg := false
	if strings.HasPrefix(s, "-") {
		neg = true
		s = s[1:]
	}
	s = strings.TrimPrefix(s, "$")
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) || (hasPoint && (frac == "" || !allDigits(frac))) {
		return 0, fmt.Errorf("invalid amount %q (%w)", in, errMoneySyntax)
	}
	if len(frac) > 6 {
		return 0, fmt.Errorf("invalid amount %q: more than 6 decimal places (amounts are in micro-dollars)", in)
	}
	w, err := strconv.ParseUint(whole, 10, 64)
	if err != nil || w > (1<<63)/microsPerDollar {
		return 0, fmt.Errorf("invalid amount %q: out of range", in)
	}
	var f uint64
	if frac != "" {
		f, _ = strconv.ParseUint(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
	}
	mag := w*microsPerDollar + f // < 2^64: w is at most 2^63/10^6
	switch {
	case neg && mag <= 1<<63:
		return Money(-int64(mag-1) - 1), nil
	case !neg && mag <= math.MaxInt64:
		return Money(mag), nil
	}
	return 0, fmt.Errorf("invalid amount %q: out of range", in)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats m as dollars with at least two and at most six decimal
// places, without trailing zeros beyond the second: "10.00", "0.25",
// "0.000014", "-1.50".
func (m Money) String() string {
	var mag uint64
	sign := ""
	if m < 0 {
		sign = "-"
		mag = uint64(-(m + 1)) + 1
	} else {
		mag = uint64(m)
	}
	frac := fmt.Sprintf("%06d", mag%microsPerDollar)
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return fmt.Sprintf("%s%d.%s", sign, mag/microsPerDollar, frac)
}

// MarshalText implements encoding.TextMarshaler (used by YAML and JSON).
func (m Money) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseMoney.
func (m *Money) UnmarshalText(b []byte) error {
	v, err := ParseMoney(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// UnmarshalJSON accepts a JSON string ("10.00") or a JSON number (10.5); a
// number is parsed from its literal text, exactly, never through a float.
func (m *Money) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	return m.UnmarshalText([]byte(s))
}
