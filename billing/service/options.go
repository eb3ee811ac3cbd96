package service

import (
	"time"

	"github.com/aerolithdb/aerolith/internal/settings"
)

// table is the one table of names of `aerolith billing serve`. Flag, env
// var and YAML key are all derived from name, exactly as for the agent.
var table = settings.Table[Config]{Default: Default, Options: []settings.Option[Config]{
	{Name: "node-id", Usage: "stable id of this replica; default: read from <data-dir>/node-id, generated and stored there on first start", Field: func(c *Config) any { return &c.NodeID }},
	{Name: "data-dir", Usage: "directory holding the raft log, snapshots and the ledger (required)", Field: func(c *Config) any { return &c.DataDir }},
	{Name: "http-addr", Usage: "listen address of the billing HTTP API", Field: func(c *Config) any { return &c.HTTPAddr }},
	{Name: "raft-addr", Usage: "listen address for raft and internal replica traffic", Field: func(c *Config) any { return &c.RaftAddr }},
	{Name: "advertise", Usage: "host other replicas and clients use to reach this one (announced with the raft and http ports); default: the listen host, or 127.0.0.1 for loopback-only setups", Field: func(c *Config) any { return &c.Advertise }},
	{Name: "bootstrap-expect", Usage: "form a new replica set once this many replicas (this one included) know each other; 0 joins an existing set or starts a single replica", Field: func(c *Config) any { return &c.BootstrapExpect }},
	{Name: "join", Usage: "comma-separated raft or http addresses (host:port) of billing replicas; this replica's own address may be included", Field: func(c *Config) any { return &c.Join }},
	{Name: "admin-key", Usage: "billing admin bearer key(s), comma-separated to allow rotation (required)", Field: func(c *Config) any { return &c.AdminKeys }},
	{Name: "metrics-no-auth", Usage: "serve /metrics without authentication (for scrapers without a key)", Field: func(c *Config) any { return &c.MetricsNoAuth }},
	{Name: "period", Usage: `billing period: "month" (calendar months, UTC) or a duration such as 24h or 5s (short periods are for demos and tests)`, Field: func(c *Config) any { return &c.Period }},
	{Name: "grace", Usage: "time after a period ends before its draft invoice is finalized (late usage still counts)", Field: func(c *Config) any { return &c.Grace }},
	{Name: "node-cert-ttl", Usage: "lifetime of the node certificates billing signs for enrolled nodes (agents with --tls-bootstrap renew at half-life)", Field: func(c *Config) any { return &c.NodeCertTTL }},
	{Name: "payment-terms", Usage: "time from finalization to an invoice's due date", Field: func(c *Config) any { return &c.PaymentTerms }},
	{Name: "dunning-grace", Usage: "time after the due date before a tenant with an unpaid invoice is suspended", Field: func(c *Config) any { return &c.DunningGrace }},
	{Name: "usage-bucket", Usage: "width of the usage aggregates; must divide the period and one hour (use 1s for periods of seconds); every replica must use the same", Field: func(c *Config) any { return &c.UsageBucket }},
	{Name: "schedule-interval", Usage: "how often the leader runs the billing cycle scheduler; default: a quarter of the period, between 100ms and 1m", Field: func(c *Config) any { return &c.ScheduleInterval }},
	{Name: "tiers", Usage: "YAML tiers file replacing the built-in tier catalog (see billing/tier); default: the built-in tiers", Field: func(c *Config) any { return &c.TiersFile }},
	{Name: "log-level", Usage: "debug, info, warn or error", Field: func(c *Config) any { return &c.LogLevel }},
	{Name: "log-format", Usage: "text or json", Field: func(c *Config) any { return &c.LogFormat }},
	{Name: "max-body-bytes", Usage: "largest accepted HTTP request body, in bytes", Field: func(c *Config) any { return &c.MaxBodyBytes }},
	{Name: "audit-log", Usage: "audit log file (hash-chained JSON lines: tenant, key, cluster and invoice changes, refused credentials, dunning suspensions); default <data-dir>/audit/audit.jsonl; \"off\" disables it (not recommended)", Field: func(c *Config) any { return &c.AuditLog }},
	{Name: "audit-hmac-key-file", Usage: "file holding a key (16+ bytes) that HMACs the audit log's chain, so only its holder can rewrite the log undetected; keep a copy off this host to verify it", Field: func(c *Config) any { return &c.AuditHMACKeyFile }},
	{Name: "tls-cert", Usage: "certificate file (PEM, from aerolith cert issue): serves the API over HTTPS; a node certificate also secures the raft port between replicas (mutual TLS); with --tls-key and --tls-ca, or pass --insecure-http", Field: func(c *Config) any { return &c.TLSCert }},
	{Name: "tls-key", Usage: "private key file of --tls-cert (PEM)", Field: func(c *Config) any { return &c.TLSKey }},
	{Name: "tls-ca", Usage: "CA bundle file (PEM, ca.crt): replicas must present a node certificate it signed", Field: func(c *Config) any { return &c.TLSCA }},
	{Name: "tls-poll-interval", Usage: "how often the TLS files are checked for changes (SIGHUP reloads them at once)", Field: func(c *Config) any { return &c.TLSPollInterval }},
	{Name: "snapshot-threshold", Usage: "raft entries since the last snapshot that trigger a new one (and compact the log); 0: the store's default (8192)", Field: func(c *Config) any { return &c.SnapshotThreshold }},
	{Name: "snapshot-interval", Usage: "how often the snapshot threshold is checked; 0: the store's default (30s)", Field: func(c *Config) any { return &c.SnapshotInterval }},
	{Name: "trailing-logs", Usage: "raft entries kept after a snapshot for slow replicas to catch up from; 0: the store's default (10240)", Field: func(c *Config) any { return &c.TrailingLogs }},
	{Name: "insecure-http", Usage: "serve plain HTTP and plain raft without TLS (keys and data travel unencrypted); required when no TLS files are given", Field: func(c *Config) any { return &c.InsecureHTTP }},
}}

// EnvName returns the environment variable of an option name:
// EnvName("admin-key") = "AEROLITH_ADMIN_KEY".
func EnvName(name string) string { return settings.EnvName(name) }

// Names returns every option name in table order (for docs and tests).
func Names() []string { return table.Names() }

// ParseDuration parses a Go duration ("90s", "1h30m") or a whole number of
// days ("14d"). Negative durations are rejected.
func ParseDuration(s string) (time.Duration, error) { return settings.ParseDuration(s) }

// FormatDuration renders d the way ParseDuration reads it, using days for
// whole days.
func FormatDuration(d time.Duration) string { return settings.FormatDuration(d) }
