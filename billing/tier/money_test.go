package tier

import (
	"encoding/json"
	"math"
	"testing"
)

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in   string
		want Money
	}{
		{"0", 0},
		{"-0", 0},
		{"10", 10_000_000},
		{"$10", 10_000_000},
		{"10.00", 10_000_000},
		{"$10.5", 10_500_000},
		{"0.25", 250_000},
		{"0.000001", 1},
		{"0.000014", 14},
		{"-1.50", -1_500_000},
		{"-$0.000001", -1},
		{"007.10", 7_100_000},
		{"9223372036854.775807", math.MaxInt64},
		{"-9223372036854.775808", math.MinInt64},
	}
	for _, tt := range tests {
		got, err := ParseMoney(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseMoney(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseMoneyErrors(t *testing.T) {
	const syntax = ` (want dollars such as "10", "10.00" or "$0.25", at most 6 decimal places)`
	tests := []struct{ in, want string }{
		{"", `invalid amount ""` + syntax},
		{"ten", `invalid amount "ten"` + syntax},
		{"1.", `invalid amount "1."` + syntax},
		{".5", `invalid amount ".5"` + syntax},
		{"1e3", `invalid amount "1e3"` + syntax},
		{"1,000.00", `invalid amount "1,000.00"` + syntax},
		{"+1", `invalid amount "+1"` + syntax},
		{"$-1", `invalid amount "$-1"` + syntax},
		{" 1", `invalid amount " 1"` + syntax},
		{"0.0000001", `invalid amount "0.0000001": more than 6 decimal places (amounts are in micro-dollars)`},
		{"9223372036854.775808", `invalid amount "9223372036854.775808": out of range`},
		{"-9223372036854.775809", `invalid amount "-9223372036854.775809": out of range`},
		{"9223372036855", `invalid amount "9223372036855": out of range`},
		{"99999999999999999999999", `invalid amount "99999999999999999999999": out of range`},
	}
	for _, tt := range tests {
		got, err := ParseMoney(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseMoney(%q) = %d, %v, want error %q", tt.in, got, err, tt.want)
		}
	}
}

func TestMoneyString(t *testing.T) {
	tests := []struct {
		in   Money
		want string
	}{
		{0, "0.00"},
		{1, "0.000001"},
		{10, "0.00001"},
		{250_000, "0.25"},
		{10_000_000, "10.00"},
		{10_500_000, "10.50"},
		{1_234_567, "1.234567"},
		{-1_500_000, "-1.50"},
		{-1, "-0.000001"},
		{math.MaxInt64, "9223372036854.775807"},
		{math.MinInt64, "-9223372036854.775808"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Money(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		back, err := ParseMoney(tt.in.String())
		if err != nil || back != tt.in {
			t.Errorf("ParseMoney(%q) = %d, %v, want %d", tt.in.String(), back, err, tt.in)
		}
	}
}

func TestMoneyJSON(t *testing.T) {
	var v struct{ A, B, C Money }
	if err := json.Unmarshal([]byte(`{"A":"10.25","B":0.000014,"C":null}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != 10_250_000 || v.B != 14 || v.C != 0 {
		t.Errorf("unmarshal = %+v, want A=10250000 B=14 C=0", v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"A":"10.25","B":"0.000014","C":"0.00"}`; got != want {
		t.Errorf("json.Marshal = %s, want %s", got, want)
	}
	if err := json.Unmarshal([]byte(`{"A":1e3}`), &v); err == nil {
		t.Error("json.Unmarshal of 1e3 succeeded, want an error (exponents are not exact money)")
	}
}

func TestParseQuantity(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1000000", 1_000_000},
		{"1_000_000", 1_000_000},
		{"-5", -5},
		{"1k", 1000},
		{"1K", 1000},
		{"2.5k", 2500},
		{"1M", 1_000_000},
		{"1G", 1_000_000_000},
		{"3T", 3_000_000_000_000},
		{"100MB", 100_000_000},
		{"1.5GB", 1_500_000_000},
		{"0.1GB", 100_000_000},
		{"1 GB", 1_000_000_000},
		{"1KiB", 1024},
		{"100MiB", 100 << 20},
		{"2GiB", 2 << 30},
		{"1TiB", 1 << 40},
		{"512B", 512},
		{"9223372036854775807", math.MaxInt64},
	}
	for _, tt := range tests {
		got, err := ParseQuantity(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseQuantity(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseQuantityErrors(t *testing.T) {
	const want = " (want an integer such as 1000000, 1_000_000 or 1M, optionally with a suffix k, M, G, T, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"
	tests := []struct{ in, want string }{
		{"", `invalid quantity ""` + want},
		{"abc", `invalid quantity "abc"` + want},
		{"1__000", `invalid quantity "1__000"` + want},
		{"_1", `invalid quantity "_1"` + want},
		{"0x10", `invalid quantity "0x10"` + want},
		{"10x", `invalid quantity "10x": unknown suffix "x"` + want},
		{"1e3", `invalid quantity "1e3"` + want},
		{"10 parsecs", `invalid quantity "10 parsecs": unknown suffix "parsecs"` + want},
		{"1.5", `invalid quantity "1.5": not a whole number of base units`},
		{"1.0000001k", `invalid quantity "1.0000001k": not a whole number of base units`},
		{"9223372036854775808", `invalid quantity "9223372036854775808": out of range`},
		{"10000000TiB", `invalid quantity "10000000TiB": out of range`},
	}
	for _, tt := range tests {
		got, err := ParseQuantity(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseQuantity(%q) = %d, %v, want error %q", tt.in, got, err, tt.want)
		}
	}
}
