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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultMaxRetries = 5
	DefaultMinBackoff = 50 * time.Millisecond
	DefaultMaxBackoff = 2 * time.Second
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
}

// Client talks to one Aerolith cluster through one or more agent endpoints.
type Client struct {
	endpoints  []*url.URL
	key        string
	hc         *http.Client
	timeout    time.Duration
	maxRetries int
	minBackoff time.Duration
	maxBackoff time.Duration
	userAgent  string
	current    atomic.Uint32 // index of the endpoint last known to work
}

// New validates cfg and returns a Client. It does no I/O.
func New(cfg Config) (*Client, error) {
	eps, err := parseEndpoints(cfg.URL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		endpoints:  eps,
		key:        cfg.Key,
		hc:         cfg.HTTPClient,
		timeout:    cfg.Timeout,
		maxRetries: cfg.MaxRetries,
		minBackoff: cfg.MinBackoff,
		maxBackoff: cfg.MaxBackoff,
		userAgent:  cfg.UserAgent,
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: NewTransport()}
	}
	switch {
	case c.timeout == 0:
		c.timeout = DefaultTimeout
	case c.timeout < 0:
		c.timeout = 0
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.minBackoff <= 0 {
		c.minBackoff = DefaultMinBackoff
	}
	if c.maxBackoff <= 0 {
		c.maxBackoff = DefaultMaxBackoff
	}
	if c.maxBackoff < c.minBackoff {
		c.maxBackoff = c.minBackoff
	}
	if c.userAgent == "" {
		c.userAgent = "aerolith-go-client"
	}
	return c, nil
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
func (c *Client) Endpoints() []string {
	out := make([]string, len(c.endpoints))
	for i, u := range c.endpoints {
		out[i] = u.String()
	}
	return out
}

func parseEndpoints(raw string) ([]*url.URL, error) {
	var eps []*url.URL
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "://") {
			part = "http://" + part
		}
		u, err := url.Parse(part)
		if err != nil {
			return nil, fmt.Errorf("url: %q is not a valid URL: %v", part, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("url: %q: scheme must be http or https", part)
		}
		if u.Host == "" {
			return nil, fmt.Errorf("url: %q has no host", part)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("url: %q must not have a query or fragment", part)
		}
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = ""
		eps = append(eps, u)
	}
	if len(eps) == 0 {
		return nil, errors.New("url: required (e.g. http://127.0.0.1:7070)")
	}
	return eps, nil
}

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
	r := &request{method: method, path: path, header: http.Header{}}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request body: %w", err)
		}
		r.body = b
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
		r.idempotent = true
	}
	return r, nil
}

// do sends r, retrying and failing over as the package doc describes, and
// returns the 2xx response or an error (*Error for API errors).
func (c *Client) do(ctx context.Context, r *request) (*response, error) {
	n := len(c.endpoints)
	start := int(c.current.Load())
	var lastErr error
	tried := 0   // endpoints tried since the last backoff
	retries := 0 // backoffs done
	for i := start; ; i++ {
		idx := i % n
		resp, err := c.once(ctx, c.endpoints[idx], r)
		if err == nil {
			c.current.Store(uint32(idx))
			return resp, nil
		}
		var apiErr *Error
		isAPI := errors.As(err, &apiErr)
		switch {
		case isAPI && apiErr.Status == http.StatusServiceUnavailable && r.idempotent && !r.noRetry:
		case !isAPI && isNotSent(err):
		case !isAPI && r.idempotent:
		default:
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		}
		lastErr = err
		tried++
		if !isAPI && tried < n {
			continue // fail over at once to the next endpoint
		}
		if retries >= c.maxRetries || r.noRetry {
			break
		}
		retries++
		tried = 0
		wait := c.backoff(retries)
		if isAPI && apiErr.RetryAfter > 0 {
			wait = min(apiErr.RetryAfter, c.maxBackoff)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (last error: %v)", ctx.Err(), lastErr)
		case <-t.C:
		}
	}
	var apiErr *Error
	if errors.As(lastErr, &apiErr) || n == 1 {
		return nil, lastErr
	}
	return nil, fmt.Errorf("no endpoint reachable (%d tried): %w", n, lastErr)
}

// backoff returns the delay before retry number n (1-based): exponential
// from minBackoff, capped at maxBackoff, with up to 50% jitter.
func (c *Client) backoff(n int) time.Duration {
	d := c.minBackoff
	for i := 1; i < n && d < c.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// isNotSent reports whether err happened before any byte of the request
// reached a server, so resending cannot apply it twice.
func isNotSent(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

func (c *Client) once(ctx context.Context, base *url.URL, r *request) (*response, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	target := base.Scheme + "://" + base.Host + base.EscapedPath() + r.path // r.path is escaped already
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, err
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response: %w", r.method, target, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeError(resp.StatusCode, resp.Header, data)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// call sends r and decodes a JSON answer into out (when out is non-nil).
func (c *Client) call(ctx context.Context, r *request, out any) (*response, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := json.Unmarshal(resp.body, out); err != nil {
			return nil, fmt.Errorf("%s %s: decode response: %w", r.method, r.path, err)
		}
	}
	return resp, nil
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
