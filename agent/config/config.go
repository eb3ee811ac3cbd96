// Package config is the node agent's configuration: one table of option names
// shared by command-line flags (--bootstrap-expect), environment variables
// (AEROLITH_BOOTSTRAP_EXPECT) and a YAML file given with --config or
// AEROLITH_CONFIG (keys "bootstrap-expect" or "bootstrap_expect").
//
// Precedence, highest first: flag, environment, file, default. An environment
// variable set to the empty string counts as unset. The file may reference
// environment variables as ${NAME}; unknown keys in it are errors.
//
// Authentication: an agent needs --admin-key, or --insecure-no-auth to run
// without authentication (every caller is then admin of the default tenant;
// meant for local testing). /metrics needs a key too unless --metrics-no-auth.
//
// Managed mode: with --billing-url the agent is managed by the billing
// service: it needs --enrollment-token (the cluster's token from `POST
// /api/v1/clusters`), registers its node, enforces its tenants' signed
// policies (refreshed every --policy-refresh; --billing-public-key pins the
// policy signing key, base64 of the 32-byte ed25519 key, instead of
// trusting the key billing serves on first contact) and meters usage in
// windows of --meter-window.
//
// TLS: --tls-cert, --tls-key and --tls-ca (a node certificate from
// `aerolith cert issue` and the cluster's CA bundle) serve the data API
// over HTTPS and secure the raft port with mutual TLS; --insecure-http
// serves both in plain text instead. One of the two is required; or
// --tls-bootstrap (managed agents): the node makes its key in
// <data-dir>/tls and obtains its certificate and the cluster's CA bundle
// from billing through the enrollment token, renewing it at half-life.
//
// Discovery: --discover finds the members instead of --join: "billing"
// (billing's node registry) or cloud tags ("provider=aws region=R
// tag_key=K tag_value=V"); see agent/discover. With --bootstrap-expect N
// the node forms a new cluster with the N nodes found; without it, it
// joins the running cluster through the members found.
//
// Node id: when --node-id is empty the agent reads <data-dir>/node-id, or
// generates an id on first start and stores it there, so a restarted node
// keeps its identity.
package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/aerolithdb/aerolith/agent/discover"
	"github.com/aerolithdb/aerolith/internal/member"
	"github.com/aerolithdb/aerolith/internal/nodetls"
	"github.com/aerolithdb/aerolith/internal/pki"
	"github.com/aerolithdb/aerolith/internal/settings"
)

// Defaults.
const (
	DefaultHTTPAddr         = ":7070"
	DefaultRaftAddr         = ":7071"
	DefaultMaxDocumentBytes = 1 << 20
	DefaultMaxBodyBytes     = 2 << 20
	DefaultMeterWindow      = 10 * time.Second
	DefaultPolicyRefresh    = 30 * time.Second
)

