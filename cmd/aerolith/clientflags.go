package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/internal/apiclient"
	"github.com/aerolithdb/aerolith/internal/clientopts"
)

// defaultURL is where the CLI looks for an agent when neither --url nor
// AEROLITH_URL says otherwise: HTTPS, as agents and aerolith up serve by
// default.
const defaultURL = "https://127.0.0.1:7070"

// failoverTimeout bounds connecting to an endpoint (dial and TLS
// handshake) and, for reads, waiting for its answer, while another
// endpoint of the URL list remains: a stopped or unreachable node is left
// for the next one after about this long.
const failoverTimeout = time.Second

// retryBudget is how long a command keeps retrying: a node that is
// stopped (it takes connections and never completes the TLS handshake)
// cost the transport's 10 s handshake timeout on each of the retries,
// a minute in all for a single --url.
const retryBudget = apiclient.DefaultTimeout

// Output formats of the CLI verbs.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// Environment variables of the credentials: tenant API keys for data,
// the cluster admin key for the cluster's own routes.
const (
	envKey      = "AEROLITH_KEY"
	envAdminKey = "AEROLITH_ADMIN_KEY"
)

// clientFlags are the flags every command that talks to an agent shares.
type clientFlags struct {
	url string
	// key is the bearer key: a tenant API key (--key, AEROLITH_KEY), or
	// for admin commands the cluster admin key (--admin-key,
	// AEROLITH_ADMIN_KEY).
	key string
	// admin marks the commands of the cluster admin key; oldKey is their
	// --key, the older spelling of --admin-key, still accepted.
	admin       bool
	oldKey      string
	output      string
	consistency string
	verbose     bool
	// conn are the TLS options (--ca-file, --tls-cert, --tls-key,
	// --insecure-http), shared with the billing verbs.
	conn clientopts.Options
	// stderr receives the -v reports.
	stderr func() io.Writer
}

// addClientFlags registers the shared flags of the tenant's commands (data
// with a tenant API key) as persistent flags of cmd, so its subcommands
// inherit them, and makes flag errors usage errors.
func addClientFlags(cmd *cobra.Command, f *clientFlags) {
	addConnFlags(cmd, f)
	cmd.PersistentFlags().StringVar(&f.key, "key", "", "tenant API key sent as bearer token (env "+envKey+")")
	needsKey(cmd, keyTenant)
}

// addAdminClientFlags is addClientFlags for the commands of the cluster
// admin key: --admin-key (env AEROLITH_ADMIN_KEY), never AEROLITH_KEY, so a
// shell set up for a tenant's data still reaches the cluster's routes.
func addAdminClientFlags(cmd *cobra.Command, f *clientFlags) {
	f.admin = true
	addConnFlags(cmd, f)
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.key, "admin-key", "", "cluster admin key sent as bearer token (env "+envAdminKey+")")
	pf.StringVar(&f.oldKey, "key", "", "older spelling of --admin-key")
	pf.MarkHidden("key")
	needsKey(cmd, keyAdmin)
}

func addConnFlags(cmd *cobra.Command, f *clientFlags) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.url, "url", "", "agent URL; several may be given comma-separated for failover (env AEROLITH_URL, default "+defaultURL+")")
	pf.StringVarP(&f.output, "output", "o", outputTable, "output format: table (for humans) or json (stable, for scripts)")
	pf.StringVar(&f.consistency, "consistency", "", "read consistency: linearizable (default), leader or stale")
	pf.BoolVarP(&f.verbose, "verbose", "v", false, "report failovers and retries between endpoints on stderr")
	f.conn.AddFlags(pf)
	f.stderr = cmd.ErrOrStderr
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
}

// resolve fills unset flags from the environment and validates them.
func (f *clientFlags) resolve() error {
	if f.url == "" {
		f.url = os.Getenv("AEROLITH_URL")
	}
	if f.url == "" {
		f.url = defaultURL
	}
	switch {
	case f.key != "":
	case f.admin && f.oldKey != "":
		f.key = f.oldKey
	case f.admin:
		f.key = os.Getenv(envAdminKey)
	default:
		f.key = os.Getenv(envKey)
	}
	switch f.output {
	case outputTable, outputJSON:
	default:
		return usageError{fmt.Errorf("--output: unknown format %q: want table or json", f.output)}
	}
	if _, err := client.ParseConsistency(f.consistency); err != nil {
		return usageError{fmt.Errorf("--consistency: %v", err)}
	}
	return nil
}

// client builds an API client from the flags.
func (f *clientFlags) client() (*client.Client, error) {
	if err := f.resolve(); err != nil {
		return nil, err
	}
	hc, err := httpClient(&f.conn, f.url, "url", defaultURL, client.NewTransport())
	if err != nil {
		return nil, err
	}
	c, err := client.New(client.Config{
		URL: f.url, Key: f.key, UserAgent: "aerolith-cli", HTTPClient: hc,
		ConnectTimeout: failoverTimeout, HeaderTimeout: failoverTimeout, RetryBudget: retryBudget, OnRetry: retryReporter(f.verbose, f.stderr),
	})
	if err != nil {
		return nil, usageError{fmt.Errorf("--%v", err)}
	}
	return c, nil
}

