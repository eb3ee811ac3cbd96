package rating

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func frac(num, den int64) Amount { return amountOf(big.NewRat(num, den)) }

func TestCents(t *testing.T) {
	tests := []struct {
		name string
		in   Amount
		want int64
	}{
		{"zero value", Amount{}, 0},
		{"zero", Micros(0), 0},
		{"just under half a cent", Micros(4999), 0},
		{"half a cent rounds up", Micros(5000), 1},
		{"just over half", Micros(5001), 1},
		{"one cent", Micros(10_000), 1},
		{"1.4999 cents", Micros(14_999), 1},
		{"1.5 cents", Micros(15_000), 2},
		{"fraction under half", frac(9999, 2), 0}, // 4999.5 micros
		{"fraction over half", frac(10001, 2), 1}, // 5000.5 micros
		{"half as a fraction", frac(10000, 2), 1},
		{"a quarter micro", frac(1, 4), 0},
		{"thirds", frac(100_000_000, 3), 3333}, // 33.333... dollars
		{"negative just under half", Micros(-4999), 0},
		{"negative half away from zero", Micros(-5000), -1},
		{"negative 1.5 cents", Micros(-15_000), -2},
		{"negative fraction over half", frac(-10001, 2), -1},
		{"negative fraction under half", frac(-9999, 2), 0},
		{"max int64 micros", Micros(math.MaxInt64), 922337203685478},
		{"min int64 micros", Micros(math.MinInt64), -922337203685478},
		{"largest cents", frac(math.MaxInt64, 1).mul(10_000), math.MaxInt64},
		{"smallest cents", frac(math.MinInt64, 1).mul(10_000), math.MinInt64},
	}
	for _, tt := range tests {
		got, err := tt.in.Cents()
		if err != nil || got != tt.want {
			t.Errorf("%s: Amount(%s).Cents() = %d, %v, want %d", tt.name, tt.in, got, err, tt.want)
		}
	}
}

// mul multiplies by an integer (test helper).
func (a Amount) mul(n int64) Amount { return amountOf(new(big.Rat).Mul(a.rat(), big.NewRat(n, 1))) }

func TestCentsOverflow(t *testing.T) {
	for _, a := range []Amount{
		frac(math.MaxInt64, 1).mul(10_000).Add(Micros(5000)), // rounds up past MaxInt64
		frac(math.MinInt64, 1).mul(10_000).Add(Micros(-5000)),
		frac(math.MaxInt64, 1).mul(math.MaxInt64),
	} {
		if c, err := a.Cents(); !errors.Is(err, ErrOverflow) {
			t.Errorf("Amount(%s).Cents() = %d, %v, want ErrOverflow", a, c, err)
		}
	}
	// Just below the rounding point still fits.
	a := frac(math.MaxInt64, 1).mul(10_000).Add(Micros(4999))
	if c, err := a.Cents(); err != nil || c != math.MaxInt64 {
		t.Errorf("Amount(%s).Cents() = %d, %v, want MaxInt64", a, c, err)
	}
}

func TestRoundCentsMatchesAmount(t *testing.T) {
	vals := []int64{0, 1, 4999, 5000, 5001, 9999, 10_000, 14_999, 15_000, -1, -4999, -5000, -5001, -15_000,
		math.MaxInt64, math.MinInt64, math.MaxInt64 - 4999, math.MinInt64 + 5000}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		vals = append(vals, r.Int64()-r.Int64(), r.Int64N(100_000)-50_000)
	}
	for _, v := range vals {
		want, err := Micros(v).Cents()
		if err != nil {
			t.Fatal(err)
		}
		if got := RoundCents(v); got != want {
			t.Errorf("RoundCents(%d) = %d, want %d", v, got, want)
		}
		if v >= 0 && v <= math.MaxInt64-5000 {
			if got := (v + 5000) / 10_000; got != want {
				t.Errorf("(%d + 5000) / 10000 = %d, want %d", v, got, want)
			}
		}
	}
}

func TestAmountArithmeticAndText(t *testing.T) {
	a := frac(1, 4).Add(Micros(2))
	if a.String() != "9/4" || a.Neg().String() != "-9/4" || a.Sign() != 1 || a.Cmp(Micros(2)) != 1 {
		t.Errorf("got %s %s %d %d", a, a.Neg(), a.Sign(), a.Cmp(Micros(2)))
	}
	if (Amount{}).String() != "0" || (Amount{}).Sign() != 0 {
		t.Error("zero Amount is not 0")
	}
	// Rat returns a copy.
	r := a.Rat()
	r.SetInt64(7)
	if a.String() != "9/4" {
		t.Error("modifying Rat() changed the amount")
	}
	b, err := json.Marshal(struct{ A, B Amount }{a, Micros(-1500)})
	if err != nil || string(b) != `{"A":"9/4","B":"-1500"}` {
		t.Errorf("json.Marshal = %s, %v", b, err)
	}
	var back struct{ A, B Amount }
	if err := json.Unmarshal(b, &back); err != nil || back.A.Cmp(a) != 0 || back.B.Cmp(Micros(-1500)) != 0 {
		t.Errorf("json.Unmarshal = %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"A":"two"}`), &back); !errors.Is(err, ErrInvalid) {
		t.Errorf("json.Unmarshal(two) = %v, want ErrInvalid", err)
	}
}
