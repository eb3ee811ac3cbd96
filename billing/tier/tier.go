package tier

import (
	"slices"

	"github.com/aerolithdb/aerolith/billing/contract"
)

// Meter names one metered quantity. The same names key Included, Overage,
// the YAML tiers file and the rating engine's invoice lines.
type Meter string

// The metered quantities and the base unit each is counted in. Included
// allowances, band bounds (up_to), unit and package sizes are all expressed in
// the meter's base unit.
const (
	Reads        Meter = "reads"         // one document read
	Writes       Meter = "writes"        // one document write
	Queries      Meter = "queries"       // one query
	Storage      Meter = "storage"       // byte-months: bytes held for a whole billing month
	Egress       Meter = "egress"        // bytes sent to clients
	QueryCompute Meter = "query_compute" // milliseconds of query execution
)

// Meters returns every meter in invoice order. The slice is fresh on each call.
func Meters() []Meter {
	return []Meter{Reads, Writes, Queries, Storage, Egress, QueryCompute}
}

// Unit returns the singular name of the meter's base unit, e.g. "byte-month".
func (m Meter) Unit() string {
	switch m {
	case Reads:
		return "read"
	case Writes:
		return "write"
	case Queries:
		return "query"
	case Storage:
		return "byte-month"
	case Egress:
		return "byte"
	case QueryCompute:
		return "millisecond"
	}
	return "unit"
}

// Model is an overage pricing model.
type Model string

// The pricing models. For a billable quantity q (base units after the
// included allowance is subtracted):
const (
	// PerUnit charges q × UnitPrice / Unit.
	PerUnit Model = "per_unit"
	// Graduated splits q across the bands and prices each part at its own
	// band's rate, like income-tax brackets.
	Graduated Model = "graduated"
	// Volume finds the band q falls into and prices all of q at that rate.
	Volume Model = "volume"
	// Package charges ceil(q / PackageSize) × PackagePrice.
	Package Model = "package"
)

// QuotaAction says what agents do when a tenant reaches a limit or exhausts
// an included allowance.
type QuotaAction string

// The quota actions.
const (
	// Block rejects requests over the limit (HTTP 429/403).
	Block QuotaAction = "block"
	// Throttle slows requests down to the limit instead of rejecting them.
	Throttle QuotaAction = "throttle"
	// AllowWithOverage lets usage continue and bills it at the overage prices.
	AllowWithOverage QuotaAction = "allow_with_overage"
	// Warn lets usage continue and notifies the tenant; priced meters are
	// still billed.
	Warn QuotaAction = "warn"
)

// Tier is one pricing tier (plan): its price, what the price includes, how
// usage beyond that is priced, and the limits agents enforce.
type Tier struct {
	// Name is the stable identifier tenants reference: lowercase letters,
	// digits, '-' and '_', starting with a letter, at most 63 characters.
	Name string `yaml:"name" json:"name"`
	// DisplayName is the human name shown on invoices and the pricing page.
	DisplayName string `yaml:"display_name" json:"display_name"`
	// BasePrice is the fee for a whole billing month, in micro-dollars.
	BasePrice Money `yaml:"base_price" json:"base_price"`
	// Included is the usage the base price covers each billing month.
	Included Included `yaml:"included" json:"included"`
	// Overage prices usage beyond Included, per meter; a nil price means
	// such usage is not billed.
	Overage Overage `yaml:"overage" json:"overage"`
	// Limits are enforced by agents.
	Limits Limits `yaml:"limits" json:"limits"`
	// QuotaAction is what agents do when a limit is reached.
	QuotaAction QuotaAction `yaml:"quota_action" json:"quota_action"`
}

// Included is the usage covered by the base price during a whole billing
// month, per meter, in each meter's base unit (see Meter).
type Included struct {
	Reads             int64 `yaml:"reads" json:"reads"`
	Writes            int64 `yaml:"writes" json:"writes"`
	Queries           int64 `yaml:"queries" json:"queries"`
	StorageByteMonths int64 `yaml:"storage" json:"storage"`
	EgressBytes       int64 `yaml:"egress" json:"egress"`
	QueryComputeMs    int64 `yaml:"query_compute" json:"query_compute"`
}

// Get returns the allowance for meter m (0 for an unknown meter).
func (in Included) Get(m Meter) int64 {
	switch m {
	case Reads:
		return in.Reads
	case Writes:
		return in.Writes
	case Queries:
		return in.Queries
	case Storage:
		return in.StorageByteMonths
	case Egress:
		return in.EgressBytes
	case QueryCompute:
		return in.QueryComputeMs
	}
	return 0
}

