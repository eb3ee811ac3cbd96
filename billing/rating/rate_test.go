package rating

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/tier"
)

func getTier(t *testing.T, name string) tier.Tier {
	t.Helper()
	tr, ok := tier.Defaults().Get(name)
	if !ok {
		t.Fatalf("no default tier %q", name)
	}
	return tr
}

// april is a 30-day cycle: 2,592,000 seconds.
var april = Month(date(2026, 4, 1))

const aprilSeconds = 30 * 86400

func mustRate(t *testing.T, tr tier.Tier, u Usage, p Period) Lines {
	t.Helper()
	ls, err := Rate(tr, u, p)
	if err != nil {
		t.Fatalf("Rate: %v", err)
	}
	return ls
}

// overage returns the overage line for m, if any.
func overage(ls Lines, m tier.Meter) (Line, bool) {
	for _, l := range ls {
		if l.Kind == KindOverage && l.Meter == m {
			return l, true
		}
	}
	return Line{}, false
}

// starterAtAllowance is exactly the starter tier's monthly allowance.
func starterAtAllowance() Usage {
	return Usage{
		Reads: 1_000_000, Writes: 200_000, Queries: 100_000,
		StorageByteSeconds: 1e9 * aprilSeconds, EgressBytes: 10e9, QueryComputeMs: 36_000_000,
	}
}

func TestRateBaseOnly(t *testing.T) {
	tests := []struct {
		tier  string
		u     Usage
		cents int64
	}{
		{"free", Usage{}, 0},
		{"free", Usage{Reads: 1e12, StorageByteSeconds: math.MaxInt64}, 0}, // no overage prices: never billed
		{"starter", Usage{}, 1000},
		{"starter", starterAtAllowance(), 1000},
		{"professional", Usage{}, 5000},
		{"enterprise", Usage{}, 20000},
	}
	for _, tt := range tests {
		ls := mustRate(t, getTier(t, tt.tier), tt.u, april)
		if len(ls) != 1 || ls[0].Kind != KindBase || ls[0].Cents != tt.cents {
			t.Errorf("%s %+v: lines %+v, want one base line of %d cents", tt.tier, tt.u, ls, tt.cents)
			continue
		}
		if ls[0].Quantity != aprilSeconds || ls[0].Unit != "second" {
			t.Errorf("%s base line quantity %d %s", tt.tier, ls[0].Quantity, ls[0].Unit)
		}
		if total, err := ls.TotalCents(); err != nil || total != tt.cents {
			t.Errorf("%s total = %d, %v, want %d", tt.tier, total, err, tt.cents)
		}
	}
	ls := mustRate(t, getTier(t, "starter"), Usage{}, april)
	if want := "Starter plan, 2026-04-01 00:00:00 to 2026-05-01 00:00:00"; ls[0].Description != want {
		t.Errorf("description %q, want %q", ls[0].Description, want)
	}
}

