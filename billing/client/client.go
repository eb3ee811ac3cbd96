// Package client is the Go client for the billing service's HTTP API
// (`aerolith billing serve`): tenants, clusters and enrollment, usage
// ingestion and series, invoices, payments, policies and pricing.
//
// A Client is safe for concurrent use and keeps a connection pool per
// endpoint; share one. It retries requests that are safe to resend (reads,
// usage batches, which are idempotent by (cluster_id, node_id, seq), and
// finalization, which is idempotent) after a 503 or a connection error,
// with exponential backoff and a bound, and fails over between the
// endpoints of a comma-separated URL (any billing replica serves; writes
// are forwarded to the leader). Requests that were never sent (connection
// refused) are retried for every method.
//
// API errors are *Error; branch with IsNotFound, IsConflict and friends.
// Responses reuse the ledger's types (ledger.Tenant, ledger.Invoice, ...),
// which are the API's JSON shapes.
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
	"strconv"
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
const maxResponseBytes = 64 << 20

// Config configures a Client. Only URL is required.
type Config struct {
	// URL is the billing service's base URL, e.g. "http://127.0.0.1:7080".
	// Several replicas may be given separated by commas. A missing scheme
	// means http.
	URL string
	// Key is the bearer credential: an admin key, a tenant read key or a
	// cluster enrollment token.
	Key string
	// HTTPClient, when set, is used as is.
	HTTPClient *http.Client
	// Timeout bounds each attempt. Zero means DefaultTimeout; negative
	// means no timeout beyond the caller's context.
	Timeout time.Duration
	// MaxRetries bounds the retries of one call (a pass over all endpoints
	// counts as one). Zero means DefaultMaxRetries; negative disables
	// retries.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the backoff between retries.
	MinBackoff, MaxBackoff time.Duration
	// UserAgent is sent as User-Agent (default "aerolith-billing-client").
	UserAgent string
}

// Client talks to a billing service through one or more replicas.
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
	c := &Client{endpoints: eps, key: cfg.Key, hc: cfg.HTTPClient, timeout: cfg.Timeout, maxRetries: cfg.MaxRetries,
		minBackoff: cfg.MinBackoff, maxBackoff: cfg.MaxBackoff, userAgent: cfg.UserAgent}
	if strings.ContainsFunc(c.key, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, errors.New("key: contains whitespace or control characters")
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		}}
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
	c.maxBackoff = max(c.maxBackoff, c.minBackoff)
	if c.userAgent == "" {
		c.userAgent = "aerolith-billing-client"
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
		return nil, errors.New("url: required (e.g. http://127.0.0.1:7080)")
	}
	return eps, nil
}

// Error codes of the billing API's error body.
const (
	CodeInvalidArgument    = "invalid_argument"
	CodeUnauthenticated    = "unauthenticated"
	CodePermissionDenied   = "permission_denied"
	CodeNotFound           = "not_found"
	CodeConflict           = "conflict"
	CodeFailedPrecondition = "failed_precondition"
	CodeTooLarge           = "too_large"
	CodeUnavailable        = "unavailable"
	CodeInternal           = "internal"
)

// Error is a non-2xx answer. Code and Message come from the
// {"error":{"code","message"}} body.
type Error struct {
	Status  int
	Code    string
	Message string
	// RetryAfter is the server's Retry-After hint (zero when absent).
	RetryAfter time.Duration
}

// Error returns the server's message followed by the status and code.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = strings.ToLower(http.StatusText(e.Status))
	}
	return fmt.Sprintf("%s (%d %s)", msg, e.Status, e.Code)
}

// IsNotFound reports a 404.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict reports a 409: an id or external reference in use, or (code
// failed_precondition) an entity in the wrong state.
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// IsUnauthenticated reports a 401.
func IsUnauthenticated(err error) bool { return hasStatus(err, http.StatusUnauthorized) }

// IsPermissionDenied reports a 403.
func IsPermissionDenied(err error) bool { return hasStatus(err, http.StatusForbidden) }

// IsInvalidArgument reports a 400.
func IsInvalidArgument(err error) bool { return hasStatus(err, http.StatusBadRequest) }

// IsUnavailable reports a 503 (returned only after retries ran out).
func IsUnavailable(err error) bool { return hasStatus(err, http.StatusServiceUnavailable) }

func hasStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// decodeError builds an *Error from a non-2xx response.
func decodeError(status int, header http.Header, body []byte) *Error {
	e := &Error{Status: status, Code: strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")}
	var wire struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &wire); err == nil && wire.Error != nil {
		if wire.Error.Code != "" {
			e.Code = wire.Error.Code
		}
		e.Message = wire.Error.Message
	} else {
		e.Message = strings.TrimSpace(string(body))
		if len(e.Message) > 256 {
			e.Message = e.Message[:256] + "..."
		}
	}
	if v := header.Get("Retry-After"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return e
}

// request describes one API call before it is sent.
type request struct {
	method     string
	path       string // already escaped
	query      url.Values
	body       []byte
	accept     string
	idempotent bool // safe to resend after a 503 or a broken connection
}

func newRequest(method, path string, body any) (*request, error) {
	r := &request{method: method, path: path, accept: "application/json"}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request body: %w", err)
		}
		r.body = b
	}
	r.idempotent = method == http.MethodGet || method == http.MethodHead
	return r, nil
}

// do sends r, retrying and failing over as the package doc describes, and
// returns the body of the 2xx response.
func (c *Client) do(ctx context.Context, r *request) ([]byte, error) {
	n := len(c.endpoints)
	start := int(c.current.Load())
	var lastErr error
	tried, retries := 0, 0
	for i := start; ; i++ {
		idx := i % n
		body, err := c.once(ctx, c.endpoints[idx], r)
		if err == nil {
			c.current.Store(uint32(idx))
			return body, nil
		}
		var apiErr *Error
		isAPI := errors.As(err, &apiErr)
		switch {
		case isAPI && apiErr.Status == http.StatusServiceUnavailable && r.idempotent:
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
			continue // fail over at once
		}
		if retries >= c.maxRetries {
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
	return nil, fmt.Errorf("no billing endpoint reachable (%d tried): %w", n, lastErr)
}

// backoff returns the delay before retry n (1-based): exponential, capped,
// with up to 50% jitter.
func (c *Client) backoff(n int) time.Duration {
	d := c.minBackoff
	for i := 1; i < n && d < c.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// isNotSent reports whether err happened before the request reached a
// server, so resending cannot apply it twice.
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

func (c *Client) once(ctx context.Context, base *url.URL, r *request) ([]byte, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	target := base.Scheme + "://" + base.Host + base.EscapedPath() + r.path
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
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", r.accept)
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
		return nil, fmt.Errorf("%s %s: read response: %w", r.method, r.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeError(resp.StatusCode, resp.Header, data)
	}
	return data, nil
}

// call sends r and decodes the JSON answer into out (when non-nil).
func (c *Client) call(ctx context.Context, r *request, out any) error {
	body, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%s %s: decode response: %w", r.method, r.path, err)
		}
	}
	return nil
}

// send builds and sends a request in one step.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, in, out any, idempotent bool) error {
	r, err := newRequest(method, path, in)
	if err != nil {
		return err
	}
	r.query = query
	r.idempotent = r.idempotent || idempotent
	return c.call(ctx, r, out)
}

// seg escapes one path segment.
func seg(s string) string { return url.PathEscape(s) }
