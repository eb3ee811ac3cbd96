package rating

import (
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/aerolithdb/aerolith/billing/tier"
)

// Usage is what a tenant consumed during a Period, per meter. Never floats.
type Usage struct {
	Reads              int64 `json:"reads"`
	Writes             int64 `json:"writes"`
	Queries            int64 `json:"queries"`
	StorageByteSeconds int64 `json:"storage_byte_seconds"` // Σ bytes stored × seconds stored
	EgressBytes        int64 `json:"egress_bytes"`
	QueryComputeMs     int64 `json:"query_compute_ms"`
}

// Get returns the usage of meter m in its usage unit (see UsageUnit).
func (u Usage) Get(m tier.Meter) int64 {
	switch m {
	case tier.Reads:
		return u.Reads
	case tier.Writes:
		return u.Writes
	case tier.Queries:
		return u.Queries
	case tier.Storage:
		return u.StorageByteSeconds
	case tier.Egress:
		return u.EgressBytes
	case tier.QueryCompute:
		return u.QueryComputeMs
	}
	return 0
}

// UsageUnit names the unit Usage and Line quantities of meter m are counted
// in: the meter's base unit, except storage, metered in byte-seconds.
func UsageUnit(m tier.Meter) string {
	if m == tier.Storage {
		return "byte-second"
	}
	return m.Unit()
}

// Kind classifies an invoice line.
type Kind string

// The line kinds.
const (
	KindBase       Kind = "base"       // the tier's base fee, prorated for a partial period
	KindOverage    Kind = "overage"    // usage of one meter beyond its allowance
	KindAdjustment Kind = "adjustment" // a credit or charge added by hand or by a tier change
)

// Line is one invoice line. Amount is exact; Cents is Amount rounded once
// with Amount.Cents and is what invoices add up.
type Line struct {
	Kind        Kind       `json:"kind"`
	Meter       tier.Meter `json:"meter,omitempty"`
	Model       tier.Model `json:"model,omitempty"`
	Description string     `json:"description"`
	// Used, Included and Quantity are in Unit. For an overage line Used is the
	// metered usage, Included the allowance for the period (prorated) and
	// Quantity = Used - Included, the billed quantity. For a base line they
	// are seconds: the period's, none, and the seconds billed.
	Used     int64  `json:"used"`
	Included int64  `json:"included"`
	Quantity int64  `json:"quantity"`
	Unit     string `json:"unit"`
	// Amount is the exact charge in micro-dollars (negative for a credit).
	Amount Amount `json:"amount_micros"`
	// Cents is Amount rounded to cents, half away from zero.
	Cents int64 `json:"cents"`
}

// Lines are the lines of one invoice.
type Lines []Line

// TotalCents returns the sum of the lines' rounded Cents: the total is never
// rounded separately. A sum outside int64 is an ErrOverflow.
func (ls Lines) TotalCents() (int64, error) {
	var total int64
	for _, l := range ls {
		if (l.Cents > 0 && total > math.MaxInt64-l.Cents) || (l.Cents < 0 && total < math.MinInt64-l.Cents) {
			return 0, fmt.Errorf("%w: invoice total exceeds int64 cents", ErrOverflow)
		}
		total += l.Cents
	}
	return total, nil
}

// Adjustment returns a line charging amount (negative for a credit), rounded
// to cents by the same rule as every line. Use it for credits, manual
// corrections and the unused part of a tier left mid-cycle (see Prorate).
func Adjustment(description string, amount Amount) (Line, error) {
	c, err := amount.Cents()
	if err != nil {
		return Line{}, fmt.Errorf("adjustment %q: %w", description, err)
	}
	return Line{Kind: KindAdjustment, Description: description, Unit: "adjustment", Amount: amount, Cents: c}, nil
}