func TestRateOverageEdges(t *testing.T) {
	add := func(f func(*Usage)) Usage { u := starterAtAllowance(); f(&u); return u }
	tests := []struct {
		name     string
		tier     string
		u        Usage
		meter    tier.Meter
		quantity int64
		amount   Amount
		cents    int64
	}{
		{"one read over is a quarter micro", "starter", add(func(u *Usage) { u.Reads++ }), tier.Reads, 1, frac(1, 4), 0},
		{"19,999 reads over: just under half a cent", "starter", add(func(u *Usage) { u.Reads += 19_999 }), tier.Reads, 19_999, frac(19_999, 4), 0},
		{"20,000 reads over: exactly half a cent rounds up", "starter", add(func(u *Usage) { u.Reads += 20_000 }), tier.Reads, 20_000, Micros(5000), 1},
		{"a million reads over", "starter", add(func(u *Usage) { u.Reads += 1e6 }), tier.Reads, 1e6, Micros(250_000), 25},
		{"writes over", "starter", add(func(u *Usage) { u.Writes += 2e6 }), tier.Writes, 2e6, Micros(2_500_000), 250},
		{"one query over buys a package", "starter", add(func(u *Usage) { u.Queries++ }), tier.Queries, 1, Micros(1_000_000), 100},
		{"a package exactly", "starter", add(func(u *Usage) { u.Queries += 1e6 }), tier.Queries, 1e6, Micros(1_000_000), 100},
		{"a package and one", "starter", add(func(u *Usage) { u.Queries += 1e6 + 1 }), tier.Queries, 1e6 + 1, Micros(2_000_000), 200},
		{"one GB-month of storage over", "starter", add(func(u *Usage) { u.StorageByteSeconds *= 2 }), tier.Storage, 1e9 * aprilSeconds, Micros(250_000), 25},
		{"one byte-second of storage over", "starter", add(func(u *Usage) { u.StorageByteSeconds++ }), tier.Storage, 1, frac(250_000, 1e9*aprilSeconds), 0},
		{"egress just under half a cent", "starter", add(func(u *Usage) { u.EgressBytes += 500_000_000 / 9 }), tier.Egress, 55_555_555, frac(55_555_555*90_000, 1e9), 0},
		{"egress ten GB", "starter", add(func(u *Usage) { u.EgressBytes += 10e9 }), tier.Egress, 10e9, Micros(900_000), 90},
		{"one ms of compute", "starter", add(func(u *Usage) { u.QueryComputeMs++ }), tier.QueryCompute, 1, frac(14, 1000), 0},
		{"an hour of compute", "starter", add(func(u *Usage) { u.QueryComputeMs += 3_600_000 }), tier.QueryCompute, 3_600_000, Micros(50_400), 5},
		// enterprise reads: 100M included, graduated $0.15/M up to 1B billable, then $0.10/M.
		{"graduated at the band edge", "enterprise", Usage{Reads: 100e6 + 1e9}, tier.Reads, 1e9, Micros(150_000_000), 15000},
		{"graduated one over the edge", "enterprise", Usage{Reads: 100e6 + 1e9 + 1}, tier.Reads, 1e9 + 1, frac(150_000_000*10+1, 10), 15000},
		{"graduated a million over the edge", "enterprise", Usage{Reads: 100e6 + 1e9 + 1e6}, tier.Reads, 1e9 + 1e6, Micros(150_100_000), 15010},
		// enterprise storage: 100 GB-months included, volume $0.15/GB-mo to 1 TB-mo, $0.12 to 10 TB-mo.
		{"volume storage at the edge", "enterprise", Usage{StorageByteSeconds: (100e9 + 1e12) * aprilSeconds}, tier.Storage, 1e12 * aprilSeconds, Micros(150_000_000), 15000},
		{"volume storage a byte-month over", "enterprise", Usage{StorageByteSeconds: (100e9+1e12)*aprilSeconds + aprilSeconds}, tier.Storage, (1e12 + 1) * aprilSeconds, frac((1e12+1)*120_000, 1e9), 12000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := mustRate(t, getTier(t, tt.tier), tt.u, april)
			l, ok := overage(ls, tt.meter)
			if !ok {
				t.Fatalf("no %s line in %+v", tt.meter, ls)
			}
			if l.Quantity != tt.quantity || l.Used-l.Included != l.Quantity || l.Amount.Cmp(tt.amount) != 0 || l.Cents != tt.cents {
				t.Fatalf("line = quantity %d amount %s cents %d, want %d %s %d", l.Quantity, l.Amount, l.Cents, tt.quantity, tt.amount, tt.cents)
			}
			if len(ls) != 2 {
				t.Errorf("got %d lines, want base + %s", len(ls), tt.meter)
			}
			if l.Model != getTier(t, tt.tier).Overage.Get(tt.meter).Model || l.Unit != UsageUnit(tt.meter) {
				t.Errorf("line model %s unit %s", l.Model, l.Unit)
			}
		})
	}
}

