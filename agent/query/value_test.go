package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

func num(s string) json.Number { return json.Number(s) }

func mustJSON(t testing.TB, s string) any {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("decodeJSON(%q): %v", s, err)
	}
	return v
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string // JSON texts
		want int
	}{
		// numbers, whatever the spelling
		{"1", "1.0", 0},
		{"1", "1e0", 0},
		{"100", "1e2", 0},
		{"0.5", "5e-1", 0},
		{"-0", "0", 0},
		{"0.0", "-0.0e5", 0},
		{"1", "2", -1},
		{"-1", "-2", 1},
		{"-1.5", "-1.25", -1},
		{"0.1", "0.09999999999999999999", 1},
		{"9007199254740993", "9007199254740992", 1}, // beyond 2^53: floats would say equal
		{"18446744073709551617", "18446744073709551616", 1},
		{"-18446744073709551617", "-18446744073709551616", -1},
		{"123456789012345678901234567890", "1.2345678901234567890123456789e29", 0},
		{"1e400", "1e399", 1},
		{"-1e-400", "0", -1},
		{"12", "120", -1},
		{"0.012", "0.0120", 0},
		// type order: null < numbers < strings < objects < arrays < bool
		{"null", "0", -1},
		{"-1e300", `""`, -1},
		{`"zzz"`, "{}", -1},
		{`{"a":1}`, "[]", -1},
		{"[1,2]", "false", -1},
		{"false", "true", -1},
		{"true", "true", 0},
		{"null", "null", 0},
		// strings bytewise
		{`"a"`, `"b"`, -1},
		{`"a"`, `"ab"`, -1},
		{`"B"`, `"a"`, -1},
		{`"é"`, `"z"`, 1},
		// arrays element-wise, prefix first
		{"[1,2]", "[1,3]", -1},
		{"[1]", "[1,0]", -1},
		{"[]", "[null]", -1},
		{`[1,"a"]`, `[1,2]`, 1},
		// objects pair by pair in key order
		{`{"a":1,"b":2}`, `{"b":2,"a":1}`, 0},
		{`{"a":1}`, `{"a":1,"b":0}`, -1},
		{`{"a":2}`, `{"a":1,"b":0}`, 1},
		{`{"a":1}`, `{"b":0}`, -1},
		{`{"a":{"x":1}}`, `{"a":{"x":1.0}}`, 0},
	}
	for _, tt := range tests {
		a, b := mustJSON(t, tt.a), mustJSON(t, tt.b)
		if got := Compare(a, b); got != tt.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := Compare(b, a); got != -tt.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestCompareGoNumbers(t *testing.T) {
	tests := []struct {
		a, b any
		want int
	}{
		{1, num("1"), 0},
		{int64(-3), num("-3.0"), 0},
		{uint64(math.MaxUint64), num("18446744073709551615"), 0},
		{1.5, num("1.5"), 0},
		{0.1, num("0.1"), 0}, // shortest representation of the float
		{float32(2), 2, 0},
		{math.Inf(1), num("1e308"), 1},
		{math.Inf(-1), num("-1e308"), -1},
		{math.NaN(), num("-1e308"), -1},
		{math.NaN(), math.NaN(), 0},
		{num("not-a-number"), num("-1"), -1},
	}
	for _, tt := range tests {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%v, %v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in   string
		want decimal
	}{
		{"0", decimal{kind: kindZero}},
		{"-0.000", decimal{kind: kindZero}},
		{"1", decimal{kind: kindPos, exp: 1, digits: "1"}},
		{"120", decimal{kind: kindPos, exp: 3, digits: "12"}},
		{"0.0012", decimal{kind: kindPos, exp: -2, digits: "12"}},
		{"-12.50e3", decimal{kind: kindNeg, exp: 5, digits: "125"}},
		{"007", decimal{kind: kindPos, exp: 1, digits: "7"}},
		{"1e99999999999999999999", decimal{kind: kindPos, exp: maxExp, digits: "1"}},
		{"1e-99999999999999999999", decimal{kind: kindPos, exp: minExp, digits: "1"}},
		{"", decimal{kind: kindNaN}},
		{"-", decimal{kind: kindNaN}},
		{"1e", decimal{kind: kindNaN}},
		{"1x", decimal{kind: kindNaN}},
		{".", decimal{kind: kindNaN}},
	}
	for _, tt := range tests {
		if got := parseDecimal(tt.in); got != tt.want {
			t.Errorf("parseDecimal(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// randNumText returns a number in many spellings: leading zeros, points,
// exponents, long digit strings.
func randNumText(r *rand.Rand) string {
	var b strings.Builder
	if r.IntN(2) == 0 {
		b.WriteByte('-')
	}
	digits := func(n int) {
		for range n {
			b.WriteByte("0000123456789"[r.IntN(13)])
		}
	}
	digits(1 + r.IntN(25))
	if r.IntN(2) == 0 {
		b.WriteByte('.')
		digits(1 + r.IntN(25))
	}
	if r.IntN(2) == 0 {
		fmt.Fprintf(&b, "e%d", r.IntN(61)-30)
	}
	return b.String()
}

func TestCompareNumbersExactly(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 50000 {
		a, b := randNumText(r), randNumText(r)
		if r.IntN(4) == 0 {
			b = a + "0"
			if strings.ContainsAny(a, "e") || !strings.Contains(a, ".") {
				b = a
			}
		}
		ra, _ := new(big.Rat).SetString(a)
		rb, _ := new(big.Rat).SetString(b)
		want := ra.Cmp(rb)
		if got := Compare(json.Number(a), json.Number(b)); got != want {
			t.Fatalf("Compare(%s, %s) = %d, big.Rat says %d", a, b, got, want)
		}
		ka, kb := EncodeKey(json.Number(a)), EncodeKey(json.Number(b))
		if got := sign(bytes.Compare(ka, kb)); got != want {
			t.Fatalf("keys of %s and %s compare %d, big.Rat says %d", a, b, got, want)
		}
	}
}