// Config is everything `aerolith agent` can be told. Build it with Load (or
// Default for tests) and check it with Validate.
type Config struct {
	NodeID          string
	DataDir         string
	HTTPAddr        string
	RaftAddr        string
	Advertise       string
	BootstrapExpect int
	Join            []string
	Discover        string
	AdminKey        string
	InsecureNoAuth  bool
	MetricsNoAuth   bool
	// BillingURL is the billing service's base URL (several replicas
	// separated by commas); set, it makes the agent managed.
	BillingURL string
	// EnrollmentToken is the cluster's enrollment token (required with
	// BillingURL).
	EnrollmentToken string
	// BillingPublicKey, optional, pins billing's policy signing key:
	// base64 (standard or URL alphabet, padded or not) of the raw 32-byte
	// ed25519 public key.
	BillingPublicKey string
	// MeterWindow is the metering window.
	MeterWindow time.Duration
	// PolicyRefresh is the mean interval between policy refreshes.
	PolicyRefresh time.Duration
	LogLevel      string
	LogFormat     string
	// TLSCert, TLSKey and TLSCA are the node certificate, its key and the
	// cluster's CA bundle: HTTPS for the data API and mutual TLS on the
	// raft port. InsecureHTTP serves both in plain text instead; one of
	// the two must be chosen.
	TLSCert string
	TLSKey  string
	TLSCA   string
	// TLSPollInterval is how often the TLS files are checked for changes.
	TLSPollInterval time.Duration
	// TLSBootstrap obtains the node certificate from billing through the
	// enrollment token (see BootstrapTLSFiles) instead of TLSCert, TLSKey
	// and TLSCA.
	TLSBootstrap bool
	// TLSBootstrapSAN are further DNS names or IP addresses of the
	// TLSBootstrap certificate (the client Service's name), besides the
	// advertised host.
	TLSBootstrapSAN []string
	// InsecureHTTP serves plain HTTP and raft (explicit opt-in).
	InsecureHTTP bool
	// BillingCA, optional, is the CA bundle billing's certificate is
	// verified with (default: TLSCA, then the system roots).
	BillingCA string
	// MaxDocumentBytes bounds one document's JSON data.
	MaxDocumentBytes int
	// MaxBodyBytes bounds an HTTP request body; larger bodies get 413.
	MaxBodyBytes int
	// PprofAddr, when set, is the listen address of a net/http/pprof
	// endpoint for profiling (no authentication: bind it to loopback).
	PprofAddr string
	// AuditLog is the audit log file; "" means <data-dir>/audit/audit.jsonl
	// and AuditOff disables the log (see AuditPath).
	AuditLog string
	// AuditHMACKeyFile, optional, holds the key that HMACs the audit chain.
	AuditHMACKeyFile string
	// MasterKeyFile, optional, holds the master key that enables
	// encryption at rest (seal.LoadMasterKeyFile); every node of a cluster
	// must hold the same key. Empty: the store is plaintext.
	MasterKeyFile string
	// SnapshotThreshold, SnapshotInterval and TrailingLogs tune raft
	// snapshots and log compaction (store.Config); zero keeps the store's
	// defaults.
	SnapshotThreshold int
	SnapshotInterval  time.Duration
	TrailingLogs      int
}

// AuditOff is the audit-log value that disables the audit log.
const AuditOff = settings.AuditOff

// AuditPath returns the audit log file, "" when the log is off.
func (c *Config) AuditPath() string { return settings.AuditPath(c.DataDir, c.AuditLog) }

// Default returns the configuration used for options no source sets.
func Default() Config {
	return Config{
		HTTPAddr:         DefaultHTTPAddr,
		RaftAddr:         DefaultRaftAddr,
		LogLevel:         "info",
		LogFormat:        "text",
		MaxDocumentBytes: DefaultMaxDocumentBytes,
		MaxBodyBytes:     DefaultMaxBodyBytes,
		MeterWindow:      DefaultMeterWindow,
		PolicyRefresh:    DefaultPolicyRefresh,
		TLSPollInterval:  pki.DefaultPollInterval,
	}
}

// TLSFiles returns the TLS settings (see internal/nodetls); with
// TLSBootstrap, the files the node keeps its key and the certificate and
// CA bundle billing signed in (BootstrapTLSDir).
func (c *Config) TLSFiles() nodetls.Files {
	if c.TLSBootstrap {
		dir := c.BootstrapTLSDir()
		return nodetls.Files{Cert: filepath.Join(dir, pki.CertFile), Key: filepath.Join(dir, pki.KeyFile), CA: filepath.Join(dir, pki.CACertFile), PollInterval: c.TLSPollInterval}
	}
	return nodetls.Files{Cert: c.TLSCert, Key: c.TLSKey, CA: c.TLSCA, InsecureHTTP: c.InsecureHTTP, PollInterval: c.TLSPollInterval}
}