// apiClient builds a raw API client from the flags, for routes the agent
// client has no method for.
func (f *clientFlags) apiClient() (*apiclient.Client, error) {
	if err := f.resolve(); err != nil {
		return nil, err
	}
	hc, err := httpClient(&f.conn, f.url, "url", defaultURL, client.NewTransport())
	if err != nil {
		return nil, err
	}
	api, err := apiclient.New(apiclient.Config{
		URL: f.url, ExampleURL: defaultURL, Key: f.key, UserAgent: "aerolith-cli", Unreachable: "agent", HTTPClient: hc,
		ConnectTimeout: failoverTimeout, HeaderTimeout: failoverTimeout, RetryBudget: retryBudget, OnRetry: retryReporter(f.verbose, f.stderr),
	})
	if err != nil {
		return nil, usageError{fmt.Errorf("--%v", err)}
	}
	return api, nil
}

// retryReporter returns the OnRetry hook of -v: one stderr line per
// failover or retry (nil when not verbose).
func retryReporter(verbose bool, stderr func() io.Writer) func(apiclient.Retry) {
	if !verbose {
		return nil
	}
	return func(r apiclient.Retry) {
		if r.Wait == 0 {
			fmt.Fprintf(stderr(), "aerolith: %s: %v; failing over to %s\n", r.Endpoint, r.Err, r.Next)
			return
		}
		fmt.Fprintf(stderr(), "aerolith: %s: %v; retrying %s in %v\n", r.Endpoint, r.Err, r.Next, r.Wait.Round(time.Millisecond))
	}
}

// httpClient resolves the TLS options o (environment for unset ones),
// checks the endpoints of urls (flag names the URL flag) and returns the
// HTTP client of the API clients, a clone of base with o's TLS settings.
// Plain http:// is refused unless --insecure-http, except to loopback
// hosts (aerolith up --insecure-http, local development).
func httpClient(o *clientopts.Options, urls, flag, example string, base *http.Transport) (*http.Client, error) {
	if err := o.FromEnv(os.Getenv); err != nil {
		return nil, usageError{err}
	}
	if !loopbackOnly(urls) {
		if err := o.CheckURL(urls, example); err != nil {
			return nil, usageError{fmt.Errorf("--%s: %v", flag, strings.TrimPrefix(err.Error(), "url: "))}
		}
	}
	t, err := o.Transport(base)
	if err != nil {
		return nil, usageError{fmt.Errorf("--%v", err)}
	}
	return &http.Client{Transport: t}, nil
}

// loopbackOnly reports whether every endpoint of urls is on a loopback
// host (127.0.0.0/8, ::1, localhost).
func loopbackOnly(urls string) bool {
	eps, err := apiclient.ParseEndpoints(urls, "")
	if err != nil {
		return false
	}
	for _, u := range eps {
		h := u.Hostname()
		if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return false
		}
	}
	return true
}

// readOpts returns the per-call options of reads.
func (f *clientFlags) readOpts() []client.Option {
	c, _ := client.ParseConsistency(f.consistency)
	if c == "" {
		return nil
	}
	return []client.Option{client.WithConsistency(c)}
}

func (f *clientFlags) json() bool { return f.output == outputJSON }

// groupCommand returns a command that only holds subcommands: called alone
// it prints its help; called with an unknown subcommand it is a usage error.
func groupCommand(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
}

// argsBetween validates the number of positional arguments; usage names
// them. An empty argument is refused too: no name or id of the API is
// empty, and as a path segment it reached another route ("usage show ”"
// answered that tenant "usage" does not exist).
func argsBetween(lo, hi int, usage string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usageError{fmt.Errorf("%s: want arguments %s, got %d", cmd.CommandPath(), usage, len(args))}
		}
		for i, a := range args {
			if a == "" {
				return usageError{fmt.Errorf("%s: argument %d is empty (want %s)", cmd.CommandPath(), i+1, usage)}
			}
		}
		return nil
	}
}

// writeJSON prints v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newTable returns a tabwriter for aligned columns; call Flush when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// compactJSON renders raw on one line, cut to at most max runes.
func compactJSON(raw json.RawMessage, max int) string {
	var buf bytes.Buffer
	s := string(raw)
	if err := json.Compact(&buf, raw); err == nil {
		s = buf.String()
	}
	if r := []rune(s); max > 0 && len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}

// parseObjectFlag decodes a flag value that must hold one JSON object.
func parseObjectFlag(name, value string) (json.RawMessage, error) {
	raw, err := parseObject([]byte(value))
	if err != nil {
		return nil, usageError{fmt.Errorf("--%s: %v", name, err)}
	}
	return raw, nil
}

// parseObject checks that b holds exactly one JSON object and returns it.
func parseObject(b []byte) (json.RawMessage, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errors.New("empty, want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: more than one value")
	}
	if v[0] != '{' {
		return nil, fmt.Errorf("want a JSON object, got %s", jsonKind(v))
	}
	return v, nil
}

func jsonKind(v json.RawMessage) string {
	switch v[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	if strings.ContainsRune("-0123456789", rune(v[0])) {
		return "a number"
	}
	return "something else"
}
