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
// Node id: when --node-id is empty the agent reads <data-dir>/node-id, or
// generates an id on first start and stores it there, so a restarted node
// keeps its identity.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/aerolithdb/aerolith/internal/member"
)

// Defaults.
const (
	DefaultHTTPAddr         = ":7070"
	DefaultRaftAddr         = ":7071"
	DefaultMaxDocumentBytes = 1 << 20
	DefaultMaxBodyBytes     = 2 << 20
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
	BillingURL      string
	EnrollmentToken string
	LogLevel        string
	LogFormat       string
	TLSCert         string
	TLSKey          string
	TLSCA           string
	// MaxDocumentBytes bounds one document's JSON data.
	MaxDocumentBytes int
	// MaxBodyBytes bounds an HTTP request body; larger bodies get 413.
	MaxBodyBytes int
}

// Default returns the configuration used for options no source sets.
func Default() Config {
	return Config{
		HTTPAddr:         DefaultHTTPAddr,
		RaftAddr:         DefaultRaftAddr,
		LogLevel:         "info",
		LogFormat:        "text",
		MaxDocumentBytes: DefaultMaxDocumentBytes,
		MaxBodyBytes:     DefaultMaxBodyBytes,
	}
}

// flagValue is the pflag.Value behind every option's flag. It checks the
// value's syntax on Set and keeps the raw text for Load.
type flagValue struct {
	opt  option
	raw  string
	list []string
}

func (v *flagValue) Set(s string) error {
	var scratch Config
	if err := v.opt.set(&scratch, s, false); err != nil {
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
	}
	return "string"
}

// RegisterFlags adds one flag per option (plus --config) to fs, with the
// defaults shown in help.
func RegisterFlags(fs *pflag.FlagSet) {
	def := Default()
	fs.String(configOption, "", "YAML file with options (same names as the flags); env "+envName(configOption))
	for _, o := range options {
		v := &flagValue{opt: o}
		usage := o.usage + " (env " + envName(o.name) + ")"
		f := fs.VarPF(v, o.name, "", usage)
		f.DefValue = o.get(&def)
		if o.kind == kindBool {
			f.NoOptDefVal = "true"
		}
	}
}

// Load builds a Config from defaults, the YAML file (--config or
// AEROLITH_CONFIG), environment variables (looked up with lookupEnv, e.g.
// os.LookupEnv) and the flags set on fs, in increasing precedence. fs may be
// nil. Load checks syntax (integers, booleans, known keys); call Validate for
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

	path, _ := env(envName(configOption))
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
		v, ok := env(envName(o.name))
		if !ok {
			continue
		}
		if err := o.set(&c, v, false); err != nil {
			return Config{}, fmt.Errorf("%s: %w", envName(o.name), err)
		}
	}

	if fs != nil {
		for _, o := range options {
			f := fs.Lookup(o.name)
			if f == nil || !f.Changed {
				continue
			}
			if err := o.set(&c, f.Value.String(), false); err != nil {
				return Config{}, err
			}
		}
	}
	return c, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// applyYAML sets the options found in a YAML document. ${NAME} references are
// replaced by environment values first (only that form, so a literal "$" in a
// key stays as written).
func (c *Config) applyYAML(data []byte, lookupEnv func(string) (string, bool)) error {
	var missing []string
	data = envRef.ReplaceAllFunc(data, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := lookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		return fmt.Errorf("environment variable %s referenced but not set", missing[0])
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
		if err := o.set(c, s, false); err != nil {
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
	if err := checkListen("http-addr", c.HTTPAddr); err != nil {
		return err
	}
	if err := checkListen("raft-addr", c.RaftAddr); err != nil {
		return err
	}
	if _, port, _ := splitHostPort(c.HTTPAddr); c.HTTPAddr == c.RaftAddr && port != 0 {
		return fmt.Errorf("http-addr: %s is also the raft-addr; give them different ports", c.HTTPAddr)
	}
	if c.Advertise != "" {
		if strings.ContainsAny(c.Advertise, "/ ") || strings.Count(c.Advertise, ":") == 1 {
			return fmt.Errorf("advertise: %q must be a host name or IP without port (the raft and http ports are added)", c.Advertise)
		}
		if isUnspecified(c.Advertise) {
			return fmt.Errorf("advertise: %s is not an address others can dial; give this node's reachable IP or host name", c.Advertise)
		}
	}
	if c.BootstrapExpect < 0 {
		return errors.New("bootstrap-expect: must be >= 0")
	}
	if c.BootstrapExpect > 1 && len(c.Join) == 0 {
		return fmt.Errorf("join: required with bootstrap-expect %d; list the members' addresses (host:port)", c.BootstrapExpect)
	}
	for _, j := range c.Join {
		if _, _, err := splitHostPort(j); err != nil {
			return fmt.Errorf("join: %q: %v; want host:port", j, err)
		}
	}
	if c.Discover != "" {
		return errors.New("discover: cloud discovery is not supported yet; list the members with --join instead")
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
	if c.BillingURL != "" {
		u, err := url.Parse(c.BillingURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("billing-url: %q is not an http(s) URL", c.BillingURL)
		}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("log-format: %q is unknown; want text or json", c.LogFormat)
	}
	for _, f := range []struct{ name, path string }{{"tls-cert", c.TLSCert}, {"tls-key", c.TLSKey}, {"tls-ca", c.TLSCA}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s: %v", f.name, err)
		}
		return fmt.Errorf("%s: TLS is not supported yet; remove --tls-cert, --tls-key and --tls-ca and terminate TLS in front of the agent", f.name)
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

func checkListen(name, addr string) error {
	if addr == "" {
		return fmt.Errorf("%s: required; want host:port such as :7070", name)
	}
	if _, _, err := splitHostPort(addr); err != nil {
		return fmt.Errorf("%s: %q: %v; want host:port such as 127.0.0.1:7070", name, addr, err)
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

func isUnspecified(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// AdvertiseHost returns the host this node announces for a listener on
// listenAddr (host:port): --advertise when set; else the listen host when it
// is a specific address; else 127.0.0.1 when the setup is loopback-only (every
// --join address is on loopback, or there is none). Otherwise it is an error
// naming advertise, since other nodes could not reach 0.0.0.0.
func (c *Config) AdvertiseHost(listenAddr string) (string, error) {
	if c.Advertise != "" {
		return c.Advertise, nil
	}
	host, _, err := splitHostPort(listenAddr)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %v", listenAddr, err)
	}
	if !isUnspecified(host) {
		return host, nil
	}
	for _, j := range c.Join {
		h, _, err := splitHostPort(j)
		if err != nil || !isLoopback(h) {
			return "", fmt.Errorf("advertise: required when listening on all interfaces (%s) with non-loopback --join addresses; set --advertise to the IP or host name other nodes reach this one at", listenAddr)
		}
	}
	return "127.0.0.1", nil
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
// format. Call it after Validate; unknown values fall back to info and text.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Names returns every option name in table order (for docs and tests).
func Names() []string {
	names := make([]string, 0, len(options)+1)
	names = append(names, configOption)
	for _, o := range options {
		names = append(names, o.name)
	}
	return names
}

// EnvName returns the environment variable for an option name, e.g.
// EnvName("node-id") = "AEROLITH_NODE_ID".
func EnvName(name string) string { return envName(name) }