// Overage holds the price of usage beyond the included allowance, per meter.
type Overage struct {
	Reads        *Price `yaml:"reads,omitempty" json:"reads,omitempty"`
	Writes       *Price `yaml:"writes,omitempty" json:"writes,omitempty"`
	Queries      *Price `yaml:"queries,omitempty" json:"queries,omitempty"`
	Storage      *Price `yaml:"storage,omitempty" json:"storage,omitempty"`
	Egress       *Price `yaml:"egress,omitempty" json:"egress,omitempty"`
	QueryCompute *Price `yaml:"query_compute,omitempty" json:"query_compute,omitempty"`
}

// Get returns the price for meter m, or nil when usage of m beyond the
// allowance is not billed.
func (o Overage) Get(m Meter) *Price {
	switch m {
	case Reads:
		return o.Reads
	case Writes:
		return o.Writes
	case Queries:
		return o.Queries
	case Storage:
		return o.Storage
	case Egress:
		return o.Egress
	case QueryCompute:
		return o.QueryCompute
	}
	return nil
}

// Price prices a quantity of one meter with one Model. Which fields apply
// depends on the model:
//
//	per_unit:          Unit, UnitPrice
//	graduated, volume: Unit, Bands (each with its own UnitPrice)
//	package:           PackageSize, PackagePrice
//
// Prices are per Unit base units, so fractions of a micro-dollar per base
// unit are exact: $0.25 per million reads is UnitPrice 250000, Unit 1000000.
type Price struct {
	Model        Model  `yaml:"model" json:"model"`
	Unit         int64  `yaml:"unit,omitempty" json:"unit,omitempty"`
	UnitPrice    Money  `yaml:"unit_price,omitempty" json:"unit_price,omitempty"`
	Bands        []Band `yaml:"bands,omitempty" json:"bands,omitempty"`
	PackageSize  int64  `yaml:"package_size,omitempty" json:"package_size,omitempty"`
	PackagePrice Money  `yaml:"package_price,omitempty" json:"package_price,omitempty"`
}

// Band is one band of a graduated or volume price. Bands are ascending; a
// band covers quantities above the previous band's UpTo up to and including
// its own UpTo. The last band has no UpTo and is unbounded.
type Band struct {
	// UpTo is the inclusive upper bound in base units; nil means unbounded.
	UpTo *int64 `yaml:"up_to,omitempty" json:"up_to,omitempty"`
	// UnitPrice is the price of Unit base units (Unit is the Price's).
	UnitPrice Money `yaml:"unit_price" json:"unit_price"`
}

// Limits are the hard figures agents enforce for a tenant on this tier:
// the contract's type, which the tenant's policy carries to the agents.
// Every limit is positive; there is no "unlimited" value.
type Limits = contract.Limits

// Clone returns a deep copy of t sharing no memory with it.
func (t Tier) Clone() Tier {
	c := t
	for _, p := range []**Price{&c.Overage.Reads, &c.Overage.Writes, &c.Overage.Queries,
		&c.Overage.Storage, &c.Overage.Egress, &c.Overage.QueryCompute} {
		if *p != nil {
			cp := (*p).clone()
			*p = &cp
		}
	}
	return c
}

func (p Price) clone() Price {
	c := p
	if p.Bands != nil {
		c.Bands = make([]Band, len(p.Bands))
		for i, b := range p.Bands {
			c.Bands[i] = b
			if b.UpTo != nil {
				v := *b.UpTo
				c.Bands[i].UpTo = &v
			}
		}
	}
	return c
}

// Catalog is the ordered set of tiers the billing service offers. The order
// is the order of the pricing page.
type Catalog struct {
	Tiers []Tier `yaml:"tiers" json:"tiers"`
}

// Get returns a deep copy of the tier named name.
func (c Catalog) Get(name string) (Tier, bool) {
	for _, t := range c.Tiers {
		if t.Name == name {
			return t.Clone(), true
		}
	}
	return Tier{}, false
}

// Names returns the tier names in catalog order.
func (c Catalog) Names() []string {
	names := make([]string, 0, len(c.Tiers))
	for _, t := range c.Tiers {
		names = append(names, t.Name)
	}
	return names
}

// Clone returns a deep copy of c.
func (c Catalog) Clone() Catalog {
	out := Catalog{Tiers: slices.Clone(c.Tiers)}
	for i := range out.Tiers {
		out.Tiers[i] = out.Tiers[i].Clone()
	}
	return out
}