// BootstrapTLSDir is where a TLSBootstrap node keeps its key (0600), its
// certificate and the cluster's CA bundle: <data-dir>/tls.
func (c *Config) BootstrapTLSDir() string { return filepath.Join(c.DataDir, "tls") }

// DiscoverConfig parses Discover; ok is false when it is not set.
func (c *Config) DiscoverConfig() (dc discover.Config, ok bool, err error) {
	if c.Discover == "" {
		return discover.Config{}, false, nil
	}
	dc, err = discover.Parse(c.Discover)
	return dc, err == nil, err
}

// Managed reports whether the agent is managed by billing (BillingURL set).
func (c *Config) Managed() bool { return c.BillingURL != "" }

// PolicyKey decodes BillingPublicKey; nil when it is not set.
func (c *Config) PolicyKey() (ed25519.PublicKey, error) {
	if c.BillingPublicKey == "" {
		return nil, nil
	}
	s := strings.TrimRight(c.BillingPublicKey, "=")
	var raw []byte
	var err error
	if strings.ContainsAny(s, "-_") {
		raw, err = base64.RawURLEncoding.DecodeString(s)
	} else {
		raw, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, errors.New("billing-public-key: not base64; give the public_key of GET /api/v1/policy/public-key")
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("billing-public-key: decodes to %d bytes, want a %d-byte ed25519 key (the public_key of GET /api/v1/policy/public-key)", len(raw), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}

// RegisterFlags adds one flag per option (plus --config) to fs, with the
// defaults shown in help.
func RegisterFlags(fs *pflag.FlagSet) { table.RegisterFlags(fs) }

// Load builds a Config from defaults, the YAML file (--config or
// AEROLITH_CONFIG), environment variables (looked up with lookupEnv, e.g.
// os.LookupEnv) and the flags set on fs, in increasing precedence. fs may be
// nil. Load checks syntax (integers, booleans, known keys); call Validate for
// the rest.
func Load(fs *pflag.FlagSet, lookupEnv func(string) (string, bool)) (Config, error) {
	return table.Load(fs, lookupEnv)
}

// ValidNodeID reports whether id may name a node: 1-64 characters of
// letters, digits, '.', '_' and '-', starting with a letter or digit.
func ValidNodeID(id string) bool { return member.ValidID(id) }

// Validate checks the configuration and returns the first problem as an
// error that starts with the option's name and says how to fix it. It only
// touches the file system to check that TLS files exist.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("data-dir: required; set --data-dir to a directory for this node's data")
	}
	if c.NodeID != "" && !ValidNodeID(c.NodeID) {
		return fmt.Errorf("node-id: %q is invalid; use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", c.NodeID)
	}
	if err := settings.CheckListeners(c.HTTPAddr, c.RaftAddr, "7070"); err != nil {
		return err
	}
	if err := settings.CheckAdvertiseSyntax(c.Advertise); err != nil {
		return err
	}
	if c.PprofAddr != "" {
		if err := settings.CheckListen("pprof-addr", c.PprofAddr, "6060"); err != nil {
			return err
		}
	}
	if c.Advertise != "" && settings.IsUnspecified(c.Advertise) {
		return fmt.Errorf("advertise: %s is not an address others can dial; give this node's reachable IP or host name", c.Advertise)
	}
	if err := c.validateDiscover(); err != nil {
		return err
	}
	if c.AdminKey == "" && !c.InsecureNoAuth {
		return errors.New("admin-key: required; set --admin-key (or AEROLITH_ADMIN_KEY), or pass --insecure-no-auth to run without authentication (local testing only)")
	}
	if c.AdminKey != "" && c.InsecureNoAuth {
		return errors.New("insecure-no-auth: cannot be combined with admin-key; drop one of them")
	}
	if strings.ContainsFunc(c.AdminKey, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return errors.New("admin-key: must not contain whitespace or control characters")
	}
	if err := c.validateManaged(); err != nil {
		return err
	}
	if _, err := settings.ParseLevel(c.LogLevel); err != nil {
		return err
	}
	if err := settings.CheckLogFormat(c.LogFormat); err != nil {
		return err
	}
	if err := c.validateTLS(); err != nil {
		return err
	}
	if c.BillingCA != "" {
		if !c.Managed() {
			return errors.New("billing-ca: set without billing-url; give --billing-url too, or drop it")
		}
		if _, err := os.Stat(c.BillingCA); err != nil {
			return fmt.Errorf("billing-ca: %v", err)
		}
	}
	if err := settings.CheckAudit(c.AuditLog, AuditOff, c.AuditHMACKeyFile); err != nil {
		return err
	}
	if c.SnapshotThreshold < 0 || c.TrailingLogs < 0 || c.SnapshotInterval < 0 {
		return errors.New("snapshot-threshold, snapshot-interval, trailing-logs: must not be negative")
	}
	if c.MaxDocumentBytes <= 0 {
		return errors.New("max-document-bytes: must be > 0")
	}
	if c.MaxBodyBytes <= 0 {
		return errors.New("max-body-bytes: must be > 0")
	}
	if c.MaxDocumentBytes > c.MaxBodyBytes {
		return fmt.Errorf("max-document-bytes: %d exceeds max-body-bytes %d; a document must fit in a request body", c.MaxDocumentBytes, c.MaxBodyBytes)
	}
	if c.Advertise == "" {
		if _, err := c.AdvertiseHost(c.RaftAddr); err != nil {
			return err
		}
	}
	return nil
}

