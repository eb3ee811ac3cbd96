package payment

import (
	"errors"
	"math"
	"strconv"
	"testing"
)

func TestParseUnits(t *testing.T) {
	tests := []struct {
		in       string
		decimals uint8
		want     uint64
		err      bool
	}{
		{"1", 9, 1_000_000_000, false},
		{"1.5", 9, 1_500_000_000, false},
		{"0.000000001", 9, 1, false},
		{"0.0000000001", 9, 0, true},
		{"0.0000000010", 9, 1, false},
		{"12.34", 6, 12_340_000, false},
		{"0", 6, 0, false},
		{"0.0", 6, 0, false},
		{"18446744073709.551615", 6, math.MaxUint64, false},
		{"18446744073709.551616", 6, 0, true},
		{"", 6, 0, true},
		{".5", 6, 0, true},
		{"5.", 6, 0, true},
		{"-1", 6, 0, true},
		{"+1", 6, 0, true},
		{"1e3", 6, 0, true},
		{"01", 6, 0, true},
		{"1.2.3", 6, 0, true},
		{" 1", 6, 0, true},
		{"1,5", 6, 0, true},
	}
	for _, tc := range tests {
		got, err := ParseUnits(tc.in, tc.decimals)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseUnits(%q, %d) = %d, %v; want %d, err %v", tc.in, tc.decimals, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrAmount) {
			t.Errorf("ParseUnits(%q) error %v does not wrap ErrAmount", tc.in, err)
		}
	}
}

func TestFormatUnits(t *testing.T) {
	tests := []struct {
		v        uint64
		decimals uint8
		want     string
	}{
		{1_000_000_000, 9, "1"},
		{1_500_000_000, 9, "1.5"},
		{1, 9, "0.000000001"},
		{0, 6, "0"},
		{12_340_000, 6, "12.34"},
		{7, 0, "7"},
	}
	for _, tc := range tests {
		if got := FormatUnits(tc.v, tc.decimals); got != tc.want {
			t.Errorf("FormatUnits(%d, %d) = %q, want %q", tc.v, tc.decimals, got, tc.want)
		}
	}
}

func FuzzParseUnits(f *testing.F) {
	for _, s := range []string{"1", "1.5", "0.000000001", "18446744073709.551615", "", ".", "1e9", "00.1", "1.0000000000000"} {
		f.Add(s, uint8(9))
		f.Add(s, uint8(6))
	}
	f.Fuzz(func(t *testing.T, s string, decimals uint8) {
		decimals %= 20
		v, err := ParseUnits(s, decimals)
		if err != nil {
			if !errors.Is(err, ErrAmount) {
				t.Fatalf("ParseUnits(%q) error %v does not wrap ErrAmount", s, err)
			}
			return
		}
		// Round trip: formatting and parsing again gives the same value.
		back, err := ParseUnits(FormatUnits(v, decimals), decimals)
		if err != nil || back != v {
			t.Fatalf("round trip of %q: %d → %q → %d, %v", s, v, FormatUnits(v, decimals), back, err)
		}
	})
}

func TestRateConversion(t *testing.T) {
	sol, err := ParseUSDRate(SOL, "150.25")
	if err != nil {
		t.Fatal(err)
	}
	// $10.00 at $150.25/SOL = 0.066555740... SOL, rounded up in lamports.
	got, err := sol.UnitsFor(1000)
	if err != nil || got != 66_555_741 {
		t.Fatalf("UnitsFor(1000) = %d, %v; want 66555741", got, err)
	}
	if c, _ := sol.CentsFor(got); c != 1000 {
		t.Fatalf("CentsFor(%d) = %d, want 1000", got, c)
	}
	if c, _ := sol.CentsFor(got - 1); c != 999 {
		t.Fatalf("CentsFor(%d) = %d, want 999", got-1, c)
	}
	usdc := ParRate(USDC)
	if u, _ := usdc.UnitsFor(1234); u != 12_340_000 {
		t.Fatalf("USDC UnitsFor(1234) = %d", u)
	}
	trx, err := ParseUSDRate(TRX, "0.2471")
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := trx.UnitsFor(100); u != 4_046_945 { // 1/0.2471 = 4.0469445568... TRX, rounded up
		t.Fatalf("TRX UnitsFor(100) = %d", u)
	}
	if _, err := (Rate{Units: math.MaxUint64, Cents: 1}).UnitsFor(math.MaxUint64); !errors.Is(err, ErrOverflow) {
		t.Fatalf("overflow: %v", err)
	}
	if _, err := (Rate{}).UnitsFor(1); err == nil {
		t.Fatal("zero rate accepted")
	}
	for _, bad := range []string{"0", "-1", "abc", "1e2"} {
		if _, err := ParseUSDRate(SOL, bad); err == nil {
			t.Errorf("ParseUSDRate(%q) accepted", bad)
		}
	}
}

// Every amount of cents converts to units that are worth at least the
// cents, and one unit less is worth less.
func TestRateRoundTrip(t *testing.T) {
	for _, price := range []string{"150.25", "0.2471", "1", "98765.4321", "0.0001"} {
		r, err := ParseUSDRate(SOL, price)
		if err != nil {
			t.Fatal(err)
		}
		for _, cents := range []uint64{1, 99, 1000, 123456789} {
			u, err := r.UnitsFor(cents)
			if err != nil {
				t.Fatalf("%s: UnitsFor(%d): %v", price, cents, err)
			}
			if c, _ := r.CentsFor(u); c < cents {
				t.Errorf("%s: %d units for %d cents are worth %d", price, u, cents, c)
			}
			if c, _ := r.CentsFor(u - 1); u > 0 && c >= cents {
				t.Errorf("%s: %d units (one less than quoted) are worth %d, not less than %d", price, u-1, c, cents)
			}
		}
	}
}

func TestParsePrices(t *testing.T) {
	p, err := ParsePrices([]byte(`{"SOL":"150.25","trx":0.2471,"BTC":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ParseUSDRate(TRX, "0.2471")
	if p[TRX] != want {
		t.Fatalf("TRX rate %v, want %v", p[TRX], want)
	}
	for _, bad := range []string{`[]`, `{"SOL":true}`, `{"SOL":"-1"}`, `{"SOL":1e3}`, `nope`} {
		if _, err := ParsePrices([]byte(bad)); err == nil {
			t.Errorf("ParsePrices(%s) accepted", bad)
		}
	}
}

func FuzzParsePrices(f *testing.F) {
	f.Add([]byte(`{"SOL":"150.25","TRX":0.2471}`))
	f.Add([]byte(`{"SOL":1e400}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePrices(b)
		if err != nil {
			return
		}
		for tok, r := range p {
			if !r.Valid() {
				t.Fatalf("%s: invalid rate %v accepted", tok, r)
			}
		}
	})
}

func TestIntentID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewIntentID()
		if err := CheckIntentID(id); err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "pi_", "pi_short", "xx_" + NewIntentID()[3:], NewIntentID() + "a", "pi_" + strconv.Itoa(123)} {
		if CheckIntentID(bad) == nil {
			t.Errorf("CheckIntentID(%q) accepted", bad)
		}
	}
}
