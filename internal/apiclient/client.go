// Package apiclient is the HTTP transport shared by Aerolith's Go API
// clients (the agent's data API and the billing service's API): it fails
// over between the endpoints of a comma-separated URL, retries requests
// that are safe to resend with capped exponential backoff (honouring
// Retry-After), and decodes the {"error":{"code","message"}} body of a
// non-2xx answer into a typed *Error.
//
// A request that fails with a connection error is retried on the next
// endpoint at once; after a pass over all endpoints, or after a 503, the
// client backs off. Idempotent requests are retried after a 503 or any
// connection error; other requests only when they were never sent (no
// connection was obtained: refused, dial, DNS or TLS handshake failure or
// timeout). Config.HeaderTimeout moves an idempotent request on from an
// endpoint that took it but does not answer (a stopped process); see
// failover.go.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aerolithdb/aerolith/internal/backoff"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxRetries       = 5
	DefaultMinBackoff       = 50 * time.Millisecond
	DefaultMaxBackoff       = 2 * time.Second
	DefaultMaxResponseBytes = 64 << 20
)

// Config configures a Client.
type Config struct {
	// URL holds one or more base URLs separated by commas. A missing
	// scheme means http; a trailing slash is dropped.
	URL string
	// ExampleURL is shown in the error for an empty URL, e.g.
	// "http://127.0.0.1:7070".
	ExampleURL string
	// Key is the bearer credential sent with every request (none when empty).
	Key string
	// HTTPClient sends the requests (http.DefaultClient when nil).
	HTTPClient *http.Client
	// Timeout bounds each attempt. Zero means DefaultTimeout; negative
	// means no timeout beyond the caller's context.
	Timeout time.Duration
	// MaxRetries bounds the backoffs of one call (a pass over all endpoints
	// counts as one). Zero means DefaultMaxRetries; negative disables them.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the backoff between retries (zero
	// means the defaults). Retry-After is honoured up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// UserAgent is sent as the User-Agent header.
	UserAgent string
	// MaxResponseBytes bounds how much of a response body is read (zero
	// means DefaultMaxResponseBytes).
	MaxResponseBytes int64
	// Unreachable names what could not be reached when every endpoint
	// failed: the error reads "no <Unreachable> reachable (n tried)".
	// Empty means "endpoint".
	Unreachable string
	// DefaultCode gives the error code of a non-2xx answer whose body has
	// no code (nil means StatusCode).
	DefaultCode func(status int) string
	// ConnectTimeout and HeaderTimeout, when positive, bound an attempt
	// while another endpoint remains to be tried in the current pass, so
	// a node that takes connections but does not serve them (a stopped
	// process: its kernel still accepts) is left for the next one.
	// ConnectTimeout bounds obtaining a connection (dial and TLS
	// handshake): nothing was sent, so any request moves on, failing with
	// ErrConnectTimeout. HeaderTimeout bounds the wait for the response
	// headers of an idempotent request (ErrHeaderTimeout); a request that
	// is not idempotent and reached a server is never resent. The last
	// endpoint of a pass waits up to Timeout (and the transport's own
	// timeouts), so a slow but live cluster still answers. Zero disables
	// them.
	ConnectTimeout, HeaderTimeout time.Duration
	// RetryBudget, when positive, bounds the retries of a call: once it
	// has run this long, a failed pass over the endpoints is not followed
	// by another. Without it a node that takes connections but never
	// completes a TLS handshake (a stopped process) costs the transport's
	// handshake timeout on every retry, a minute for a single endpoint.
	// An attempt in flight is never cut by it.
	RetryBudget time.Duration
	// OnRetry, when set, is called before each new attempt of a call that
	// follows a failed one (a failover or a retry after backoff), e.g.
	// to report it. It must not block.
	OnRetry func(Retry)
}

// Client sends requests to one of several equivalent endpoints. It is safe
// for concurrent use.
type Client struct {
	endpoints   []*url.URL
	key         string
	hc          *http.Client
	timeout     time.Duration
	retryBudget time.Duration
	maxRetries  int
	minBackoff  time.Duration
	maxBackoff  time.Duration
	userAgent   string
	maxBody     int64
	unreachable string
	defaultCode func(int) string
	connectWait time.Duration
	headerWait  time.Duration
	onRetry     func(Retry)
	current     atomic.Uint32 // index of the endpoint last known to work
}

// New validates cfg and returns a Client. It does no I/O.
func New(cfg Config) (*Client, error) {
	eps, err := ParseEndpoints(cfg.URL, cfg.ExampleURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		endpoints:   eps,
		key:         cfg.Key,
		hc:          cfg.HTTPClient,
		timeout:     cfg.Timeout,
		retryBudget: cfg.RetryBudget,
		maxRetries:  cfg.MaxRetries,
		minBackoff:  cfg.MinBackoff,
		maxBackoff:  cfg.MaxBackoff,
		userAgent:   cfg.UserAgent,
		maxBody:     cfg.MaxResponseBytes,
		unreachable: cfg.Unreachable,
		defaultCode: cfg.DefaultCode,
		connectWait: max(cfg.ConnectTimeout, 0),
		headerWait:  max(cfg.HeaderTimeout, 0),
		onRetry:     cfg.OnRetry,
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	c.hc = withRedirectPolicy(c.hc)
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
	c.maxBackoff = max(c.maxBackoff, c.minBackoff)
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxResponseBytes
	}
	if c.unreachable == "" {
		c.unreachable = "endpoint"
	}
	if c.defaultCode == nil {
		c.defaultCode = StatusCode
	}
	return c, nil
}

