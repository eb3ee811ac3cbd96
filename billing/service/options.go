package service

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// kind is the type of an option's value.
type kind int

const (
	kindString kind = iota
	kindInt
	kindBool
	kindList     // comma-separated on flags and env, a YAML sequence or string in files
	kindDuration // a Go duration, plus a "d" (day) suffix: 90s, 15m, 36h, 14d
)

// option is one row of the table every source (flags, env, YAML) shares.
type option struct {
	name  string // flag name; env AEROLITH_<NAME>; YAML key (dashes or underscores)
	usage string
	kind  kind
	field func(*Config) any // *string, *int, *bool, *[]string or *time.Duration
}

// options is the one table of names of `aerolith billing serve`. Flag, env
// var and YAML key are all derived from name, exactly as for the agent.
var options = []option{
	{"node-id", "stable id of this replica; default: read from <data-dir>/node-id, generated and stored there on first start", kindString, func(c *Config) any { return &c.NodeID }},
	{"data-dir", "directory holding the raft log, snapshots and the ledger (required)", kindString, func(c *Config) any { return &c.DataDir }},
	{"http-addr", "listen address of the billing HTTP API", kindString, func(c *Config) any { return &c.HTTPAddr }},
	{"raft-addr", "listen address for raft and internal replica traffic", kindString, func(c *Config) any { return &c.RaftAddr }},
	{"advertise", "host other replicas and clients use to reach this one (announced with the raft and http ports); default: the listen host, or 127.0.0.1 for loopback-only setups", kindString, func(c *Config) any { return &c.Advertise }},
	{"bootstrap-expect", "form a new replica set once this many replicas (this one included) know each other; 0 joins an existing set or starts a single replica", kindInt, func(c *Config) any { return &c.BootstrapExpect }},
	{"join", "comma-separated raft or http addresses (host:port) of billing replicas; this replica's own address may be included", kindList, func(c *Config) any { return &c.Join }},
	{"admin-key", "billing admin bearer key(s), comma-separated to allow rotation (required)", kindList, func(c *Config) any { return &c.AdminKeys }},
	{"metrics-no-auth", "serve /metrics without authentication (for scrapers without a key)", kindBool, func(c *Config) any { return &c.MetricsNoAuth }},
	{"period", `billing period: "month" (calendar months, UTC) or a duration such as 24h or 5s (short periods are for demos and tests)`, kindString, func(c *Config) any { return &c.Period }},
	{"grace", "time after a period ends before its draft invoice is finalized (late usage still counts)", kindDuration, func(c *Config) any { return &c.Grace }},
	{"payment-terms", "time from finalization to an invoice's due date", kindDuration, func(c *Config) any { return &c.PaymentTerms }},
	{"dunning-grace", "time after the due date before a tenant with an unpaid invoice is suspended", kindDuration, func(c *Config) any { return &c.DunningGrace }},
	{"usage-bucket", "width of the usage aggregates; must divide the period and one hour (use 1s for periods of seconds); every replica must use the same", kindDuration, func(c *Config) any { return &c.UsageBucket }},
	{"schedule-interval", "how often the leader runs the billing cycle scheduler; default: a quarter of the period, between 100ms and 1m", kindDuration, func(c *Config) any { return &c.ScheduleInterval }},
	{"tiers", "YAML tiers file replacing the built-in tier catalog (see billing/tier); default: the built-in tiers", kindString, func(c *Config) any { return &c.TiersFile }},
	{"log-level", "debug, info, warn or error", kindString, func(c *Config) any { return &c.LogLevel }},
	{"log-format", "text or json", kindString, func(c *Config) any { return &c.LogFormat }},
	{"max-body-bytes", "largest accepted HTTP request body, in bytes", kindInt, func(c *Config) any { return &c.MaxBodyBytes }},
}

// configOption names the option that points at the YAML file. It is read
// from flags and env only.
const configOption = "config"

// EnvName returns the environment variable of an option name:
// EnvName("admin-key") = "AEROLITH_ADMIN_KEY".
func EnvName(name string) string {
	return "AEROLITH_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Names returns every option name in table order (for docs and tests).
func Names() []string {
	names := []string{configOption}
	for _, o := range options {
		names = append(names, o.name)
	}
	return names
}

// lookup returns the option called name (dashes or underscores, any case).
func lookup(name string) (option, bool) {
	name = strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	for _, o := range options {
		if o.name == name {
			return o, true
		}
	}
	return option{}, false
}

// set parses s into the option's field of c.
func (o option) set(c *Config, s string) error {
	s = strings.TrimSpace(s)
	switch p := o.field(c).(type) {
	case *string:
		*p = s
	case *int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%s: %q is not an integer", o.name, s)
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%s: %q is not a boolean (want true or false)", o.name, s)
		}
		*p = b
	case *[]string:
		*p = splitList(s)
	case *time.Duration:
		d, err := ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%s: %v", o.name, err)
		}
		*p = d
	default:
		panic(fmt.Sprintf("service: option %s has unsupported field type %T", o.name, p))
	}
	return nil
}

// get renders the option's field of c as it would be written on a flag.
func (o option) get(c *Config) string {
	switch p := o.field(c).(type) {
	case *string:
		return *p
	case *int:
		return strconv.Itoa(*p)
	case *bool:
		return strconv.FormatBool(*p)
	case *[]string:
		return strings.Join(*p, ",")
	case *time.Duration:
		return FormatDuration(*p)
	}
	return ""
}

// splitList splits a comma- or whitespace-separated list, dropping empty
// items.
func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(f) == 0 {
		return nil
	}
	return f
}

// ParseDuration parses a Go duration ("90s", "1h30m") or a whole number of
// days ("14d"). Negative durations are rejected.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration; want e.g. 30s, 15m, 36h or 14d")
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok && days != "" && strings.Trim(days, "0123456789") == "" {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n > int64(1<<62/(24*time.Hour)) {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration; want e.g. 30s, 15m, 36h or 14d", s)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// FormatDuration renders d the way ParseDuration reads it, using days for
// whole days.
func FormatDuration(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}