// validateDiscover checks join, discover and bootstrap-expect together.
func (c *Config) validateDiscover() error {
	if c.Discover == "" {
		return settings.CheckJoin(c.BootstrapExpect, c.Join, "members")
	}
	if len(c.Join) > 0 {
		return errors.New("discover: cannot be combined with join; give the members' addresses with --join, or let --discover find them")
	}
	dc, _, err := c.DiscoverConfig()
	if err != nil {
		return err
	}
	if c.BootstrapExpect < 0 {
		return errors.New("bootstrap-expect: must not be negative; with discover, the number of nodes that form a new cluster, or 0 to join a running one")
	}
	if dc.Provider == discover.ProviderBilling && !c.Managed() {
		return errors.New("discover: billing needs billing-url and enrollment-token (the nodes find each other in billing's registry of the cluster)")
	}
	return nil
}

// MaxTLSBootstrapSAN bounds TLSBootstrapSAN.
const MaxTLSBootstrapSAN = 12

// validateTLS checks the TLS options: files, --tls-bootstrap or
// --insecure-http.
func (c *Config) validateTLS() error {
	if !c.TLSBootstrap {
		if len(c.TLSBootstrapSAN) > 0 {
			return errors.New("tls-bootstrap-san: only with tls-bootstrap (a certificate from --tls-cert names its hosts itself); drop it or add --tls-bootstrap")
		}
		return c.TLSFiles().Validate()
	}
	if len(c.TLSBootstrapSAN) > MaxTLSBootstrapSAN {
		return fmt.Errorf("tls-bootstrap-san: %d names, at most %d (billing signs at most 16 names per certificate, two of them the advertised host)", len(c.TLSBootstrapSAN), MaxTLSBootstrapSAN)
	}
	for _, h := range c.TLSBootstrapSAN {
		if h == "" || strings.ContainsAny(h, " /:@") && net.ParseIP(h) == nil {
			return fmt.Errorf("tls-bootstrap-san: %q is not a DNS name or IP address", h)
		}
	}
	if c.TLSCert != "" || c.TLSKey != "" || c.TLSCA != "" {
		return errors.New("tls-bootstrap: cannot be combined with tls-cert, tls-key and tls-ca (the certificate is obtained from billing); drop one or the other")
	}
	if c.InsecureHTTP {
		return errors.New("tls-bootstrap: cannot be combined with insecure-http; drop one of them")
	}
	if !c.Managed() {
		return errors.New("tls-bootstrap: needs billing-url and enrollment-token (billing holds the cluster's CA); or give --tls-cert, --tls-key and --tls-ca")
	}
	if c.TLSPollInterval < 0 {
		return errors.New("tls-poll-interval: must not be negative")
	}
	return nil
}

