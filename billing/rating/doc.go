// Package rating turns a pricing tier (billing/tier) and a period's metered
// usage into invoice lines. It is pure: no I/O, no clock, no floats.
//
// # Arithmetic and rounding
//
// Money is micro-dollars. Every charge is computed exactly as a rational
// number (Amount, backed by math/big), so a price of a fraction of a
// micro-dollar per unit, storage priced per byte-month from byte-seconds, and
// proration by the second lose nothing. Each invoice line is rounded ONCE,
// from its exact amount to whole cents, half away from zero: amounts >= 0
// round half up ((m + 5000) / 10000 for integer micro-dollars m) and a
// credit rounds like its positive counterpart, negated. An invoice total is
// the sum of its lines' cents and is never rounded on its own. A figure that
// does not fit in int64 cents is an error (ErrOverflow), never a wrapped
// number.
//
// # Proration
//
// A Period is a span inside a billing cycle (normally a calendar month,
// Month). Time is counted in whole seconds. For a partial span the base fee
// is BasePrice × seconds/cycle-seconds exactly, and each monthly allowance is
// prorated the same way and rounded up in the tenant's favour. Storage is
// metered in byte-seconds; a byte-month is one byte held for the whole
// cycle, so the storage allowance for a span is exactly
// Included.StorageByteMonths × span-seconds byte-seconds and billable storage
// is priced as byte-seconds / cycle-seconds byte-months. For a tier change
// mid-cycle, rate each span on its own tier, or use Prorate and Adjustment
// for credits of unused time.
//
// # Pricing models
//
// See Cost: per_unit, graduated, volume and package (ceil(q / size) ×
// price). Bands and package sizes apply to the quantity billed in the rated
// period and are not prorated.
package rating
