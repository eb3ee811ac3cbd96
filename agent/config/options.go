package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// kind is the type of an option's value.
type kind int

const (
	kindString kind = iota
	kindInt
	kindBool
	kindList // comma-separated on flags and env, a YAML sequence or string in files
)

// option is one row of the table every source (flags, env, YAML) shares.
type option struct {
	name  string // flag name; env AEROLITH_<NAME>; YAML key (dashes or underscores)
	usage string
	kind  kind
	field func(*Config) any // pointer to the Config field: *string, *int, *bool or *[]string
}

// options is the one table of names. Flag, env var and YAML key are all
// derived from name.
var options = []option{
	{"node-id", "stable id of this node; default: read from <data-dir>/node-id, generated and stored there on first start", kindString, func(c *Config) any { return &c.NodeID }},
	{"data-dir", "directory holding the raft log, snapshots and documents (required)", kindString, func(c *Config) any { return &c.DataDir }},
	{"http-addr", "listen address of the HTTP data API", kindString, func(c *Config) any { return &c.HTTPAddr }},
	{"raft-addr", "listen address for raft and internal cluster traffic", kindString, func(c *Config) any { return &c.RaftAddr }},
	{"advertise", "host other nodes and clients use to reach this node (announced with the raft and http ports); default: the listen host, or 127.0.0.1 for loopback-only setups", kindString, func(c *Config) any { return &c.Advertise }},
	{"bootstrap-expect", "form a new cluster once this many nodes (this one included) know each other; 0 joins an existing cluster or starts a single node", kindInt, func(c *Config) any { return &c.BootstrapExpect }},
	{"join", "comma-separated raft or http addresses (host:port) of cluster members; this node's own address may be included", kindList, func(c *Config) any { return &c.Join }},
	{"discover", "cloud tag discovery string (not supported yet; use --join)", kindString, func(c *Config) any { return &c.Discover }},
	{"admin-key", "cluster admin bearer key; required unless --insecure-no-auth", kindString, func(c *Config) any { return &c.AdminKey }},
	{"insecure-no-auth", "serve without authentication: every caller is admin of the default tenant (local testing only)", kindBool, func(c *Config) any { return &c.InsecureNoAuth }},
	{"metrics-no-auth", "serve /metrics without authentication (for scrapers without a key)", kindBool, func(c *Config) any { return &c.MetricsNoAuth }},
	{"billing-url", "URL of the billing service (used by metering, later)", kindString, func(c *Config) any { return &c.BillingURL }},
	{"enrollment-token", "token that enrolls this cluster with the billing service (used later)", kindString, func(c *Config) any { return &c.EnrollmentToken }},
	{"log-level", "debug, info, warn or error", kindString, func(c *Config) any { return &c.LogLevel }},
	{"log-format", "text or json", kindString, func(c *Config) any { return &c.LogFormat }},
	{"tls-cert", "TLS certificate file (not supported yet)", kindString, func(c *Config) any { return &c.TLSCert }},
	{"tls-key", "TLS private key file (not supported yet)", kindString, func(c *Config) any { return &c.TLSKey }},
	{"tls-ca", "TLS CA bundle file (not supported yet)", kindString, func(c *Config) any { return &c.TLSCA }},
	{"max-document-bytes", "largest accepted document (its JSON data), in bytes", kindInt, func(c *Config) any { return &c.MaxDocumentBytes }},
	{"max-body-bytes", "largest accepted HTTP request body, in bytes", kindInt, func(c *Config) any { return &c.MaxBodyBytes }},
}

// configOption names the option that points at the YAML file. It is read from
// flags and env only.
const configOption = "config"

// envName returns the environment variable for an option name:
// "bootstrap-expect" → "AEROLITH_BOOTSTRAP_EXPECT".
func envName(name string) string {
	return "AEROLITH_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
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

// set parses s into the option's field of c. For lists, append adds to the
// current value instead of replacing it.
func (o option) set(c *Config, s string, appendList bool) error {
	switch p := o.field(c).(type) {
	case *string:
		*p = strings.TrimSpace(s)
	case *int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%s: %q is not an integer", o.name, s)
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%s: %q is not a boolean (want true or false)", o.name, s)
		}
		*p = b
	case *[]string:
		items := splitList(s)
		if appendList {
			*p = append(*p, items...)
		} else {
			*p = items
		}
	default:
		panic(fmt.Sprintf("config: option %s has unsupported field type %T", o.name, p))
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
	}
	return ""
}

// splitList splits a comma- or whitespace-separated list, dropping empty items.
func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(f) == 0 {
		return nil
	}
	return f
}