func TestRateAllMetersOrderAndTotal(t *testing.T) {
	u := Usage{Reads: 3e6, Writes: 1e6, Queries: 2e6, StorageByteSeconds: 5e9 * aprilSeconds, EgressBytes: 30e9, QueryComputeMs: 72_000_000}
	ls := mustRate(t, getTier(t, "starter"), u, april)
	var meters []string
	var sum int64
	for _, l := range ls {
		meters = append(meters, string(l.Meter))
		sum += l.Cents
	}
	if got, want := strings.Join(meters, ","), ",reads,writes,queries,storage,egress,query_compute"; got != want {
		t.Fatalf("line meters %s, want %s", got, want)
	}
	// 1000 base + reads 2M×0.25=50 + writes 0.8M×1.25=100 + queries 2 packages=200
	// + storage 4 GB-mo×0.25=100 + egress 20 GB×0.09=180 + compute 36000 s×0.000014=50.4→50.
	want := []int64{1000, 50, 100, 200, 100, 180, 50}
	for i, l := range ls {
		if l.Cents != want[i] {
			t.Errorf("line %d (%s) = %d cents, want %d", i, l.Meter, l.Cents, want[i])
		}
	}
	if total, err := ls.TotalCents(); err != nil || total != sum || total != 1680 {
		t.Errorf("TotalCents() = %d, %v, want %d", total, err, 1680)
	}
	if want := "reads: 3000000 reads, 1000000 included; $0.25 per 1000000 reads"; ls[1].Description != want {
		t.Errorf("description %q, want %q", ls[1].Description, want)
	}
}

// TestTotalIsSumOfRoundedLines shows the total is the sum of the rounded
// lines, not the rounded sum of exact amounts.
func TestTotalIsSumOfRoundedLines(t *testing.T) {
	// Each of reads, writes and egress costs 0.4 cents: 0 each, 1.2 cents together.
	u := starterAtAllowance()
	u.Reads += 16_000                // 4000 micros
	u.Writes += 3_200                // 4000 micros
	u.EgressBytes += 400_000_000 / 9 // 44,444,444 bytes → 3999.99996 micros
	ls := mustRate(t, getTier(t, "starter"), u, april)
	exact := Amount{}
	for _, l := range ls[1:] {
		if l.Cents != 0 {
			t.Errorf("%s line = %d cents, want 0", l.Meter, l.Cents)
		}
		exact = exact.Add(l.Amount)
	}
	if c, _ := exact.Cents(); c != 1 {
		t.Fatalf("exact overage sum rounds to %d cents, test expects 1", c)
	}
	if total, _ := ls.TotalCents(); total != 1000 {
		t.Errorf("TotalCents() = %d, want 1000 (sum of rounded lines)", total)
	}
}

func TestRatePartialPeriod(t *testing.T) {
	half := april
	half.End = date(2026, 4, 16) // 15 of 30 days
	starter := getTier(t, "starter")

	ls := mustRate(t, starter, Usage{}, half)
	if ls[0].Cents != 500 || ls[0].Quantity != 15*86400 || !strings.HasSuffix(ls[0].Description, "(prorated 1296000 of 2592000 seconds)") {
		t.Errorf("half-month base = %+v, want 500 cents", ls[0])
	}

	// 2 GB held for 15 days: 1 GB is included for those 15 days, the other
	// GB for 15 days is half a GB-month: $0.125 → 12.5 cents → 13.
	u := Usage{StorageByteSeconds: 2e9 * 15 * 86400}
	l, ok := overage(mustRate(t, starter, u, half), tier.Storage)
	if !ok || l.Included != 1e9*15*86400 || l.Quantity != 1e9*15*86400 || l.Amount.Cmp(Micros(125_000)) != 0 || l.Cents != 13 {
		t.Errorf("half-month storage line = %+v", l)
	}

	// A third of the cycle: the 1M read allowance becomes ceil(333,333.33) = 333,334.
	third := april
	third.Start, third.End = date(2026, 4, 11), date(2026, 4, 21)
	l, ok = overage(mustRate(t, starter, Usage{Reads: 333_335}, third), tier.Reads)
	if !ok || l.Included != 333_334 || l.Quantity != 1 {
		t.Errorf("third-month reads line = %+v, want 333334 included, 1 billed", l)
	}
	if _, ok := overage(mustRate(t, starter, Usage{Reads: 333_334}, third), tier.Reads); ok {
		t.Error("usage equal to the prorated allowance was billed")
	}
	ls = mustRate(t, starter, Usage{}, third)
	if ls[0].Amount.Cmp(frac(10_000_000, 3)) != 0 || ls[0].Cents != 333 {
		t.Errorf("third-month base = %s → %d cents, want 10000000/3 → 333", ls[0].Amount, ls[0].Cents)
	}

	// One second of a 31-day month of enterprise: 200e6 / 2678400 micros → 0 cents.
	march := Month(date(2026, 3, 1))
	march.End = march.Start.Add(time.Second)
	ls = mustRate(t, getTier(t, "enterprise"), Usage{}, march)
	if ls[0].Cents != 0 || ls[0].Amount.Cmp(frac(200_000_000, 31*86400)) != 0 {
		t.Errorf("one-second base = %s → %d", ls[0].Amount, ls[0].Cents)
	}
}

