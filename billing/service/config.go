package service

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	agentconfig "github.com/aerolithdb/aerolith/agent/config"
	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/member"
)

// Defaults of `aerolith billing serve`.
const (
	DefaultHTTPAddr     = ":7080"
	DefaultRaftAddr     = ":7081"
	DefaultPeriod       = "month"
	DefaultGrace        = 24 * time.Hour
	DefaultPaymentTerms = 14 * 24 * time.Hour
	DefaultDunningGrace = 7 * 24 * time.Hour
	DefaultUsageBucket  = time.Hour
	DefaultMaxBodyBytes = 4 << 20
)

// Config is everything `aerolith billing serve` can be told. Build it with
// Load (or Default in tests) and check it with Validate.
type Config struct {
	NodeID          string
	DataDir         string
	HTTPAddr        string
	RaftAddr        string
	Advertise       string
	BootstrapExpect int
	Join            []string
	// AdminKeys are the billing admin bearer keys (several allow rotation).
	AdminKeys     []string
	MetricsNoAuth bool
	// Period is "month" or a duration (see ParsePeriod).
	Period string
	// Grace is how long after a period's end its draft is finalized.
	Grace time.Duration
	// PaymentTerms is the time from finalization to the due date.
	PaymentTerms time.Duration
	// DunningGrace is the time after the due date before suspension.
	DunningGrace time.Duration
	// UsageBucket is the ledger's usage aggregation width.
	UsageBucket time.Duration
	// ScheduleInterval is the scheduler's tick; 0 derives it from Period.
	ScheduleInterval time.Duration
	// TiersFile replaces the built-in tier catalog when set.
	TiersFile    string
	LogLevel     string
	LogFormat    string
	MaxBodyBytes int
}

// Default returns the configuration used for options no source sets.
func Default() Config {
	return Config{
		HTTPAddr:     DefaultHTTPAddr,
		RaftAddr:     DefaultRaftAddr,
		Period:       DefaultPeriod,
		Grace:        DefaultGrace,
		PaymentTerms: DefaultPaymentTerms,
		DunningGrace: DefaultDunningGrace,
		UsageBucket:  DefaultUsageBucket,
		LogLevel:     "info",
		LogFormat:    "text",
		MaxBodyBytes: DefaultMaxBodyBytes,
	}
}

// flagValue is the pflag.Value behind every option's flag: it checks the
// syntax on Set and keeps the raw text for Load.
type flagValue struct {
	opt  option
	raw  string
	list []string
}

func (v *flagValue) Set(s string) error {
	var scratch Config
	if err := v.opt.set(&scratch, s); err != nil {
		return err
	}
	if v.opt.kind == kindList {
		v.list = append(v.list, splitList(s)...)
		v.raw = strings.Join(v.list, ",")
		return nil
	}
	v.raw = s
	return nil
}

func (v *flagValue) String() string { return v.raw }

func (v *flagValue) Type() string {
	switch v.opt.kind {
	case kindInt:
		return "int"
	case kindBool:
		return "bool"
	case kindList:
		return "strings"
	case kindDuration:
		return "duration"
	}
	return "string"
}

// RegisterFlags adds one flag per option (plus --config) to fs.
func RegisterFlags(fs *pflag.FlagSet) {
	def := Default()
	fs.String(configOption, "", "YAML file with options (same names as the flags); env "+EnvName(configOption))
	for _, o := range options {
		v := &flagValue{opt: o}
		f := fs.VarPF(v, o.name, "", o.usage+" (env "+EnvName(o.name)+")")
		f.DefValue = o.get(&def)
		if o.kind == kindBool {
			f.NoOptDefVal = "true"
		}
	}
}

