package rating

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/aerolithdb/aerolith/billing/tier"
)

func upTo(v int64) *int64 { return &v }

var (
	perMillion = tier.Price{Model: tier.PerUnit, Unit: 1_000_000, UnitPrice: 250_000} // $0.25 per million
	// graduated: first 1000 units at 10 micros each, next up to 5000 at 6, then 1.
	grad = tier.Price{Model: tier.Graduated, Unit: 1, Bands: []tier.Band{
		{UpTo: upTo(1000), UnitPrice: 10},
		{UpTo: upTo(5000), UnitPrice: 6},
		{UnitPrice: 1},
	}}
	vol = tier.Price{Model: tier.Volume, Unit: 1, Bands: []tier.Band{
		{UpTo: upTo(1000), UnitPrice: 10},
		{UpTo: upTo(5000), UnitPrice: 6},
		{UnitPrice: 1},
	}}
	pkg = tier.Price{Model: tier.Package, PackageSize: 1000, PackagePrice: 1_000_000} // $1 per 1000
)

func TestCost(t *testing.T) {
	tests := []struct {
		name string
		p    tier.Price
		q    *big.Rat
		want Amount
	}{
		{"per_unit zero", perMillion, big.NewRat(0, 1), Micros(0)},
		{"per_unit one read is a quarter micro", perMillion, big.NewRat(1, 1), frac(1, 4)},
		{"per_unit one million", perMillion, big.NewRat(1_000_000, 1), Micros(250_000)},
		{"per_unit fractional quantity", perMillion, big.NewRat(1, 3), frac(1, 12)},
		{"per_unit max int64", perMillion, big.NewRat(math.MaxInt64, 1), frac(math.MaxInt64, 4)},
		{"per_unit free", tier.Price{Model: tier.PerUnit, Unit: 1}, big.NewRat(99, 1), Micros(0)},

		{"graduated zero", grad, big.NewRat(0, 1), Micros(0)},
		{"graduated inside first", grad, big.NewRat(1, 1), Micros(10)},
		{"graduated at first edge", grad, big.NewRat(1000, 1), Micros(10_000)},
		{"graduated one over first edge", grad, big.NewRat(1001, 1), Micros(10_006)},
		{"graduated at second edge", grad, big.NewRat(5000, 1), Micros(10_000 + 24_000)},
		{"graduated one over second edge", grad, big.NewRat(5001, 1), Micros(34_001)},
		{"graduated deep in last", grad, big.NewRat(1_000_000, 1), Micros(34_000 + 995_000)},
		{"graduated fractional across edge", grad, big.NewRat(2001, 2), Micros(10_003)}, // 1000.5
		{"graduated single unbounded band", tier.Price{Model: tier.Graduated, Unit: 3, Bands: []tier.Band{{UnitPrice: 1}}},
			big.NewRat(10, 1), frac(10, 3)},

		{"volume zero", vol, big.NewRat(0, 1), Micros(0)},
		{"volume inside first", vol, big.NewRat(999, 1), Micros(9990)},
		{"volume at first edge uses first band", vol, big.NewRat(1000, 1), Micros(10_000)},
		{"volume one over first edge reprices everything", vol, big.NewRat(1001, 1), Micros(6006)},
		{"volume at second edge", vol, big.NewRat(5000, 1), Micros(30_000)},
		{"volume one over second edge", vol, big.NewRat(5001, 1), Micros(5001)},
		{"volume fractional just over edge", vol, big.NewRat(2001, 2), Micros(6003)},

		{"package zero", pkg, big.NewRat(0, 1), Micros(0)},
		{"package one unit buys a package", pkg, big.NewRat(1, 1), Micros(1_000_000)},
		{"package exactly one", pkg, big.NewRat(1000, 1), Micros(1_000_000)},
		{"package one over", pkg, big.NewRat(1001, 1), Micros(2_000_000)},
		{"package fraction", pkg, big.NewRat(1, 2), Micros(1_000_000)},
		{"package exact multiple", pkg, big.NewRat(7000, 1), Micros(7_000_000)},
		{"package max int64", tier.Price{Model: tier.Package, PackageSize: 1, PackagePrice: math.MaxInt64},
			big.NewRat(math.MaxInt64, 1), frac(math.MaxInt64, 1).mul(math.MaxInt64)},
	}
	for _, tt := range tests {
		got, err := Cost(tt.p, tt.q)
		if err != nil || got.Cmp(tt.want) != 0 {
			t.Errorf("%s: Cost(q=%s) = %s, %v, want %s", tt.name, tt.q.RatString(), got, err, tt.want)
		}
	}
}