// Rate prices usage u of tier t over period p and returns the invoice lines:
//
//   - one base line: t.BasePrice × (seconds in p) / (seconds in the cycle),
//     so a full cycle costs exactly BasePrice;
//   - one overage line per meter that has an overage price and usage above
//     its allowance, in tier.Meters order. The allowance for the period is
//     the tier's monthly allowance prorated by the second and rounded up in
//     the tenant's favour (a full cycle gets exactly the allowance); for
//     storage it is Included.StorageByteMonths × (seconds in p) byte-seconds,
//     exactly. The billable quantity is priced by the meter's model (see
//     Cost); storage is priced in byte-months, byte-seconds / (seconds in
//     the cycle), exactly.
//
// Usage of a meter without an overage price is not billed. Band bounds and
// package sizes are not prorated. Every line's exact Amount is rounded once
// to Cents; nothing else is rounded. The tier is validated first; invalid
// input matches ErrInvalid and an amount beyond int64 cents ErrOverflow.
func Rate(t tier.Tier, u Usage, p Period) (Lines, error) {
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	for _, m := range tier.Meters() {
		if v := u.Get(m); v < 0 {
			return nil, fmt.Errorf("%w: usage %s: must not be negative (got %d)", ErrInvalid, m, v)
		}
	}
	used, total, err := p.Seconds()
	if err != nil {
		return nil, err
	}

	base := prorate(int64(t.BasePrice), used, total)
	desc := fmt.Sprintf("%s plan, %s to %s", t.DisplayName, day(p.Start), day(p.End))
	if used != total {
		desc += fmt.Sprintf(" (prorated %d of %d seconds)", used, total)
	}
	lines := Lines{{Kind: KindBase, Description: desc, Used: used, Quantity: used, Unit: "second", Amount: base}}

	for _, m := range tier.Meters() {
		price := t.Overage.Get(m)
		if price == nil {
			continue
		}
		usage := u.Get(m)
		incl := allowance(m, t.Included.Get(m), used, total)
		if usage <= incl {
			continue
		}
		billable := usage - incl
		q := big.NewRat(billable, 1)
		if m == tier.Storage {
			q.SetFrac64(billable, total) // byte-seconds → byte-months
		}
		amt, err := Cost(*price, q)
		if err != nil {
			return nil, fmt.Errorf("rate %s: %w", m, err)
		}
		lines = append(lines, Line{
			Kind: KindOverage, Meter: m, Model: price.Model,
			Description: describe(m, *price, usage, incl),
			Used:        usage, Included: incl, Quantity: billable, Unit: UsageUnit(m),
			Amount: amt,
		})
	}
	for i := range lines {
		c, err := lines[i].Amount.Cents()
		if err != nil {
			name := string(lines[i].Meter)
			if name == "" {
				name = string(lines[i].Kind)
			}
			return nil, fmt.Errorf("rate %s: %w", name, err)
		}
		lines[i].Cents = c
	}
	if _, err := lines.TotalCents(); err != nil {
		return nil, err
	}
	return lines, nil
}

// allowance returns the included usage of meter m for used of total cycle
// seconds, in the meter's usage unit, saturating at MaxInt64 (no usage can
// exceed that anyway).
func allowance(m tier.Meter, monthly, used, total int64) int64 {
	a := new(big.Int).Mul(big.NewInt(monthly), big.NewInt(used))
	if m != tier.Storage {
		// ceil(monthly × used / total)
		a.Add(a, big.NewInt(total-1))
		a.Quo(a, big.NewInt(total))
	}
	if !a.IsInt64() {
		return math.MaxInt64
	}
	return a.Int64()
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// describe writes an overage line's human description.
func describe(m tier.Meter, p tier.Price, usage, incl int64) string {
	unit := UsageUnit(m)
	s := fmt.Sprintf("%s: %d %ss, %d included", m, usage, unit, incl)
	switch p.Model {
	case tier.PerUnit:
		s += fmt.Sprintf("; $%s per %d %ss", p.UnitPrice, p.Unit, m.Unit())
	case tier.Graduated, tier.Volume:
		s += fmt.Sprintf("; %s pricing per %d %ss:", p.Model, p.Unit, m.Unit())
		lower := int64(0)
		for _, b := range p.Bands {
			if b.UpTo == nil {
				s += fmt.Sprintf(" above %d at $%s", lower, b.UnitPrice)
			} else {
				s += fmt.Sprintf(" to %d at $%s,", *b.UpTo, b.UnitPrice)
				lower = *b.UpTo
			}
		}
	case tier.Package:
		s += fmt.Sprintf("; $%s per package of %d %ss", p.PackagePrice, p.PackageSize, m.Unit())
	}
	return s
}