// Endpoints returns the base URLs the client uses, in configured order.
func (c *Client) Endpoints() []string {
	out := make([]string, len(c.endpoints))
	for i, u := range c.endpoints {
		out[i] = u.String()
	}
	return out
}

// ParseEndpoints splits a comma-separated list of base URLs and validates
// each (http or https, a host, no query or fragment). example is shown in
// the error when the list is empty.
func ParseEndpoints(raw, example string) ([]*url.URL, error) {
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
		if example == "" {
			return nil, errors.New("url: required")
		}
		return nil, fmt.Errorf("url: required (e.g. %s)", example)
	}
	return eps, nil
}

// Request describes one API call before it is sent.
type Request struct {
	Method string
	// Path is appended to the endpoint's base path; it must be escaped.
	Path  string
	Query url.Values
	// Body is sent as application/json (nil: no body).
	Body []byte
	// Header holds extra headers. Accept defaults to application/json.
	Header http.Header
	// Idempotent marks a request safe to resend after a 503 or a broken
	// connection.
	Idempotent bool
	// NoRetry disables backoff and retries after a 503 (probes); failover
	// of a request that was never sent still happens.
	NoRetry bool
}

// NewRequest returns a request whose body is body encoded as JSON (no body
// when body is nil).
func NewRequest(method, path string, body any) (*Request, error) {
	r := &Request{Method: method, Path: path, Header: http.Header{}}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request body: %w", err)
		}
		r.Body = b
	}
	return r, nil
}

// Response is a fully read answer with a 2xx status.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Call sends r and decodes the JSON answer into out (when out is non-nil).
func (c *Client) Call(ctx context.Context, r *Request, out any) (*Response, error) {
	resp, err := c.Do(ctx, r)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return nil, fmt.Errorf("%s %s: decode response: %w", r.Method, r.Path, err)
		}
	}
	return resp, nil
}

// Do sends r, retrying and failing over as the package doc describes, and
// returns the 2xx response or an error (*Error for API errors).
func (c *Client) Do(ctx context.Context, r *Request) (*Response, error) {
	n := len(c.endpoints)
	start := int(c.current.Load())
	began := time.Now()
	var lastErr error
	tried := 0   // endpoints tried since the last backoff
	retries := 0 // backoffs done
	for i := start; ; i++ {
		idx := i % n
		var lim limits
		if tried < n-1 {
			lim.connect = c.connectWait
			if r.Idempotent {
				lim.header = c.headerWait
			}
		}
		resp, err := c.once(ctx, c.endpoints[idx], r, lim)
		if err == nil {
			c.current.Store(uint32(idx))
			return resp, nil
		}
		var apiErr *Error
		isAPI := errors.As(err, &apiErr)
		switch {
		case isAPI && apiErr.Status == http.StatusServiceUnavailable && r.Idempotent && !r.NoRetry:
		case !isAPI && IsNotSent(err):
		case !isAPI && r.Idempotent:
		default:
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		}
		lastErr = err
		tried++
		if !isAPI && tried < n {
			c.report(idx, (i+1)%n, 0, err)
			continue // fail over at once to the next endpoint
		}
		if retries >= c.maxRetries || r.NoRetry || isCertificateError(err) {
			break // a certificate is refused again on a retry
		}
		if c.retryBudget > 0 && time.Since(began) >= c.retryBudget {
			break
		}
		retries++
		tried = 0
		wait := backoff.Policy{Min: c.minBackoff, Max: c.maxBackoff}.Jittered(retries)
		if isAPI && apiErr.RetryAfter > 0 {
			wait = min(apiErr.RetryAfter, c.maxBackoff)
		}
		c.report(idx, (i+1)%n, wait, err)
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
	return nil, fmt.Errorf("no %s reachable (%d tried): %w", c.unreachable, n, lastErr)
}

// IsNotSent reports whether err happened before any byte of the request
// reached a server, so resending cannot apply it twice.
func IsNotSent(err error) bool {
	var ns *notSentError
	if errors.As(err, &ns) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// once sends one attempt of r to base within the limits lim.
func (c *Client) once(ctx context.Context, base *url.URL, r *Request, lim limits) (*Response, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	target := base.Scheme + "://" + base.Host + base.EscapedPath() + r.Path // r.Path is escaped already
	if len(r.Query) > 0 {
		target += "?" + r.Query.Encode()
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	ctx, conn := traceConn(ctx)
	ctx, wd := startWatchdog(ctx, conn, lim)
	defer wd.stop()
	req, err := http.NewRequestWithContext(ctx, r.Method, target, body)
	if err != nil {
		return nil, err
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if _, ok := req.Header["Accept"]; !ok {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", c.userAgent)
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.hc.Do(req)
	if cause := wd.fired(); cause != nil {
		if err == nil {
			resp.Body.Close()
		}
		err = fmt.Errorf("%s %s: %w", r.Method, target, cause)
	}
	if err != nil {
		if !conn.obtained() {
			return nil, &notSentError{err}
		}
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response: %w", r.Method, target, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, DecodeError(resp.StatusCode, resp.Header, data, c.defaultCode)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}
