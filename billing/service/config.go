package service

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/aerolithdb/aerolith/billing/api"
	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/member"
	"github.com/aerolithdb/aerolith/internal/nodetls"
	"github.com/aerolithdb/aerolith/internal/pki"
	"github.com/aerolithdb/aerolith/internal/settings"
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
	// NodeCertTTL is the lifetime of the node certificates billing signs
	// for enrolled nodes (POST /api/v1/clusters/{id}/certificates).
	NodeCertTTL time.Duration
	// UsageBucket is the ledger's usage aggregation width.
	UsageBucket time.Duration
	// ScheduleInterval is the scheduler's tick; 0 derives it from Period.
	ScheduleInterval time.Duration
	// TiersFile replaces the built-in tier catalog when set.
	TiersFile    string
	LogLevel     string
	LogFormat    string
	MaxBodyBytes int
	// AuditLog is the audit log file; "" means <data-dir>/audit/audit.jsonl
	// and AuditOff disables the log (see AuditPath).
	AuditLog string
	// AuditHMACKeyFile, optional, holds the key that HMACs the audit chain.
	AuditHMACKeyFile string
	// TLSCert, TLSKey and TLSCA: billing's certificate, its key and the CA
	// bundle. The API is served over HTTPS; replicas speak mutual TLS on
	// the raft port, which needs node certificates (aerolith cert issue)
	// of one CA. InsecureHTTP serves both in plain text instead; one of
	// the two must be chosen.
	TLSCert         string
	TLSKey          string
	TLSCA           string
	TLSPollInterval time.Duration
	InsecureHTTP    bool
	// SnapshotThreshold, SnapshotInterval and TrailingLogs tune raft
	// snapshots and log compaction of the ledger's store (store.Config),
	// as the agent's options of the same names do; zero keeps the
	// store's defaults.
	SnapshotThreshold int
	SnapshotInterval  time.Duration
	TrailingLogs      int
	// Payment configures crypto payments (see PaymentConfig).
	Payment PaymentConfig
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

		TLSPollInterval: pki.DefaultPollInterval,
		NodeCertTTL:     api.DefaultNodeCertTTL,
	}
}

// TLSFiles returns the TLS settings (see internal/nodetls).
func (c *Config) TLSFiles() nodetls.Files {
	return nodetls.Files{Cert: c.TLSCert, Key: c.TLSKey, CA: c.TLSCA, InsecureHTTP: c.InsecureHTTP, PollInterval: c.TLSPollInterval}
}

// RegisterFlags adds one flag per option (plus --config) to fs.
func RegisterFlags(fs *pflag.FlagSet) { table.RegisterFlags(fs) }

// Load builds a Config from defaults, the YAML file (--config or
// AEROLITH_CONFIG), environment variables (looked up with lookupEnv, e.g.
// os.LookupEnv; an empty value counts as unset) and the flags set on fs, in
// increasing precedence. fs may be nil. Load checks syntax; call Validate for
// the rest.
func Load(fs *pflag.FlagSet, lookupEnv func(string) (string, bool)) (Config, error) {
	return table.Load(fs, lookupEnv)
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
	if c.NodeCertTTL < api.MinNodeCertTTL {
		return fmt.Errorf("node-cert-ttl: %s is too short; use %s or more (default %s)", c.NodeCertTTL, api.MinNodeCertTTL, api.DefaultNodeCertTTL)
	}
	if err := settings.CheckListeners(c.HTTPAddr, c.RaftAddr, "7080"); err != nil {
		return err
	}
	if err := settings.CheckAdvertiseSyntax(c.Advertise); err != nil {
		return err
	}
	if err := settings.CheckJoin(c.BootstrapExpect, c.Join, "replicas"); err != nil {
		return err
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
	if err := c.TLSFiles().Validate(); err != nil {
		return err
	}
	if err := settings.CheckAudit(c.AuditLog, AuditOff, c.AuditHMACKeyFile); err != nil {
		return err
	}
	if _, err := settings.ParseLevel(c.LogLevel); err != nil {
		return err
	}
	if err := settings.CheckLogFormat(c.LogFormat); err != nil {
		return err
	}
	if c.MaxBodyBytes < 1024 {
		return errors.New("max-body-bytes: must be at least 1024")
	}
	if c.SnapshotThreshold < 0 || c.TrailingLogs < 0 || c.SnapshotInterval < 0 {
		return errors.New("snapshot-threshold, snapshot-interval, trailing-logs: must not be negative")
	}
	if c.SnapshotInterval != 0 && c.SnapshotInterval < 5*time.Millisecond {
		return fmt.Errorf("snapshot-interval: %s is below 5ms", c.SnapshotInterval)
	}
	if _, err := c.AdvertiseHost(c.RaftAddr); err != nil {
		return err
	}
	if _, err := c.PaymentSettings(); err != nil {
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
// listenAddr, by the agent's rules (see settings.AdvertiseHost).
func (c *Config) AdvertiseHost(listenAddr string) (string, error) {
	return settings.AdvertiseHost(c.Advertise, c.Join, listenAddr)
}

// Logger returns a slog.Logger writing to w at the configured level and
// format. Call it after Validate.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	return settings.NewLogger(w, c.LogLevel, c.LogFormat)
}

// AuditOff is the audit-log value that disables the audit log.
const AuditOff = settings.AuditOff

// AuditPath returns the audit log file, "" when the log is off.
func (c *Config) AuditPath() string { return settings.AuditPath(c.DataDir, c.AuditLog) }