// Load builds a Config from defaults, the YAML file (--config or
// AEROLITH_CONFIG), environment variables (looked up with lookupEnv, e.g.
// os.LookupEnv; an empty value counts as unset) and the flags set on fs, in
// increasing precedence. fs may be nil. Load checks syntax; call Validate for
// the rest.
func Load(fs *pflag.FlagSet, lookupEnv func(string) (string, bool)) (Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	env := func(name string) (string, bool) {
		v, ok := lookupEnv(name)
		return v, ok && v != ""
	}
	c := Default()
	path, _ := env(EnvName(configOption))
	if fs != nil && fs.Changed(configOption) {
		path, _ = fs.GetString(configOption)
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := c.applyYAML(data, lookupEnv); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	for _, o := range options {
		if v, ok := env(EnvName(o.name)); ok {
			if err := o.set(&c, v); err != nil {
				return Config{}, fmt.Errorf("%s: %w", EnvName(o.name), err)
			}
		}
	}
	if fs != nil {
		for _, o := range options {
			if f := fs.Lookup(o.name); f != nil && f.Changed {
				if err := o.set(&c, f.Value.String()); err != nil {
					return Config{}, err
				}
			}
		}
	}
	return c, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// applyYAML sets the options of a YAML document; ${NAME} references are
// replaced by environment values first. Unknown keys are errors.
func (c *Config) applyYAML(data []byte, lookupEnv func(string) (string, bool)) error {
	var missing string
	data = envRef.ReplaceAllFunc(data, func(m []byte) []byte {
		v, ok := lookupEnv(string(m[2 : len(m)-1]))
		if !ok && missing == "" {
			missing = string(m[2 : len(m)-1])
		}
		return []byte(v)
	})
	if missing != "" {
		return fmt.Errorf("environment variable %s referenced but not set", missing)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	seen := map[string]string{}
	for key, raw := range doc {
		o, ok := lookup(key)
		if !ok {
			return fmt.Errorf("unknown key %q", key)
		}
		if prev, dup := seen[o.name]; dup {
			return fmt.Errorf("keys %q and %q both set %s", prev, key, o.name)
		}
		seen[o.name] = key
		s, err := yamlScalar(o, raw)
		if err != nil {
			return err
		}
		if err := o.set(c, s); err != nil {
			return err
		}
	}
	return nil
}

// yamlScalar renders a YAML value as the text a flag would carry.
func yamlScalar(o option, v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case int, int64, uint64, bool:
		return fmt.Sprint(v), nil
	case float64:
		return "", fmt.Errorf("%s: %v is not an integer", o.name, v)
	case []any:
		if o.kind != kindList {
			return "", fmt.Errorf("%s: want a single value, not a list", o.name)
		}
		items := make([]string, 0, len(v))
		for _, it := range v {
			switch it.(type) {
			case string, int, int64, uint64:
				items = append(items, fmt.Sprint(it))
			default:
				return "", fmt.Errorf("%s: list items must be strings", o.name)
			}
		}
		return strings.Join(items, ","), nil
	}
	return "", fmt.Errorf("%s: unsupported value of type %T", o.name, v)
}

// Validate checks the configuration and returns the first problem as an
// error that starts with the option's name and says how to fix it. It
// touches the file system only to read the tiers file.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("data-dir: required; set --data-dir to a directory for this replica's data")
	}
	if c.NodeID != "" && !member.ValidID(c.NodeID) {
		return fmt.Errorf("node-id: %q is invalid; use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", c.NodeID)
	}
	if err := checkListen("http-addr", c.HTTPAddr); err != nil {
		return err
	}
	if err := checkListen("raft-addr", c.RaftAddr); err != nil {
		return err
	}
	if _, port, _ := splitHostPort(c.HTTPAddr); c.HTTPAddr == c.RaftAddr && port != 0 {
		return fmt.Errorf("http-addr: %s is also the raft-addr; give them different ports", c.HTTPAddr)
	}
	if c.Advertise != "" && (strings.ContainsAny(c.Advertise, "/ ") || strings.Count(c.Advertise, ":") == 1) {
		return fmt.Errorf("advertise: %q must be a host name or IP without port (the raft and http ports are added)", c.Advertise)
	}
	if c.BootstrapExpect < 0 {
		return errors.New("bootstrap-expect: must be >= 0")
	}
	if c.BootstrapExpect > 1 && len(c.Join) == 0 {
		return fmt.Errorf("join: required with bootstrap-expect %d; list the replicas' addresses (host:port)", c.BootstrapExpect)
	}
	for _, j := range c.Join {
		if _, _, err := splitHostPort(j); err != nil {
			return fmt.Errorf("join: %q: %v; want host:port", j, err)
		}
	}
	if len(c.AdminKeys) == 0 {
		return errors.New("admin-key: required; set --admin-key (or AEROLITH_ADMIN_KEY) to the key billing operators authenticate with")
	}
	for i, k := range c.AdminKeys {
		if len(k) < 16 {
			return fmt.Errorf("admin-key: key %d is %d characters; use at least 16 (e.g. openssl rand -hex 24)", i+1, len(k))
		}
		if strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return fmt.Errorf("admin-key: key %d contains whitespace or control characters", i+1)
		}
	}
	p, err := c.Cycle()
	if err != nil {
		return err
	}
	b := c.UsageBucket
	if b < time.Second || b > time.Hour || b%time.Second != 0 || time.Hour%b != 0 {
		return fmt.Errorf("usage-bucket: %s must be whole seconds dividing one hour (1s to 1h)", FormatDuration(b))
	}
	if p.Every != 0 && p.Every%b != 0 {
		return fmt.Errorf("usage-bucket: %s does not divide the period %s; use a width that does (e.g. 1s)", FormatDuration(b), FormatDuration(p.Every))
	}
	if c.ScheduleInterval != 0 && c.ScheduleInterval < 10*time.Millisecond {
		return fmt.Errorf("schedule-interval: %s is below 10ms", c.ScheduleInterval)
	}
	if c.TiersFile != "" {
		if _, err := os.Stat(c.TiersFile); err != nil {
			return fmt.Errorf("tiers: %v", err)
		}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("log-format: %q is unknown; want text or json", c.LogFormat)
	}
	if c.MaxBodyBytes < 1024 {
		return errors.New("max-body-bytes: must be at least 1024")
	}
	if _, err := c.AdvertiseHost(c.RaftAddr); err != nil {
		return err
	}
	return nil
}