// TestTierChangeMidCycle rates a switch from starter to professional on
// April 11: each span on its own tier; the two base lines add up to the
// prorated fees.
func TestTierChangeMidCycle(t *testing.T) {
	first, second := april, april
	first.End = date(2026, 4, 11)
	second.Start = first.End
	a := mustRate(t, getTier(t, "starter"), Usage{}, first)
	b := mustRate(t, getTier(t, "professional"), Usage{}, second)
	// 10 days of $10 = $3.333… → 333; 20 days of $50 = $33.333… → 3333.
	if a[0].Cents != 333 || b[0].Cents != 3333 {
		t.Errorf("base lines %d + %d, want 333 + 3333", a[0].Cents, b[0].Cents)
	}
	// The same via Prorate: a credit for the unused 20 days of a prepaid starter month.
	credit, err := Prorate(-int64(tier.Dollars(10)), 20*24*time.Hour, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Adjustment("unused starter time", credit)
	if err != nil || l.Cents != -667 || l.Kind != KindAdjustment {
		t.Errorf("Adjustment = %+v, %v, want -667 cents", l, err)
	}
}

func TestAdjustmentRounding(t *testing.T) {
	tests := []struct {
		micros int64
		cents  int64
	}{
		{-4999, 0}, {-5000, -1}, {-5001, -1}, {-15_000, -2}, {-14_999, -1}, {5000, 1}, {4999, 0},
	}
	for _, tt := range tests {
		l, err := Adjustment("x", Micros(tt.micros))
		if err != nil || l.Cents != tt.cents {
			t.Errorf("Adjustment(%d) = %d cents, %v, want %d", tt.micros, l.Cents, err, tt.cents)
		}
	}
	if _, err := Adjustment("x", Micros(math.MaxInt64).mul(1e6)); !errors.Is(err, ErrOverflow) {
		t.Errorf("huge adjustment: %v, want ErrOverflow", err)
	}
}

// Rat2 and mulAmount build a huge amount for overflow tests.
func (a Amount) Rat2() Amount             { return a }
func (a Amount) mulAmount(n int64) Amount { return a.mul(n) }

func TestRateHugeValues(t *testing.T) {
	// The largest usage the type can hold still rates exactly on real prices.
	u := Usage{Reads: math.MaxInt64}
	l, ok := overage(mustRate(t, getTier(t, "starter"), u, april), tier.Reads)
	billed := int64(math.MaxInt64 - 1_000_000)
	if !ok || l.Quantity != billed || l.Amount.Cmp(frac(billed, 4)) != 0 || l.Cents != 230584300921344 {
		t.Errorf("max reads line = %+v", l)
	}

	// A price that overflows int64 cents is an error, never a wrapped number.
	expensive := getTier(t, "starter")
	expensive.Overage.Reads = &tier.Price{Model: tier.PerUnit, Unit: 1, UnitPrice: tier.Dollars(1_000_000)}
	if _, err := Rate(expensive, Usage{Reads: math.MaxInt64}, april); !errors.Is(err, ErrOverflow) {
		t.Errorf("Rate(overflowing reads) = %v, want ErrOverflow", err)
	}
	pack := getTier(t, "starter")
	pack.Overage.Queries = &tier.Price{Model: tier.Package, PackageSize: 1, PackagePrice: math.MaxInt64}
	if _, err := Rate(pack, Usage{Queries: 100_000 + 2}, april); err != nil {
		t.Errorf("two max packages: %v", err) // 2 × MaxInt64 micros fits in cents
	}
	if _, err := Rate(pack, Usage{Queries: 100_000 + 20_000}, april); !errors.Is(err, ErrOverflow) {
		t.Errorf("20,000 max packages: %v, want ErrOverflow", err)
	}

	// Lines that fit alone but not together overflow the total.
	sum := getTier(t, "starter")
	sum.Overage.Reads = &tier.Price{Model: tier.PerUnit, Unit: 1, UnitPrice: tier.Money(math.MaxInt64)}
	sum.Overage.Writes = sum.Overage.Reads
	u = Usage{Reads: 1e6 + 9000, Writes: 200_000 + 9000}
	if _, err := Rate(sum, u, april); !errors.Is(err, ErrOverflow) {
		t.Errorf("Rate(total overflow) = %v, want ErrOverflow", err)
	}
	ls := Lines{{Cents: math.MaxInt64}, {Cents: 1}}
	if _, err := ls.TotalCents(); !errors.Is(err, ErrOverflow) {
		t.Errorf("TotalCents overflow = %v", err)
	}
	ls = Lines{{Cents: math.MinInt64}, {Cents: -1}}
	if _, err := ls.TotalCents(); !errors.Is(err, ErrOverflow) {
		t.Errorf("TotalCents underflow = %v", err)
	}
	ls = Lines{{Cents: math.MaxInt64}, {Cents: -5}, {Cents: 5}}
	if total, err := ls.TotalCents(); err != nil || total != math.MaxInt64 {
		t.Errorf("TotalCents = %d, %v", total, err)
	}

	// A tier allowance beyond what usage can reach saturates instead of failing.
	generous := getTier(t, "starter")
	generous.Included.StorageByteMonths = math.MaxInt64
	if ls := mustRate(t, generous, Usage{StorageByteSeconds: math.MaxInt64}, april); len(ls) != 1 {
		t.Errorf("generous storage allowance billed: %+v", ls)
	}
}

func TestRateErrors(t *testing.T) {
	bad := getTier(t, "starter")
	bad.Limits.RetentionDays = 0
	_, err := Rate(bad, Usage{}, april)
	if err == nil || !errors.Is(err, ErrInvalid) || !errors.Is(err, tier.ErrInvalid) ||
		!strings.Contains(err.Error(), "tier (starter).limits.retention_days: must be positive (got 0)") {
		t.Errorf("invalid tier: %v", err)
	}
	_, err = Rate(getTier(t, "starter"), Usage{EgressBytes: -1}, april)
	if want := "invalid rating input: usage egress: must not be negative (got -1)"; err == nil || err.Error() != want {
		t.Errorf("negative usage: %v, want %s", err, want)
	}
	if _, err := Rate(getTier(t, "starter"), Usage{}, Period{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero period: %v", err)
	}
}

func TestLineJSON(t *testing.T) {
	u := starterAtAllowance()
	u.Reads++
	ls := mustRate(t, getTier(t, "starter"), u, april)
	b, err := json.Marshal(ls[1])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"overage","meter":"reads","model":"per_unit","description":"reads: 1000001 reads, 1000000 included; $0.25 per 1000000 reads","used":1000001,"included":1000000,"quantity":1,"unit":"read","amount_micros":"1/4","cents":0}`
	if string(b) != want {
		t.Errorf("json = %s\nwant %s", b, want)
	}
	var back Line
	if err := json.Unmarshal(b, &back); err != nil || back.Amount.Cmp(frac(1, 4)) != 0 || back.Quantity != 1 {
		t.Errorf("unmarshal = %+v, %v", back, err)
	}
}
