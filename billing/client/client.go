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
// Responses are billing/contract's wire types (contract.Tenant,
// contract.Invoice, ...), the API's JSON shapes; the package links no
// storage (the dependency rule test in internal/deprules keeps it so).
package client

import (
	"context"
	"crypto/tls"
	"errors"
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
	// TLS, when set and HTTPClient is nil, is the built transport's TLS
	// configuration for https URLs (e.g. the CA from internal/clientopts);
	// nil means the system roots.
	TLS *tls.Config
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
	// ConnectTimeout and HeaderTimeout, when positive, move a request on
	// to the next endpoint when one gives no connection (dial and TLS
	// handshake) in ConnectTimeout, or, for an idempotent request, sends
	// no response headers in HeaderTimeout (a stopped process); the last
	// endpoint of a pass waits up to Timeout. Zero disables them.
	ConnectTimeout, HeaderTimeout time.Duration
	// RetryBudget, when positive, stops the retries of a call that has
	// run this long (after the current pass over the replicas); zero
	// retries up to MaxRetries however long that takes.
	RetryBudget time.Duration
	// OnRetry, when set, is called before each attempt that follows a
	// failed one (failover or retry), e.g. to report it; it must not block.
	OnRetry func(Retry)
}

// Retry describes a failed attempt and the one that follows it
// (Config.OnRetry).
type Retry = apiclient.Retry

// Client talks to a billing service through one or more replicas.
type Client struct {
	api *apiclient.Client
}

// New validates cfg and returns a Client. It does no I/O.
func New(cfg Config) (*Client, error) {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			TLSClientConfig:     cfg.TLS,
		}}
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = "aerolith-billing-client"
	}
	api, err := apiclient.New(apiclient.Config{
		URL:              cfg.URL,
		ExampleURL:       "http://127.0.0.1:7080",
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
		Unreachable:      "billing endpoint",
	})
	if err != nil {
		return nil, err
	}
	if strings.ContainsFunc(cfg.Key, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, errors.New("key: contains whitespace or control characters")
	}
	return &Client{api: api}, nil
}

// Endpoints returns the base URLs the client uses, in configured order.
func (c *Client) Endpoints() []string { return c.api.Endpoints() }

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
type Error = apiclient.Error

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

func hasStatus(err error, status int) bool { return apiclient.HasStatus(err, status) }

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
	ar, err := apiclient.NewRequest(method, path, body)
	if err != nil {
		return nil, err
	}
	r := &request{method: method, path: path, body: ar.Body, accept: "application/json"}
	r.idempotent = method == http.MethodGet || method == http.MethodHead
	return r, nil
}

func (r *request) api() *apiclient.Request {
	return &apiclient.Request{
		Method:     r.method,
		Path:       r.path,
		Query:      r.query,
		Body:       r.body,
		Header:     http.Header{"Accept": {r.accept}},
		Idempotent: r.idempotent,
	}
}

// do sends r, retrying and failing over as the package doc describes, and
// returns the body of the 2xx response.
func (c *Client) do(ctx context.Context, r *request) ([]byte, error) {
	resp, err := c.api.Do(ctx, r.api())
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// call sends r and decodes the JSON answer into out (when non-nil).
func (c *Client) call(ctx context.Context, r *request, out any) error {
	_, err := c.api.Call(ctx, r.api(), out)
	return err
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
