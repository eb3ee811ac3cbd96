// Package tier defines the billing service's pricing tiers: what each tier
// costs, the usage its base price includes, how usage beyond that is priced,
// the limits agents enforce and what they do at a limit. It is pure data and
// validation; the rating engine (billing/rating) turns a Tier and metered
// usage into invoice lines.
//
// # Units
//
// Money is integer micro-dollars (Money), written in files and JSON as exact
// dollar strings ("10.00", "0.000014"). Each meter counts in one base unit:
//
//	reads, writes, queries  one request
//	storage                 byte-months (bytes held for a whole billing month)
//	egress                  bytes
//	query_compute           milliseconds
//
// Included allowances, band bounds (up_to), unit and package sizes are in
// those base units; a price applies to Unit base units, so "$0.25 per million
// reads" is {model: per_unit, unit: 1000000, unit_price: "0.25"} and "$0.25
// per GB-month" is {unit: 1GB, unit_price: "0.25"} on storage.
//
// # Default catalog
//
// Defaults returns these tiers (limits from the design brief; per-hour call
// limits are a tenth of the daily ones):
//
//	                     free       starter         professional     enterprise
//	base price/month     $0         $10             $50              $200
//	api calls/day, /hour 1k, 100    10k, 1k         100k, 10k        1M, 100k
//	storage limit        100 MB     1 GB            10 GB            100 GB
//	requests/second      5          10              100              1000
//	connections          2          5               25               100
//	retention            7 d        30 d            90 d             365 d
//	max query duration   5s         10s             30s              2m
//	max collections      10         25              100              1000
//	max docs/collection  10k        1M              10M              100M
//	quota action         block      allow_with_overage (all paid tiers)
//
//	included/month       free       starter         professional     enterprise
//	reads                30k        1M              10M              100M
//	writes               10k        200k            2M               20M
//	queries              5k         100k            1M               10M
//	storage              100 MB-mo  1 GB-mo         10 GB-mo         100 GB-mo
//	egress               1 GB       10 GB           100 GB           1 TB
//	query compute        1 h        10 h            100 h            1000 h
//
//	overage              free  starter           professional          enterprise
//	reads    per million  -    $0.25 per_unit    $0.20 per_unit        graduated: $0.15 to 1B, then $0.10
//	writes   per million  -    $1.25 per_unit    $1.00 per_unit        graduated: $0.80 to 200M, then $0.60
//	queries  per million  -    $1.00 package     $0.80 package         $0.60 package
//	storage  per GB-month -    $0.25 per_unit    $0.20 per_unit        volume: $0.15 to 1 TB-mo, $0.12 to 10 TB-mo, then $0.10
//	egress   per GB       -    $0.09 per_unit    graduated: $0.08 to 1 TB, then $0.05   graduated: $0.06 to 10 TB, then $0.04
//	compute  per second   -    $0.000014         $0.000012             $0.00001
//
// The free tier has no overage prices: usage beyond its allowance is blocked
// by agents, never billed. (GB, TB are powers of 1000.)
//
// # Tiers file
//
// Parse and LoadFile read a YAML file that REPLACES the default catalog
// wholly; nothing is merged, so the file lists every tier on offer. See
// testdata/tiers.yaml for a complete example. Parsing is strict and every
// error names the tier and field, e.g.
//
//	tiers[1] (starter).overage.reads.model: unknown model "flat" (want per_unit, graduated, volume or package)
//
// A Catalog marshalled with yaml.Marshal is a valid tiers file that parses
// back to an equal catalog; json.Marshal gives the same field names for the
// pricing API.
package tier
