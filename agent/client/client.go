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
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aerolithdb/aerolith/internal/apiclient"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout    = apiclient.DefaultTimeout
	DefaultMaxRetries = apiclient.DefaultMaxRetries
	DefaultMinBackoff = apiclient.DefaultMinBackoff
	DefaultMaxBackoff = apiclient.DefaultMaxBackoff
)

// maxResponseBytes bounds how much of a response body the client reads.
const maxResponseBytes = 256 << 20

// Config configures a Client. Only URL is required.
type Config struct {
	// URL is the agent's base URL, e.g. "http://127.0.0.1:7070". Several
	// endpoints may be given separated by commas; the client uses one at a
	// time and moves to the next on connection errors. A missing scheme
	// means http.
	URL string
	// Key is the bearer API key sent with every request (none when empty).
	Key string
	// HTTPClient, when set, is used as is. Otherwise the client builds one
	// with a transport tuned for many concurrent callers.
	HTTPClient *http.Client
	// TLS, when set and HTTPClient is nil, is the built transport's TLS
	// configuration for https URLs (e.g. the cluster CA from
	// internal/clientopts); nil means the system roots.
	TLS *tls.Config
	// Timeout bounds each attempt of a request. Zero means DefaultTimeout;
	// negative means no timeout beyond the caller's context.
	Timeout time.Duration
	// MaxRetries bounds how many times one call is retried after a 503 or a
	// connection error (a pass over all endpoints counts as one). Zero means
	// DefaultMaxRetries; negative disables retries (failover to the other
	// endpoints still happens for requests that were never sent).
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// retries (zero means the defaults). A server's Retry-After is honoured
	// up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// UserAgent is sent as the User-Agent header (default "aerolith-go-client").
	UserAgent string
	// ConnectTimeout and HeaderTimeout, when positive, move a request on
	// to the next endpoint when one gives no connection (dial and TLS
	// handshake) in ConnectTimeout, or, for an idempotent request, sends
	// no response headers in HeaderTimeout (a stopped process); the last
	// endpoint of a pass waits up to Timeout. Zero disables them.
	ConnectTimeout, HeaderTimeout time.Duration
	// RetryBudget, when positive, stops the retries of a call that has
	// run this long (after the current pass over the endpoints); zero
	// retries up to MaxRetries however long that takes.
	RetryBudget time.Duration
	// OnRetry, when set, is called before each attempt that follows a
	// failed one (failover or retry), e.g. to report it; it must not block.
	OnRetry func(Retry)
}

// Retry describes a failed attempt and the one that follows it
// (Config.OnRetry).
type Retry = apiclient.Retry

// Client talks to one Aerolith cluster through one or more agent endpoints.
type Client struct {
	api *apiclient.Client
}

// New validates cfg and returns a Client. It does no I/O.
func New(cfg Config) (*Client, error) {
	hc := cfg.HTTPClient
	if hc == nil {
		t := NewTransport()
		t.TLSClientConfig = cfg.TLS
		hc = &http.Client{Transport: t}
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = "aerolith-go-client"
	}
	api, err := apiclient.New(apiclient.Config{
		URL:              cfg.URL,
		ExampleURL:       "http://127.0.0.1:7070",
		Key:              cfg.Key,
		HTTPClient:       hc,
		Timeout:          cfg.Timeout,
		MaxRetries:       cfg.MaxRetries,
		MinBackoff:       cfg.MinBackoff,
		MaxBackoff:       cfg.MaxBackoff,
		UserAgent:        ua,
		MaxResponseBytes: maxResponseBytes,
		ConnectTimeout:   cfg.ConnectTimeout,
		HeaderTimeout:    cfg.HeaderTimeout,
		RetryBudget:      cfg.RetryBudget,
		OnRetry:          cfg.OnRetry,
		DefaultCode:      codeForStatus,
	})
	if err != nil {
		return nil, err
	}
	return &Client{api: api}, nil
}

// NewTransport returns the HTTP transport New uses when Config.HTTPClient is
// nil: keep-alive pools sized for hundreds of concurrent callers per host.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
}

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
