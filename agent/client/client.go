// Package client is the Go client for the Aerolith agent's HTTP data API.
//
// A Client is safe for concurrent use by many goroutines and keeps a pool of
// connections per endpoint, so benchmarks and tests should share one. It
// retries idempotent requests that fail with 503 Unavailable (no leader, node
// not ready) or a connection error, with exponential backoff and a bound, and
// fails over between the endpoints of a comma-separated URL. Requests that
// were never sent (connection refused) are retried for every method.
//
// API errors are returned as *Error; use IsNotFound, IsConflict,
// IsPreconditionFailed and friends to branch on them.
package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aerolithdb/aerolith/internal/apiclient"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout    = apiclient.DefaultTimeout
	DefaultMaxRetries = apiclient.DefaultMaxRetries
	DefaultMinBackoff = apiclient.DefaultMinBackoff
	DefaultMaxBackoff = apiclient.DefaultMaxBackoff
)

// Config configures a Client (the fields are documented in
// internal/apiclient): only URL is required, e.g. "http://127.0.0.1:7070",
// or several agents of one cluster separated by commas; Key is an API key.
type Config = apiclient.Options

// Retry describes a failed attempt and the one that follows it
// (Config.OnRetry).
type Retry = apiclient.Retry

// Client talks to one Aerolith cluster through one or more agent endpoints.
type Client struct {
	api *apiclient.Client
}

// New validates cfg and returns a Client. It does no I/O.
func New(cfg Config) (*Client, error) {
	api, err := apiclient.Open(cfg, apiclient.Service{
		ExampleURL: "http://127.0.0.1:7070",
		UserAgent:  "aerolith-go-client",
		// A response may hold a large query result.
		MaxResponseBytes: 256 << 20,
		DefaultCode:      codeForStatus,
	})
	if err != nil {
		return nil, err
	}
	return &Client{api: api}, nil
}

// NewTransport returns the HTTP transport New uses when Config.HTTPClient is
// nil: keep-alive pools sized for hundreds of concurrent callers per host.
func NewTransport() *http.Transport { return apiclient.NewTransport() }

// Endpoints returns the base URLs the client uses, in configured order.
func (c *Client) Endpoints() []string { return c.api.Endpoints() }

// Consistency selects how fresh a read must be. The zero value lets the
// server choose (linearizable).
type Consistency string

// Read consistency levels understood by the agent.
const (
	Linearizable Consistency = "linearizable"
	Leader       Consistency = "leader"
	Stale        Consistency = "stale"
)

// ParseConsistency accepts "", "linearizable", "leader" or "stale".
func ParseConsistency(s string) (Consistency, error) {
	switch c := Consistency(strings.ToLower(strings.TrimSpace(s))); c {
	case "", Linearizable, Leader, Stale:
		return c, nil
	}
	return "", fmt.Errorf("unknown consistency %q: want linearizable, leader or stale", s)
}

// Option adjusts one call: read consistency or an If-Match precondition.
type Option func(*callOptions)

type callOptions struct {
	consistency Consistency
	ifMatch     *uint64
}

// WithConsistency sets the read consistency of a read call (ignored by writes).
func WithConsistency(c Consistency) Option {
	return func(o *callOptions) { o.consistency = c }
}

// IfMatch makes a Put or Delete conditional on the document's current
// version: the server answers 412 (IsPreconditionFailed) when it differs.
func IfMatch(version uint64) Option {
	return func(o *callOptions) { v := version; o.ifMatch = &v }
}

func collectOptions(opts []Option) callOptions {
	var o callOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// request describes one API call before it is sent.
type request struct {
	method     string
	path       string // already escaped
	query      url.Values
	body       []byte // nil: no body
	header     http.Header
	idempotent bool // safe to resend after a 503 or a broken connection
	noRetry    bool // never retry on 503 (probes)
}

// response is a fully read answer with a 2xx status.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (c *Client) newRequest(method, path string, body any) (*request, error) {
	ar, err := apiclient.NewRequest(method, path, body)
	if err != nil {
		return nil, err
	}
	r := &request{method: method, path: path, header: ar.Header, body: ar.Body}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
		r.idempotent = true
	}
	return r, nil
}

// call sends r, retrying and failing over as the package doc describes, and
// decodes a JSON answer into out (when out is non-nil).
func (c *Client) call(ctx context.Context, r *request, out any) (*response, error) {
	resp, err := c.api.Call(ctx, &apiclient.Request{
		Method:     r.method,
		Path:       r.path,
		Query:      r.query,
		Body:       r.body,
		Header:     r.header,
		Idempotent: r.idempotent,
		NoRetry:    r.noRetry,
	}, out)
	if err != nil {
		return nil, err
	}
	return &response{status: resp.Status, header: resp.Header, body: resp.Body}, nil
}

// collectionPath returns the escaped path of collection c plus suffix parts.
func collectionPath(c string, parts ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1/collections/")
	b.WriteString(url.PathEscape(c))
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(p)
	}
	return b.String()
}

func checkName(what, v string) error {
	if v == "" {
		return fmt.Errorf("%s: required", what)
	}
	return nil
}
