package tier

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// baseFile is a valid two-tier file; the error tests edit it.
const baseFile = `tiers:
  - name: free
    base_price: "0"
    limits: &lim
      storage_bytes: 100MB
      api_calls_per_day: 1k
      api_calls_per_hour: 100
      requests_per_second: 5
      concurrent_connections: 2
      max_query_duration: 5s
      max_collections: 10
      max_documents_per_collection: 10k
      retention_days: 7
    quota_action: block
  - name: starter
    display_name: Starter Plan
    base_price: "$10"
    included:
      reads: 1M
      storage: 1GB
    overage:
      reads:
        model: per_unit
        unit: 1M
        unit_price: "0.25"
      egress:
        model: graduated
        unit: 1GB
        bands:
          - up_to: 1TB
            unit_price: "0.08"
          - unit_price: "0.05"
    limits:
      storage_bytes: 1GB
      api_calls_per_day: 10k
      api_calls_per_hour: 1k
      requests_per_second: 10
      concurrent_connections: 5
      max_query_duration: 10s
      max_collections: 25
      max_documents_per_collection: 1M
      retention_days: 30
    quota_action: warn
`

func mustParse(t *testing.T, s string) Catalog {
	t.Helper()
	c, err := Parse(strings.NewReader(s))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestParseBase(t *testing.T) {
	c := mustParse(t, baseFile)
	if got := c.Names(); !reflect.DeepEqual(got, []string{"free", "starter"}) {
		t.Fatalf("Names() = %v", got)
	}
	free, starter := c.Tiers[0], c.Tiers[1]
	if free.DisplayName != "Free" {
		t.Errorf("default display name = %q, want Free", free.DisplayName)
	}
	if free.Overage != (Overage{}) || free.Included != (Included{}) {
		t.Errorf("free overage/included = %+v %+v, want zero", free.Overage, free.Included)
	}
	if starter.DisplayName != "Starter Plan" || starter.BasePrice != 10_000_000 || starter.QuotaAction != Warn {
		t.Errorf("starter = %q %d %s", starter.DisplayName, starter.BasePrice, starter.QuotaAction)
	}
	if starter.Included != (Included{Reads: 1e6, StorageByteMonths: 1e9}) {
		t.Errorf("starter included = %+v", starter.Included)
	}
	if got := *starter.Overage.Reads; !reflect.DeepEqual(got, Price{Model: PerUnit, Unit: 1e6, UnitPrice: 250_000}) {
		t.Errorf("starter reads price = %+v", got)
	}
	eg := starter.Overage.Egress
	if eg.Model != Graduated || eg.Unit != 1e9 || len(eg.Bands) != 2 || *eg.Bands[0].UpTo != 1e12 ||
		eg.Bands[0].UnitPrice != 80_000 || eg.Bands[1].UpTo != nil || eg.Bands[1].UnitPrice != 50_000 {
		t.Errorf("starter egress price = %+v", eg)
	}
	if starter.Limits.MaxQueryDuration != 10*time.Second || starter.Limits.MaxDocumentsPerCollection != 1e6 {
		t.Errorf("starter limits = %+v", starter.Limits)
	}
}

func TestLoadFileExample(t *testing.T) {
	c, err := LoadFile(filepath.Join("testdata", "tiers.yaml"))
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	team, ok := c.Get("team")
	if !ok || team.BasePrice != Dollars(25) || team.Limits.StorageBytes != 5e9 ||
		team.Included.QueryComputeMs != 180_000_000 || team.Overage.Storage.Model != Volume ||
		len(team.Overage.Egress.Bands) != 3 || team.Overage.Egress.Bands[0].UnitPrice != 85_000 {
		t.Errorf("team = %+v", team)
	}
	hobby, _ := c.Get("hobby")
	if hobby.Included.StorageByteMonths != 250e6 || hobby.QuotaAction != Throttle {
		t.Errorf("hobby = %+v", hobby)
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadFile(filepath.Join(dir, "missing.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrInvalid) {
		t.Errorf("missing file: %v, want a not-exist error", err)
	}
	path := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(path, []byte("tiers: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFile(path)
	if want := path + ": tiers: at least one tier is required"; err == nil || err.Error() != want || !errors.Is(err, ErrInvalid) {
		t.Errorf("LoadFile = %v, want %s", err, want)
	}
}

func TestParseErrors(t *testing.T) {
	const p = "tiers[1] (starter)"
	tests := []struct {
		name      string
		old, new  string // edit of baseFile; old "" means new is the whole file
		want      string
		wantAsSub bool
	}{
		{"empty", "", "", "empty tiers file (want a mapping with a tiers list)", false},
		{"comment only", "", "# nothing\n", "empty tiers file (want a mapping with a tiers list)", false},
		{"root list", "", "- a\n", "tiers file: expected a mapping, got a list", false},
		{"root scalar", "", "hello\n", `tiers file: expected a mapping, got "hello"`, false},
		{"no tiers", "", "{}\n", "tiers: required (a list of tiers)", false},
		{"tiers not list", "", "tiers: 3\n", `tiers: expected a list of tiers, got "3"`, false},
		{"unknown top", "", "tier: []\n", `tiers file: unknown field "tier" (want tiers)`, false},
		{"syntax", "", "tiers: [\n", "did not find expected node content", true},
		{"two docs", "", "tiers: []\n---\ntiers: []\n", "more than one YAML document in tiers file", false},
		{"tier not mapping", "  - name: free\n", "  - 42\n  - name: free\n",
			`tiers[0]: expected a mapping, got "42"`, false},
		{"unknown tier field", "    display_name: Starter Plan\n", "    display_name: Starter Plan\n    colour: red\n",
			p + `: unknown field "colour" (want name, display_name, base_price, included, overage, limits, quota_action)`, false},
		{"duplicate field", "    display_name: Starter Plan\n", "    display_name: Starter Plan\n    display_name: again\n",
			p + ".display_name: duplicate field", false},
		{"unknown price field", "        model: per_unit\n", "        modle: per_unit\n",
			p + `.overage.reads: unknown field "modle" (want model, unit, unit_price, bands, package_size, package_price)`, false},
		{"unknown meter", "      reads:\n        model", "      lookups:\n        model",
			p + `.overage: unknown field "lookups" (want reads, writes, queries, storage, egress, query_compute)`, false},
		{"unknown included", "      reads: 1M\n", "      read: 1M\n",
			p + `.included: unknown field "read" (want reads, writes, queries, storage, egress, query_compute)`, false},
		{"unknown limit", "      retention_days: 30\n", "      retention: 30\n",
			p + `.limits: unknown field "retention" (want storage_bytes, api_calls_per_day, api_calls_per_hour, requests_per_second, concurrent_connections, max_query_duration, max_collections, max_documents_per_collection, retention_days)`, false},
		{"unknown band field", "          - unit_price: \"0.05\"\n", "          - unit_price: \"0.05\"\n            flat: 1\n",
			p + `.overage.egress.bands[1]: unknown field "flat" (want up_to, unit_price)`, false},
		{"unknown model", "model: per_unit", "model: flat",
			p + `.overage.reads.model: unknown model "flat" (want per_unit, graduated, volume or package)`, false},
		{"bad money", `base_price: "$10"`, `base_price: ten`,
			p + `.base_price: invalid amount "ten" (want dollars such as "10", "10.00" or "$0.25", at most 6 decimal places)`, false},
		{"float money exact", `unit_price: "0.25"`, `unit_price: 0.0000001`,
			p + `.overage.reads.unit_price: invalid amount "0.0000001": more than 6 decimal places (amounts are in micro-dollars)`, false},
		{"bad quantity", "reads: 1M\n", "reads: lots\n",
			p + `.included.reads: invalid quantity "lots" (want an integer such as 1000000, 1_000_000 or 1M, optionally with a suffix k, M, G, T, KB, MB, GB, TB, KiB, MiB, GiB or TiB)`, false},
		{"bad up_to", "up_to: 1TB", "up_to: 1.5",
			p + `.overage.egress.bands[0].up_to: invalid quantity "1.5": not a whole number of base units`, false},
		{"bad duration", "max_query_duration: 10s", "max_query_duration: forever",
			p + `.limits.max_query_duration: invalid duration "forever" (want a Go duration such as "30s" or "2m")`, false},
		{"list for scalar", "    quota_action: warn\n", "    quota_action: [warn]\n",
			p + ".quota_action: expected a single value, got a list", false},
		{"scalar for mapping", "    included:\n      reads: 1M\n      storage: 1GB\n", "    included: 1M\n",
			p + `.included: expected a mapping, got "1M"`, false},
		{"bands not list", "        bands:\n", "        bands: 1\n        x:\n",
			p + `.overage.egress.bands: expected a list of bands, got "1"`, true},
		{"alias", "    limits:\n      storage_bytes: 1GB", "    limits: *lim\n    x:\n      storage_bytes: 1GB",
			p + ".limits: aliases are not supported", true},
		{"non-scalar key", "    display_name: Starter Plan\n", "    ? [a]\n    : b\n",
			p + ": keys must be plain strings, got a list", false},
		{"validation", "retention_days: 30", "retention_days: 0",
			p + ".limits.retention_days: must be positive (got 0)", false},
		{"validation duplicate", "name: starter", "name: free",
			`tiers[1] (free).name: duplicate tier name "free" (also tiers[0])`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.new
			if tt.old != "" {
				if !strings.Contains(baseFile, tt.old) {
					t.Fatalf("baseFile lacks %q", tt.old)
				}
				in = strings.Replace(baseFile, tt.old, tt.new, 1)
			}
			_, err := Parse(strings.NewReader(in))
			if err == nil {
				t.Fatalf("Parse succeeded, want %s", tt.want)
			}
			if tt.wantAsSub {
				if !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Parse = %v\nwant it to contain %s", err, tt.want)
				}
			} else if err.Error() != tt.want {
				t.Fatalf("Parse = %v\nwant %s", err, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not match ErrInvalid")
			}
		})
	}
}

func TestParseNullMeansAbsent(t *testing.T) {
	in := strings.Replace(baseFile, "    quota_action: warn\n", "    quota_action: warn\n    overage: ~\n", 1)
	_, err := Parse(strings.NewReader(in))
	if want := "tiers[1] (starter).overage: duplicate field"; err == nil || err.Error() != want {
		t.Fatalf("Parse = %v, want %s", err, want)
	}
	in = strings.Replace(baseFile, "          - up_to: 1TB\n            unit_price: \"0.08\"\n          - unit_price: \"0.05\"\n",
		"          - up_to: 1TB\n            unit_price: \"0.08\"\n          - unit_price: \"0.05\"\n            up_to: null\n", 1)
	c := mustParse(t, in)
	if c.Tiers[1].Overage.Egress.Bands[1].UpTo != nil {
		t.Error("up_to: null should mean unbounded")
	}
}

func TestParseTooLarge(t *testing.T) {
	big := baseFile + "#" + strings.Repeat("x", MaxFileSize) + "\n"
	_, err := Parse(strings.NewReader(big))
	if want := "tiers file larger than 1048576 bytes"; err == nil || err.Error() != want {
		t.Fatalf("Parse = %v, want %s", err, want)
	}
}

func TestParseReportsSeveralProblems(t *testing.T) {
	in := strings.Replace(baseFile, "max_collections: 10\n", "max_collections: ten\n", 1)
	in = strings.Replace(in, "model: per_unit", "modle: per_unit", 1)
	_, err := Parse(strings.NewReader(in))
	want := `tiers[0] (free).limits.max_collections: invalid quantity "ten" (want an integer such as 1000000, 1_000_000 or 1M, optionally with a suffix k, M, G, T, KB, MB, GB, TB, KiB, MiB, GiB or TiB)` + "\n" +
		`tiers[1] (starter).overage.reads: unknown field "modle" (want model, unit, unit_price, bands, package_size, package_price)`
	if err == nil || err.Error() != want {
		t.Fatalf("Parse = %v\nwant %s", err, want)
	}
}

// roundTrip marshals c to YAML, parses it back and checks equality and a
// stable second marshal.
func roundTrip(t *testing.T, c Catalog) {
	t.Helper()
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatalf("yaml.Marshal: %v", err)
	}
	back, err := Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("Parse(yaml.Marshal(c)) = %v\n%s", err, out)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip changed the catalog:\n got %+v\nwant %+v\n%s", back, c, out)
	}
	again, err := yaml.Marshal(back)
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("second marshal differs (%v):\n%s\n---\n%s", err, again, out)
	}
}

func TestRoundTrip(t *testing.T) {
	roundTrip(t, Defaults())
	c, err := LoadFile(filepath.Join("testdata", "tiers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)
	roundTrip(t, mustParse(t, baseFile))
}

func TestJSONRoundTrip(t *testing.T) {
	c := Defaults()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{`"base_price":"200.00"`, `"max_query_duration":"2m0s"`, `"quota_action":"allow_with_overage"`,
		`"unit_price":"0.000014"`, `"model":"volume"`, `"up_to":1000000000000`} {
		if !bytes.Contains(b, []byte(frag)) {
			t.Errorf("JSON lacks %s", frag)
		}
	}
	var back Catalog
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("JSON round trip changed the catalog")
	}
	if err := back.Validate(); err != nil {
		t.Errorf("Validate after JSON round trip: %v", err)
	}
}

func TestUnmarshalYAMLEmbedded(t *testing.T) {
	var cfg struct {
		Pricing Catalog `yaml:"pricing"`
	}
	in := "pricing:\n  " + strings.ReplaceAll(strings.TrimSuffix(baseFile, "\n"), "\n", "\n  ")
	if err := yaml.Unmarshal([]byte(in), &cfg); err != nil {
		t.Fatalf("yaml.Unmarshal: %v", err)
	}
	if len(cfg.Pricing.Tiers) != 2 {
		t.Fatalf("embedded catalog has %d tiers", len(cfg.Pricing.Tiers))
	}
	bad := strings.Replace(in, "retention_days: 30", "retention_days: 0", 1)
	err := yaml.Unmarshal([]byte(bad), &cfg)
	if want := "tiers[1] (starter).limits.retention_days: must be positive (got 0)"; err == nil || err.Error() != want {
		t.Errorf("yaml.Unmarshal = %v, want %s", err, want)
	}
}