// Schedule returns the scheduler interval: ScheduleInterval, or a quarter
// of the period clamped to [100ms, 1m].
func (c *Config) Schedule() time.Duration {
	if c.ScheduleInterval > 0 {
		return c.ScheduleInterval
	}
	p, err := c.Cycle()
	if err != nil || p.Every == 0 {
		return time.Minute
	}
	return min(max(p.Every/4, 100*time.Millisecond), time.Minute)
}

// Cycle parses Period: "month" (or "monthly") is calendar months in UTC;
// a duration of whole seconds such as 24h, 7d or 5s is fixed cycles
// aligned to the Unix epoch (short ones are for demos and tests).
func (c *Config) Cycle() (ledger.Cycle, error) {
	switch strings.ToLower(strings.TrimSpace(c.Period)) {
	case "month", "monthly":
		return ledger.Cycle{}, nil
	case "":
		return ledger.Cycle{}, errors.New(`period: empty; want "month" or a duration such as 24h or 5s`)
	}
	d, err := ParseDuration(c.Period)
	if err != nil {
		return ledger.Cycle{}, fmt.Errorf(`period: %v (or "month")`, err)
	}
	cy := ledger.Cycle{Every: d}
	if err := cy.Validate(); err != nil {
		return ledger.Cycle{}, err
	}
	return cy, nil
}

// AdvertiseHost returns the host this replica announces for a listener on
// listenAddr, by the agent's rules (see agent/config.Config.AdvertiseHost).
func (c *Config) AdvertiseHost(listenAddr string) (string, error) {
	ac := agentconfig.Config{Advertise: c.Advertise, Join: c.Join}
	return ac.AdvertiseHost(listenAddr)
}

func checkListen(name, addr string) error {
	if addr == "" {
		return fmt.Errorf("%s: required; want host:port such as :7080", name)
	}
	if _, _, err := splitHostPort(addr); err != nil {
		return fmt.Errorf("%s: %q: %v; want host:port such as 127.0.0.1:7080", name, addr, err)
	}
	return nil
}

// splitHostPort is net.SplitHostPort that also checks the port is a number
// in 0-65535.
func splitHostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, errors.New("missing or malformed port")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number in 0-65535", port)
	}
	return host, n, nil
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log-level: %q is unknown; want debug, info, warn or error", s)
}

// Logger returns a slog.Logger writing to w at the configured level and
// format. Call it after Validate.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
