package tier

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultsValidate(t *testing.T) {
	c := Defaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("Defaults().Validate() = %v, want nil", err)
	}
	if got, want := strings.Join(c.Names(), ","), "free,starter,professional,enterprise"; got != want {
		t.Errorf("Defaults().Names() = %s, want %s", got, want)
	}
	for _, tr := range c.Tiers {
		if err := tr.Validate(); err != nil {
			t.Errorf("%s.Validate() = %v", tr.Name, err)
		}
	}
	// The design brief's figures.
	want := map[string]struct {
		price                 Money
		perDay, storage       int64
		rps, conns, retention int64
	}{
		"free":         {0, 1000, 100e6, 5, 2, 7},
		"starter":      {Dollars(10), 10_000, 1e9, 10, 5, 30},
		"professional": {Dollars(50), 100_000, 10e9, 100, 25, 90},
		"enterprise":   {Dollars(200), 1_000_000, 100e9, 1000, 100, 365},
	}
	for name, w := range want {
		tr, ok := c.Get(name)
		if !ok {
			t.Fatalf("Get(%q) not found", name)
		}
		l := tr.Limits
		if tr.BasePrice != w.price || l.APICallsPerDay != w.perDay || l.StorageBytes != w.storage ||
			l.RequestsPerSecond != w.rps || l.ConcurrentConnections != w.conns || l.RetentionDays != w.retention {
			t.Errorf("%s = price %s limits %+v, want %+v", name, tr.BasePrice, l, w)
		}
	}
	free, _ := c.Get("free")
	if free.QuotaAction != Block || free.Overage != (Overage{}) {
		t.Errorf("free tier: action %s overage %+v, want block and no overage prices", free.QuotaAction, free.Overage)
	}
}

func TestGetReturnsCopy(t *testing.T) {
	c := Defaults()
	a, _ := c.Get("enterprise")
	*a.Overage.Reads.Bands[0].UpTo = 1
	a.Overage.Reads.Bands[1].UnitPrice = 1
	b, _ := c.Get("enterprise")
	if *b.Overage.Reads.Bands[0].UpTo == 1 || b.Overage.Reads.Bands[1].UnitPrice == 1 {
		t.Error("modifying a tier from Get changed the catalog")
	}
	if _, ok := c.Get("platinum"); ok {
		t.Error(`Get("platinum") found a tier`)
	}
	cl := c.Clone()
	cl.Tiers[3].Overage.Storage.Bands[0].UnitPrice = 7
	if c.Tiers[3].Overage.Storage.Bands[0].UnitPrice == 7 {
		t.Error("modifying a Clone changed the original")
	}
}

func ptr(v int64) *int64 { return &v }