// validateManaged checks the billing options.
func (c *Config) validateManaged() error {
	if c.BillingURL == "" {
		for _, f := range []struct{ name, v string }{{"enrollment-token", c.EnrollmentToken}, {"billing-public-key", c.BillingPublicKey}} {
			if f.v != "" {
				return fmt.Errorf("%s: set without billing-url; give --billing-url too, or drop it", f.name)
			}
		}
	} else {
		for _, one := range strings.Split(c.BillingURL, ",") {
			one = strings.TrimSpace(one)
			u, err := url.Parse(one)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("billing-url: %q is not an http(s) URL (e.g. https://billing:7080; several replicas separated by commas)", one)
			}
			if u.Scheme == "http" && !c.InsecureHTTP {
				return fmt.Errorf("billing-url: %q is plain http, which would send the enrollment token and usage in clear text; use https, or pass --insecure-http to allow it", one)
			}
		}
		if c.EnrollmentToken == "" {
			return errors.New("enrollment-token: required with billing-url; set --enrollment-token (or AEROLITH_ENROLLMENT_TOKEN) to the token billing gave when the cluster was registered (POST /api/v1/clusters)")
		}
		if strings.ContainsFunc(c.EnrollmentToken, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return errors.New("enrollment-token: must not contain whitespace or control characters")
		}
		if c.InsecureNoAuth {
			return errors.New("insecure-no-auth: cannot be combined with billing-url; a managed agent authenticates every caller (set --admin-key)")
		}
		if c.MetricsNoAuth {
			return errors.New("metrics-no-auth: cannot be combined with billing-url; a managed agent serves /metrics to the cluster admin key only")
		}
		if _, err := c.PolicyKey(); err != nil {
			return err
		}
	}
	if c.MeterWindow < time.Second {
		return fmt.Errorf("meter-window: %s is too short; use 1s or more (default %s)", c.MeterWindow, DefaultMeterWindow)
	}
	if c.PolicyRefresh < time.Second {
		return fmt.Errorf("policy-refresh: %s is too short; use 1s or more (default %s)", c.PolicyRefresh, DefaultPolicyRefresh)
	}
	return nil
}

// AdvertiseHost returns the host this node announces for a listener on
// listenAddr (host:port): --advertise when set; else the listen host when it
// is a specific address; else 127.0.0.1 when the setup is loopback-only (every
// --join address is on loopback, or there is none). Otherwise it is an error
// naming advertise, since other nodes could not reach 0.0.0.0.
func (c *Config) AdvertiseHost(listenAddr string) (string, error) {
	if c.Discover != "" && c.Advertise == "" {
		// Discovered peers are not on loopback: announcing 127.0.0.1
		// would make this node unreachable.
		if host, _, err := settings.SplitHostPort(listenAddr); err == nil && settings.IsUnspecified(host) {
			return "", fmt.Errorf("advertise: required with discover when listening on all interfaces (%s); set --advertise to the IP or host name other nodes reach this one at, or listen on it", listenAddr)
		}
	}
	return settings.AdvertiseHost(c.Advertise, c.Join, listenAddr)
}

// Logger returns a slog.Logger writing to w at the configured level and
// format. Call it after Validate; unknown values fall back to info and text.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	return settings.NewLogger(w, c.LogLevel, c.LogFormat)
}

// Names returns every option name in table order (for docs and tests).
func Names() []string { return table.Names() }

// EnvName returns the environment variable for an option name, e.g.
// EnvName("node-id") = "AEROLITH_NODE_ID".
func EnvName(name string) string { return settings.EnvName(name) }
