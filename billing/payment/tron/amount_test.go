package tron

import (
	"errors"
	"math/big"
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in   string
		dec  int
		want string // base units; "" = error
	}{
		{"12", 6, "12000000"},
		{"12.5", 6, "12500000"},
		{"0.000001", 6, "1"},
		{"0", 6, "0"},
		{"007.10", 2, "710"},
		{"1", 0, "1"},
		{"0.0000001", 6, ""},
		{"1.", 6, ""},
		{".5", 6, ""},
		{"-1", 6, ""},
		{"+1", 6, ""},
		{"1e6", 6, ""},
		{"1,5", 6, ""},
		{" 1", 6, ""},
		{"1.2.3", 6, ""},
		{strings.Repeat("9", 80), 6, ""},
		{"1", -1, ""},
	}
	for _, tt := range tests {
		got, err := ParseAmount(tt.in, tt.dec)
		if tt.want == "" {
			if !errors.Is(err, ErrBadAmount) {
				t.Errorf("ParseAmount(%q, %d) = %v, %v; want ErrBadAmount", tt.in, tt.dec, got, err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseAmount(%q, %d) = %v, %v; want %s", tt.in, tt.dec, got, err, tt.want)
		}
	}
}

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		v    int64
		dec  int
		want string
	}{
		{12_500_000, 6, "12.5"}, {1, 6, "0.000001"}, {0, 6, "0"}, {12_000_000, 6, "12"}, {-1_500_000, 6, "-1.5"}, {42, 0, "42"},
	}
	for _, tt := range tests {
		if got := FormatAmount(big.NewInt(tt.v), tt.dec); got != tt.want {
			t.Errorf("FormatAmount(%d, %d) = %s, want %s", tt.v, tt.dec, got, tt.want)
		}
	}
}

func TestParseUint256(t *testing.T) {
	max := maxUint256.String()
	over := new(big.Int).Add(maxUint256, big.NewInt(1)).String()
	for _, tt := range []struct {
		in string
		ok bool
	}{{"0", true}, {"1000000", true}, {max, true}, {over, false}, {"", false}, {"-1", false}, {"0x10", false}, {"1.0", false}} {
		_, err := ParseUint256(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseUint256(%q) = %v, want ok %v", tt.in, err, tt.ok)
		}
	}
}

func TestUniqueAmount(t *testing.T) {
	base := big.NewInt(10_000_000)
	taken := map[string]bool{"10000001": true, "10000002": true}
	got, err := UniqueAmount(base, func(a *big.Int) bool { return taken[a.String()] })
	if err != nil || got.String() != "10000003" {
		t.Fatalf("UniqueAmount = %v, %v; want 10000003", got, err)
	}
	if _, err := UniqueAmount(base, func(*big.Int) bool { return true }); !errors.Is(err, ErrNoUniqueAmount) {
		t.Fatalf("UniqueAmount with all taken = %v, want ErrNoUniqueAmount", err)
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"12", "12.5", "0.000001", "1.", ".5", "-1", "1e6", "99999999999999999999.999999"} {
		f.Add(s, 6)
	}
	f.Add("42", 0)
	f.Fuzz(func(t *testing.T, s string, dec int) {
		v, err := ParseAmount(s, dec)
		if err != nil {
			if !errors.Is(err, ErrBadAmount) {
				t.Fatalf("ParseAmount(%q, %d) error %v is not ErrBadAmount", s, dec, err)
			}
			return
		}
		if v.Sign() < 0 {
			t.Fatalf("ParseAmount(%q, %d) = %s < 0", s, dec, v)
		}
		back, err := ParseAmount(FormatAmount(v, dec), dec)
		if err != nil || back.Cmp(v) != 0 {
			t.Fatalf("ParseAmount(FormatAmount(%s)) = %v, %v", v, back, err)
		}
		if u, err := ParseUint256(v.String()); err == nil && u.Cmp(v) != 0 {
			t.Fatalf("ParseUint256(%s) = %s", v, u)
		}
	})
}