func TestTierValidateErrors(t *testing.T) {
	const p = "tiers[1] (starter)"
	tests := []struct {
		name   string
		mutate func(*Tier)
		want   string
	}{
		{"empty name", func(t *Tier) { t.Name = "" },
			"tiers[1].name: required (lowercase letters, digits, '-' or '_', starting with a letter, at most 63 characters)"},
		{"bad name", func(t *Tier) { t.Name = "Big Tier" },
			`tiers[1] (Big Tier).name: invalid tier name "Big Tier" (want lowercase letters, digits, '-' or '_', starting with a letter, at most 63 characters)`},
		{"long name", func(t *Tier) { t.Name = "a" + strings.Repeat("b", 63) },
			`tiers[1] (a` + strings.Repeat("b", 63) + `).name: invalid tier name "a` + strings.Repeat("b", 63) + `" (want lowercase letters, digits, '-' or '_', starting with a letter, at most 63 characters)`},
		{"display name", func(t *Tier) { t.DisplayName = " " }, p + ".display_name: required"},
		{"negative base", func(t *Tier) { t.BasePrice = -1 }, p + ".base_price: must not be negative (got -0.000001)"},
		{"negative included", func(t *Tier) { t.Included.EgressBytes = -5 }, p + ".included.egress: must not be negative (got -5)"},
		{"missing overage", func(t *Tier) { t.Overage.QueryCompute = nil },
			p + ".overage.query_compute: required when quota_action is allow_with_overage (usage above the included amount is billed)"},
		{"no model", func(t *Tier) { t.Overage.Reads.Model = "" },
			p + ".overage.reads.model: required (want per_unit, graduated, volume or package)"},
		{"unknown model", func(t *Tier) { t.Overage.Reads.Model = "flat" },
			p + `.overage.reads.model: unknown model "flat" (want per_unit, graduated, volume or package)`},
		{"zero unit", func(t *Tier) { t.Overage.Reads.Unit = 0 },
			p + ".overage.reads.unit: must be positive (base units one unit_price buys, e.g. 1000000; got 0)"},
		{"negative unit price", func(t *Tier) { t.Overage.Reads.UnitPrice = -10 },
			p + ".overage.reads.unit_price: must not be negative (got -0.00001)"},
		{"per_unit with bands", func(t *Tier) { t.Overage.Reads.Bands = []Band{{UnitPrice: 1}} },
			p + ".overage.reads.bands: not allowed with model per_unit"},
		{"per_unit with package_size", func(t *Tier) { t.Overage.Reads.PackageSize = 5 },
			p + ".overage.reads.package_size: not allowed with model per_unit"},
		{"per_unit with package_price", func(t *Tier) { t.Overage.Reads.PackagePrice = 5 },
			p + ".overage.reads.package_price: not allowed with model per_unit"},
		{"package size", func(t *Tier) { t.Overage.Queries.PackageSize = 0 },
			p + ".overage.queries.package_size: must be positive (base units per package, e.g. 1000000; got 0)"},
		{"package price", func(t *Tier) { t.Overage.Queries.PackagePrice = -1 },
			p + ".overage.queries.package_price: must not be negative (got -0.000001)"},
		{"package with unit", func(t *Tier) { t.Overage.Queries.Unit = 1 },
			p + ".overage.queries.unit: not allowed with model package"},
		{"package with unit_price", func(t *Tier) { t.Overage.Queries.UnitPrice = 1 },
			p + ".overage.queries.unit_price: not allowed with model package"},
		{"package with bands", func(t *Tier) { t.Overage.Queries.Bands = []Band{{}} },
			p + ".overage.queries.bands: not allowed with model package"},
		{"graduated without bands", func(t *Tier) { t.Overage.Egress.Model = Graduated },
			p + ".overage.egress.unit_price: not allowed with model graduated (set unit_price on each of bands)\n" +
				p + ".overage.egress.bands: at least one band is required for model graduated"},
		{"volume without bands", func(t *Tier) { t.Overage.Egress = &Price{Model: Volume, Unit: 1} },
			p + ".overage.egress.bands: at least one band is required for model volume"},
		{"graduated with package", func(t *Tier) {
			t.Overage.Egress = &Price{Model: Graduated, Unit: 1, PackageSize: 1, PackagePrice: 1, Bands: []Band{{}}}
		}, p + ".overage.egress.package_size: not allowed with model graduated\n" +
			p + ".overage.egress.package_price: not allowed with model graduated"},
		{"graduated zero unit", func(t *Tier) { t.Overage.Egress = &Price{Model: Graduated, Bands: []Band{{}}} },
			p + ".overage.egress.unit: must be positive (base units one unit_price buys, e.g. 1000000; got 0)"},
		{"last band bounded", func(t *Tier) {
			t.Overage.Egress = &Price{Model: Graduated, Unit: 1, Bands: []Band{{UpTo: ptr(10)}}}
		}, p + ".overage.egress.bands[0].up_to: must be omitted on the last band (it is unbounded)"},
		{"middle band unbounded", func(t *Tier) {
			t.Overage.Egress = &Price{Model: Volume, Unit: 1, Bands: []Band{{UpTo: ptr(10)}, {}, {}}}
		}, p + ".overage.egress.bands[1].up_to: required on every band but the last"},
		{"band not ascending", func(t *Tier) {
			t.Overage.Egress = &Price{Model: Graduated, Unit: 1, Bands: []Band{{UpTo: ptr(10)}, {UpTo: ptr(10)}, {}}}
		}, p + ".overage.egress.bands[1].up_to: must be greater than bands[0].up_to (got 10 <= 10)"},
		{"band zero", func(t *Tier) {
			t.Overage.Egress = &Price{Model: Graduated, Unit: 1, Bands: []Band{{UpTo: ptr(0)}, {}}}
		}, p + ".overage.egress.bands[0].up_to: must be positive (got 0)"},
		{"band price", func(t *Tier) {
			t.Overage.Egress = &Price{Model: Graduated, Unit: 1, Bands: []Band{{UpTo: ptr(1)}, {UnitPrice: -1}}}
		}, p + ".overage.egress.bands[1].unit_price: must not be negative (got -0.000001)"},
		{"limit storage", func(t *Tier) { t.Limits.StorageBytes = 0 }, p + ".limits.storage_bytes: must be positive (got 0)"},
		{"limit per day", func(t *Tier) { t.Limits.APICallsPerDay = -1 }, p + ".limits.api_calls_per_day: must be positive (got -1)"},
		{"limit per hour", func(t *Tier) { t.Limits.APICallsPerHour = 0 }, p + ".limits.api_calls_per_hour: must be positive (got 0)"},
		{"hour above day", func(t *Tier) { t.Limits.APICallsPerHour = 20_000 },
			p + ".limits.api_calls_per_hour: must not exceed api_calls_per_day (got 20000 > 10000)"},
		{"limit rps", func(t *Tier) { t.Limits.RequestsPerSecond = 0 }, p + ".limits.requests_per_second: must be positive (got 0)"},
		{"limit conns", func(t *Tier) { t.Limits.ConcurrentConnections = 0 }, p + ".limits.concurrent_connections: must be positive (got 0)"},
		{"limit duration", func(t *Tier) { t.Limits.MaxQueryDuration = -1e9 }, p + ".limits.max_query_duration: must be positive (got -1s)"},
		{"limit collections", func(t *Tier) { t.Limits.MaxCollections = 0 }, p + ".limits.max_collections: must be positive (got 0)"},
		{"limit docs", func(t *Tier) { t.Limits.MaxDocumentsPerCollection = 0 }, p + ".limits.max_documents_per_collection: must be positive (got 0)"},
		{"limit retention", func(t *Tier) { t.Limits.RetentionDays = 0 }, p + ".limits.retention_days: must be positive (got 0)"},
		{"no action", func(t *Tier) { t.QuotaAction = "" }, p + ".quota_action: required (want block, throttle, allow_with_overage or warn)"},
		{"unknown action", func(t *Tier) { t.QuotaAction = "deny" },
			p + `.quota_action: unknown quota action "deny" (want block, throttle, allow_with_overage or warn)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.mutate(&c.Tiers[1])
			err := c.Validate()
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate() = %v\nwant %s", err, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate() error does not match ErrInvalid")
			}
		})
	}
}

func TestTierValidateStandalone(t *testing.T) {
	tr, _ := Defaults().Get("starter")
	tr.Limits.RetentionDays = 0
	err := tr.Validate()
	if want := "tier (starter).limits.retention_days: must be positive (got 0)"; err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %s", err, want)
	}
}

func TestQuotaActionsWithoutOverage(t *testing.T) {
	// Only allow_with_overage demands a price for every meter.
	for _, a := range []QuotaAction{Block, Throttle, Warn} {
		c := Defaults()
		c.Tiers[1].QuotaAction = a
		c.Tiers[1].Overage.Egress = nil
		if err := c.Validate(); err != nil {
			t.Errorf("quota action %s without egress price: Validate() = %v, want nil", a, err)
		}
	}
}

func TestCatalogValidateErrors(t *testing.T) {
	if err := (Catalog{}).Validate(); err == nil || err.Error() != "tiers: at least one tier is required" {
		t.Errorf("empty catalog: Validate() = %v", err)
	}
	c := Defaults()
	c.Tiers = append(c.Tiers, c.Tiers[1])
	want := `tiers[4] (starter).name: duplicate tier name "starter" (also tiers[1])`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("duplicate: Validate() = %v, want %s", err, want)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Defaults()
	c.Tiers[0].Limits.RetentionDays = 0
	c.Tiers[3].QuotaAction = "x"
	err := c.Validate()
	want := "tiers[0] (free).limits.retention_days: must be positive (got 0)\n" +
		`tiers[3] (enterprise).quota_action: unknown quota action "x" (want block, throttle, allow_with_overage or warn)`
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v\nwant %s", err, want)
	}
	// The number of problems listed is bounded.
	c = Defaults()
	for i := range c.Tiers {
		c.Tiers[i].Limits = Limits{}
	}
	lines := strings.Split(c.Validate().Error(), "\n")
	if len(lines) != maxReported+1 || lines[maxReported] != "and 16 more problems" {
		t.Errorf("got %d lines ending %q, want %d ending %q", len(lines), lines[len(lines)-1], maxReported+1, "and 16 more problems")
	}
}
