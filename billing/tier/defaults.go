package tier

import "time"

// Size and count constants for the default catalog, in base units.
const (
	kilo = 1_000
	mega = 1_000_000
	giga = 1_000_000_000
	tera = 1_000_000_000_000
	hour = 3_600_000 // milliseconds
)

func upTo(v int64) *int64 { return &v }

// perUnit returns a per_unit price of price per unit base units.
func perUnit(price Money, unit int64) *Price {
	return &Price{Model: PerUnit, Unit: unit, UnitPrice: price}
}

// Defaults returns the built-in catalog: free, starter, professional and
// enterprise, as tabulated in the package documentation. Each call returns a
// fresh catalog the caller may modify.
func Defaults() Catalog {
	return Catalog{Tiers: []Tier{
		{
			Name:        "free",
			DisplayName: "Free",
			BasePrice:   0,
			Included: Included{
				Reads: 30 * kilo, Writes: 10 * kilo, Queries: 5 * kilo,
				StorageByteMonths: 100 * mega, EgressBytes: 1 * giga, QueryComputeMs: 1 * hour,
			},
			Limits: Limits{
				StorageBytes: 100 * mega, APICallsPerDay: 1 * kilo, APICallsPerHour: 100,
				RequestsPerSecond: 5, ConcurrentConnections: 2, MaxQueryDuration: 5 * time.Second,
				MaxCollections: 10, MaxDocumentsPerCollection: 10 * kilo, RetentionDays: 7,
			},
			QuotaAction: Block,
		},
		{
			Name:        "starter",
			DisplayName: "Starter",
			BasePrice:   Dollars(10),
			Included: Included{
				Reads: 1 * mega, Writes: 200 * kilo, Queries: 100 * kilo,
				StorageByteMonths: 1 * giga, EgressBytes: 10 * giga, QueryComputeMs: 10 * hour,
			},
			Overage: Overage{
				Reads:        perUnit(250_000, mega),   // $0.25 per million
				Writes:       perUnit(1_250_000, mega), // $1.25 per million
				Queries:      &Price{Model: Package, PackageSize: mega, PackagePrice: Dollars(1)},
				Storage:      perUnit(250_000, giga), // $0.25 per GB-month
				Egress:       perUnit(90_000, giga),  // $0.09 per GB
				QueryCompute: perUnit(14, 1000),      // $0.000014 per second
			},
			Limits: Limits{
				StorageBytes: 1 * giga, APICallsPerDay: 10 * kilo, APICallsPerHour: 1 * kilo,
				RequestsPerSecond: 10, ConcurrentConnections: 5, MaxQueryDuration: 10 * time.Second,
				MaxCollections: 25, MaxDocumentsPerCollection: 1 * mega, RetentionDays: 30,
			},
			QuotaAction: AllowWithOverage,
		},
		{
			Name:        "professional",
			DisplayName: "Professional",
			BasePrice:   Dollars(50),
			Included: Included{
				Reads: 10 * mega, Writes: 2 * mega, Queries: 1 * mega,
				StorageByteMonths: 10 * giga, EgressBytes: 100 * giga, QueryComputeMs: 100 * hour,
			},
			Overage: Overage{
				Reads:   perUnit(200_000, mega),   // $0.20 per million
				Writes:  perUnit(1_000_000, mega), // $1.00 per million
				Queries: &Price{Model: Package, PackageSize: mega, PackagePrice: 800_000},
				Storage: perUnit(200_000, giga), // $0.20 per GB-month
				Egress: &Price{Model: Graduated, Unit: giga, Bands: []Band{
					{UpTo: upTo(1 * tera), UnitPrice: 80_000}, // first TB at $0.08 per GB
					{UnitPrice: 50_000},                       // beyond at $0.05 per GB
				}},
				QueryCompute: perUnit(12, 1000), // $0.000012 per second
			},
			Limits: Limits{
				StorageBytes: 10 * giga, APICallsPerDay: 100 * kilo, APICallsPerHour: 10 * kilo,
				RequestsPerSecond: 100, ConcurrentConnections: 25, MaxQueryDuration: 30 * time.Second,
				MaxCollections: 100, MaxDocumentsPerCollection: 10 * mega, RetentionDays: 90,
			},
			QuotaAction: AllowWithOverage,
		},
		{
			Name:        "enterprise",
			DisplayName: "Enterprise",
			BasePrice:   Dollars(200),
			Included: Included{
				Reads: 100 * mega, Writes: 20 * mega, Queries: 10 * mega,
				StorageByteMonths: 100 * giga, EgressBytes: 1 * tera, QueryComputeMs: 1000 * hour,
			},
			Overage: Overage{
				Reads: &Price{Model: Graduated, Unit: mega, Bands: []Band{
					{UpTo: upTo(1 * giga), UnitPrice: 150_000}, // first billion at $0.15 per million
					{UnitPrice: 100_000},                       // beyond at $0.10 per million
				}},
				Writes: &Price{Model: Graduated, Unit: mega, Bands: []Band{
					{UpTo: upTo(200 * mega), UnitPrice: 800_000},
					{UnitPrice: 600_000},
				}},
				Queries: &Price{Model: Package, PackageSize: mega, PackagePrice: 600_000},
				Storage: &Price{Model: Volume, Unit: giga, Bands: []Band{
					{UpTo: upTo(1 * tera), UnitPrice: 150_000},  // up to 1 TB-month: all at $0.15
					{UpTo: upTo(10 * tera), UnitPrice: 120_000}, // up to 10 TB-month: all at $0.12
					{UnitPrice: 100_000},                        // more: all at $0.10
				}},
				Egress: &Price{Model: Graduated, Unit: giga, Bands: []Band{
					{UpTo: upTo(10 * tera), UnitPrice: 60_000},
					{UnitPrice: 40_000},
				}},
				QueryCompute: perUnit(10, 1000), // $0.00001 per second
			},
			Limits: Limits{
				StorageBytes: 100 * giga, APICallsPerDay: 1 * mega, APICallsPerHour: 100 * kilo,
				RequestsPerSecond: 1000, ConcurrentConnections: 100, MaxQueryDuration: 2 * time.Minute,
				MaxCollections: 1000, MaxDocumentsPerCollection: 100 * mega, RetentionDays: 365,
			},
			QuotaAction: AllowWithOverage,
		},
	}}
}