func TestCostErrors(t *testing.T) {
	tests := []struct {
		name string
		p    tier.Price
		q    *big.Rat
	}{
		{"negative quantity", perMillion, big.NewRat(-1, 1)},
		{"nil quantity", perMillion, nil},
		{"per_unit zero unit", tier.Price{Model: tier.PerUnit}, big.NewRat(1, 1)},
		{"graduated zero unit", tier.Price{Model: tier.Graduated, Bands: grad.Bands}, big.NewRat(1, 1)},
		{"no bands", tier.Price{Model: tier.Volume, Unit: 1}, big.NewRat(1, 1)},
		{"bounded last band", tier.Price{Model: tier.Graduated, Unit: 1, Bands: []tier.Band{{UpTo: upTo(5)}}}, big.NewRat(1, 1)},
		{"descending bands", tier.Price{Model: tier.Graduated, Unit: 1, Bands: []tier.Band{{UpTo: upTo(5)}, {UpTo: upTo(5)}, {}}}, big.NewRat(1, 1)},
		{"zero package", tier.Price{Model: tier.Package}, big.NewRat(1, 1)},
		{"unknown model", tier.Price{Model: "flat", Unit: 1}, big.NewRat(1, 1)},
	}
	for _, tt := range tests {
		if got, err := Cost(tt.p, tt.q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Cost = %s, %v, want ErrInvalid", tt.name, got, err)
		}
	}
}

// randomGraduated returns a valid graduated price with random bands.
func randomGraduated(r *rand.Rand) tier.Price {
	p := tier.Price{Model: tier.Graduated, Unit: 1 + r.Int64N(1000)}
	var bound int64
	for range r.IntN(5) {
		bound += 1 + r.Int64N(10_000)
		p.Bands = append(p.Bands, tier.Band{UpTo: upTo(bound), UnitPrice: tier.Money(r.Int64N(1_000_000))})
	}
	return tier.Price{Model: p.Model, Unit: p.Unit, Bands: append(p.Bands, tier.Band{UnitPrice: tier.Money(r.Int64N(1_000_000))})}
}

// TestGraduatedMonotone checks graduated(q) is non-decreasing in q and, as
// bands partition q, equals the sum of per-band per_unit prices.
func TestGraduatedMonotone(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for range 300 {
		p := randomGraduated(r)
		prev := Micros(0)
		q := int64(0)
		for range 60 {
			q += r.Int64N(3000)
			got, err := Cost(p, big.NewRat(q, 1))
			if err != nil {
				t.Fatal(err)
			}
			if got.Cmp(prev) < 0 {
				t.Fatalf("graduated not monotone: Cost(%d) = %s < previous %s for %+v", q, got, prev, p)
			}
			prev = got
			// Cross-check against a direct unit-by-band sum.
			want := new(big.Rat)
			lower := int64(0)
			for _, b := range p.Bands {
				hi := q
				if b.UpTo != nil && *b.UpTo < hi {
					hi = *b.UpTo
				}
				if hi > lower {
					want.Add(want, big.NewRat((hi-lower)*int64(b.UnitPrice), p.Unit))
				}
				if b.UpTo != nil {
					lower = *b.UpTo
				}
			}
			if got.Rat().Cmp(want) != 0 {
				t.Fatalf("Cost(%d) = %s, want %s for %+v", q, got, want.RatString(), p)
			}
		}
	}
}

// TestVolumeAtBandEdges checks volume pricing prices all of q at the band q
// falls into, the edge belonging to the lower band.
func TestVolumeAtBandEdges(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for range 300 {
		p := randomGraduated(r)
		p.Model = tier.Volume
		for i, b := range p.Bands[:len(p.Bands)-1] {
			edge := *b.UpTo
			at, _ := Cost(p, big.NewRat(edge, 1))
			over, _ := Cost(p, big.NewRat(edge+1, 1))
			if want := big.NewRat(edge*int64(b.UnitPrice), p.Unit); at.Rat().Cmp(want) != 0 {
				t.Fatalf("volume at edge %d = %s, want %s", edge, at, want.RatString())
			}
			next := p.Bands[i+1].UnitPrice
			if want := big.NewRat((edge+1)*int64(next), p.Unit); over.Rat().Cmp(want) != 0 {
				t.Fatalf("volume one over edge %d = %s, want %s", edge, over, want.RatString())
			}
		}
	}
}

// TestPackageCeil checks package pricing is ceil(q / size) × price.
func TestPackageCeil(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for range 2000 {
		size := 1 + r.Int64N(1_000_000)
		price := tier.Money(r.Int64N(10_000_000))
		q := r.Int64N(1 << 40)
		got, err := Cost(tier.Price{Model: tier.Package, PackageSize: size, PackagePrice: price}, big.NewRat(q, 1))
		if err != nil {
			t.Fatal(err)
		}
		n := q / size
		if q%size != 0 {
			n++
		}
		want := new(big.Rat).Mul(big.NewRat(n, 1), big.NewRat(int64(price), 1))
		if got.Rat().Cmp(want) != 0 {
			t.Fatalf("package(q=%d size=%d price=%d) = %s, want %s", q, size, price, got, want.RatString())
		}
	}
}
