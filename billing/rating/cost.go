package rating

import (
	"fmt"
	"math/big"

	"github.com/aerolithdb/aerolith/billing/tier"
)

// Cost prices a billable quantity q (in the meter's base units, already net
// of the included allowance; it may be fractional, e.g. storage byte-months)
// with price p, exactly:
//
//	per_unit:  q × UnitPrice / Unit
//	graduated: Σ over bands of (the part of q inside the band) × band.UnitPrice / Unit,
//	           a band covering (previous up_to, up_to]
//	volume:    q × b.UnitPrice / Unit for the first band b with q <= b.UpTo
//	           (the last, unbounded band otherwise)
//	package:   ceil(q / PackageSize) × PackagePrice
//
// q must be >= 0 and p must be a valid price (tier.Tier.Validate); otherwise
// the error matches ErrInvalid. Nothing is rounded.
func Cost(p tier.Price, q *big.Rat) (Amount, error) {
	if q == nil || q.Sign() < 0 {
		return Amount{}, fmt.Errorf("%w: cost: quantity must be a non-negative number", ErrInvalid)
	}
	switch p.Model {
	case tier.PerUnit:
		if p.Unit <= 0 {
			return Amount{}, fmt.Errorf("%w: cost: unit must be positive (got %d)", ErrInvalid, p.Unit)
		}
		return amountOf(perUnits(q, p.UnitPrice, p.Unit)), nil
	case tier.Graduated, tier.Volume:
		if p.Unit <= 0 {
			return Amount{}, fmt.Errorf("%w: cost: unit must be positive (got %d)", ErrInvalid, p.Unit)
		}
		if err := checkBands(p.Bands); err != nil {
			return Amount{}, err
		}
		if p.Model == tier.Volume {
			return amountOf(volume(q, p)), nil
		}
		return amountOf(graduated(q, p)), nil
	case tier.Package:
		if p.PackageSize <= 0 {
			return Amount{}, fmt.Errorf("%w: cost: package_size must be positive (got %d)", ErrInvalid, p.PackageSize)
		}
		return amountOf(packages(q, p.PackageSize, p.PackagePrice)), nil
	}
	return Amount{}, fmt.Errorf("%w: cost: unknown model %q", ErrInvalid, p.Model)
}

// perUnits returns q × price / unit.
func perUnits(q *big.Rat, price tier.Money, unit int64) *big.Rat {
	r := new(big.Rat).Mul(q, big.NewRat(int64(price), 1))
	return r.Quo(r, big.NewRat(unit, 1))
}

func checkBands(bands []tier.Band) error {
	if len(bands) == 0 {
		return fmt.Errorf("%w: cost: at least one band is required", ErrInvalid)
	}
	var prev int64
	for i, b := range bands {
		last := i == len(bands)-1
		if (b.UpTo == nil) != last || (b.UpTo != nil && *b.UpTo <= prev) {
			return fmt.Errorf("%w: cost: bands must ascend strictly from above 0 and only the last may be unbounded", ErrInvalid)
		}
		if b.UpTo != nil {
			prev = *b.UpTo
		}
	}
	return nil
}

func graduated(q *big.Rat, p tier.Price) *big.Rat {
	sum := new(big.Rat)
	lower := new(big.Rat)
	for _, b := range p.Bands {
		if q.Cmp(lower) <= 0 {
			break
		}
		part := new(big.Rat).Set(q)
		if b.UpTo != nil {
			if upper := big.NewRat(*b.UpTo, 1); part.Cmp(upper) > 0 {
				part = upper
			}
		}
		top := new(big.Rat).Set(part)
		part.Sub(part, lower)
		sum.Add(sum, perUnits(part, b.UnitPrice, p.Unit))
		lower = top
	}
	return sum
}

func volume(q *big.Rat, p tier.Price) *big.Rat {
	for _, b := range p.Bands {
		if b.UpTo == nil || q.Cmp(big.NewRat(*b.UpTo, 1)) <= 0 {
			return perUnits(q, b.UnitPrice, p.Unit)
		}
	}
	return new(big.Rat) // unreachable: checkBands guarantees an unbounded last band
}

// packages returns ceil(q / size) × price.
func packages(q *big.Rat, size int64, price tier.Money) *big.Rat {
	x := new(big.Rat).Quo(q, big.NewRat(size, 1))
	n, rem := new(big.Int).QuoRem(x.Num(), x.Denom(), new(big.Int))
	if rem.Sign() > 0 {
		n.Add(n, big.NewInt(1))
	}
	n.Mul(n, big.NewInt(int64(price)))
	return new(big.Rat).SetInt(n)
}
