package service

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/settings/settingstest"
)

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	return settingstest.Load(t, "billing", RegisterFlags, Load, args, env)
}

func TestLoadPrecedence(t *testing.T) {
	file := settingstest.WriteFile(t, "billing.yaml", `
data_dir: /file/dir
http-addr: 127.0.0.1:8000
period: 1h
grace: 10m
dunning-grace: 2d
join: [a:1, b:2]
admin-key: ${BILLING_KEY}
`)
	env := map[string]string{"BILLING_KEY": "file-key-0123456789abc"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(*Config)
	}{
		{"defaults", nil, nil, func(*Config) {}},
		{"file", []string{"--config", file}, env, func(c *Config) {
			c.DataDir, c.HTTPAddr, c.Period, c.Grace, c.DunningGrace = "/file/dir", "127.0.0.1:8000", "1h", 10*time.Minute, 48*time.Hour
			c.Join, c.AdminKeys = []string{"a:1", "b:2"}, []string{"file-key-0123456789abc"}
		}},
		{"env over file", []string{"--config", file}, map[string]string{"BILLING_KEY": "k", "AEROLITH_PERIOD": "5s", "AEROLITH_ADMIN_KEY": "k1,k2", "AEROLITH_USAGE_BUCKET": "1s"}, func(c *Config) {
			c.DataDir, c.HTTPAddr, c.Period, c.Grace, c.DunningGrace = "/file/dir", "127.0.0.1:8000", "5s", 10*time.Minute, 48*time.Hour
			c.Join, c.AdminKeys, c.UsageBucket = []string{"a:1", "b:2"}, []string{"k1", "k2"}, time.Second
		}},
		{"flag over env", []string{"--config", file, "--period", "month", "--grace=1h", "--admin-key", "x", "--admin-key", "y"}, map[string]string{"BILLING_KEY": "k", "AEROLITH_PERIOD": "5s"}, func(c *Config) {
			c.DataDir, c.HTTPAddr, c.Period, c.Grace, c.DunningGrace = "/file/dir", "127.0.0.1:8000", "month", time.Hour, 48*time.Hour
			c.Join, c.AdminKeys = []string{"a:1", "b:2"}, []string{"x", "y"}
		}},
		{"snapshot tuning", []string{"--snapshot-threshold", "64", "--snapshot-interval", "50ms"}, map[string]string{"AEROLITH_TRAILING_LOGS": "16"}, func(c *Config) {
			c.SnapshotThreshold, c.SnapshotInterval, c.TrailingLogs = 64, 50*time.Millisecond, 16
		}},
		{"empty env is unset", nil, map[string]string{"AEROLITH_PERIOD": ""}, func(*Config) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := load(t, tc.args, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			want := Default()
			tc.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Load =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	settingstest.CheckLoadErrors(t, []settingstest.LoadError{
		{Name: "bad duration flag", Args: []string{"--grace", "soon"}, Want: "grace"},
		{Name: "negative duration", Args: []string{"--grace=-1s"}, Want: "negative"},
		{Name: "bad int env", Env: map[string]string{"AEROLITH_BOOTSTRAP_EXPECT": "three"}, Want: "AEROLITH_BOOTSTRAP_EXPECT"},
		{Name: "unknown yaml key", File: "foo: 1\n", Want: `unknown key "foo"`},
		{Name: "missing env ref", File: "admin-key: ${NOPE_NOT_SET}\n", Want: "NOPE_NOT_SET"},
		{Name: "list for scalar", File: "period: [a, b]\n", Want: "period"},
	}, load)
}

func TestValidate(t *testing.T) {
	valid := func() Config {
		c := Default()
		c.DataDir = t.TempDir()
		c.AdminKeys = []string{"0123456789abcdef0123"}
		c.InsecureHTTP = true
		return c
	}
	if c := valid(); c.Validate() != nil {
		t.Fatalf("valid config: %v", c.Validate())
	}
	tiers := settingstest.WriteFile(t, "tiers.yaml", "tiers: []")
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no data dir", func(c *Config) { c.DataDir = "" }, "data-dir: required"},
		{"neither tls nor insecure-http", func(c *Config) { c.InsecureHTTP = false }, "tls-cert: required (with tls-key and tls-ca)"},
		{"tls and insecure-http", func(c *Config) { c.TLSCert, c.TLSKey, c.TLSCA = tiers, tiers, tiers }, "insecure-http: cannot be combined"},
		{"tls key missing", func(c *Config) { c.InsecureHTTP, c.TLSCert, c.TLSCA = false, tiers, tiers }, "tls-key: required with TLS"},
		{"tls file missing", func(c *Config) { c.InsecureHTTP, c.TLSCert, c.TLSKey, c.TLSCA = false, tiers, tiers, "/no/ca.crt" }, "tls-ca: stat /no/ca.crt"},
		{"no admin key", func(c *Config) { c.AdminKeys = nil }, "admin-key: required"},
		{"short admin key", func(c *Config) { c.AdminKeys = []string{"short"} }, "at least 16"},
		{"bad node id", func(c *Config) { c.NodeID = "-x" }, "node-id"},
		{"bad http addr", func(c *Config) { c.HTTPAddr = "7080" }, "http-addr"},
		{"same ports", func(c *Config) { c.HTTPAddr, c.RaftAddr = ":9000", ":9000" }, "also the raft-addr"},
		{"bootstrap without join", func(c *Config) { c.BootstrapExpect = 3 }, "join: required"},
		{"bad period", func(c *Config) { c.Period = "fortnightly" }, "period"},
		{"sub-second period", func(c *Config) { c.Period = "1500ms" }, "period"},
		{"bucket not dividing period", func(c *Config) { c.Period = "90s" }, "usage-bucket"},
		{"bucket above an hour", func(c *Config) { c.UsageBucket = 2 * time.Hour }, "usage-bucket"},
		{"missing tiers file", func(c *Config) { c.TiersFile = "/nonexistent/tiers.yaml" }, "tiers"},
		{"bad log level", func(c *Config) { c.LogLevel = "loud" }, "log-level"},
		{"bad log format", func(c *Config) { c.LogFormat = "xml" }, "log-format"},
		{"negative snapshot threshold", func(c *Config) { c.SnapshotThreshold = -1 }, "snapshot-threshold"},
		{"negative trailing logs", func(c *Config) { c.TrailingLogs = -1 }, "trailing-logs"},
		{"snapshot interval below 5ms", func(c *Config) { c.SnapshotInterval = time.Millisecond }, "snapshot-interval: 1ms is below 5ms"},
		{"advertise with port", func(c *Config) { c.Advertise = "10.0.0.1:7080" }, "advertise"},
		{"all interfaces, remote join", func(c *Config) { c.Join = []string{"10.0.0.2:7081"} }, "advertise"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	c := valid()
	c.TiersFile = tiers
	if err := c.Validate(); err != nil {
		t.Fatalf("existing tiers file: %v", err)
	}
	if _, err := New(c, nil); err == nil || !strings.Contains(err.Error(), "tiers") {
		t.Fatalf("New with an empty tiers file = %v, want a tiers error", err)
	}
}

func TestCycleAndSchedule(t *testing.T) {
	tests := []struct {
		period   string
		want     ledger.Cycle
		schedule time.Duration
	}{
		{"month", ledger.Cycle{}, time.Minute},
		{"Monthly", ledger.Cycle{}, time.Minute},
		{"2s", ledger.Cycle{Every: 2 * time.Second}, 500 * time.Millisecond},
		{"1s", ledger.Cycle{Every: time.Second}, 250 * time.Millisecond},
		{"24h", ledger.Cycle{Every: 24 * time.Hour}, time.Minute},
		{"7d", ledger.Cycle{Every: 7 * 24 * time.Hour}, time.Minute},
	}
	for _, tc := range tests {
		c := Config{Period: tc.period}
		got, err := c.Cycle()
		if err != nil || got != tc.want {
			t.Errorf("Cycle(%q) = %v, %v; want %v", tc.period, got, err, tc.want)
		}
		if s := c.Schedule(); s != tc.schedule {
			t.Errorf("Schedule(%q) = %v, want %v", tc.period, s, tc.schedule)
		}
	}
	c := Config{Period: "1s", ScheduleInterval: 20 * time.Millisecond}
	if s := c.Schedule(); s != 20*time.Millisecond {
		t.Errorf("explicit schedule = %v", s)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "14d": 14 * 24 * time.Hour, "1h30m": 90 * time.Minute, "0d": 0} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got, _ := ParseDuration(FormatDuration(want)); got != want {
			t.Errorf("FormatDuration(%v) does not round-trip", want)
		}
	}
	for _, in := range []string{"", "d", "1.5d", "-1d", "soon", "99999999999999999d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", in)
		}
	}
	if got := FormatDuration(48 * time.Hour); got != "2d" {
		t.Errorf("FormatDuration(48h) = %q, want 2d", got)
	}
}

func TestNames(t *testing.T) {
	names := Names()
	for _, want := range []string{"config", "data-dir", "http-addr", "admin-key", "join", "period", "grace", "tiers"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("Names() lacks %q", want)
		}
	}
	if EnvName("dunning-grace") != "AEROLITH_DUNNING_GRACE" {
		t.Errorf("EnvName = %q", EnvName("dunning-grace"))
	}
}
