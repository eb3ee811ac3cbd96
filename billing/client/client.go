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
	"net/http"
	"net/url"

	"github.com/aerolithdb/aerolith/internal/apiclient"
)

// Config configures a Client (the fields are documented in
// internal/apiclient): only URL is required, e.g. "http://127.0.0.1:7080",
// or several replicas separated by commas. Key is the bearer credential:
// the admin key, a tenant's billing key, a tenant read key or a cluster
// enrollment token; the client does not care which.
type Config = apiclient.Options

// Retry describes a failed attempt and the one that follows it
// (Config.OnRetry).
type Retry = apiclient.Retry

// Client talks to a billing service through one or more replicas.
type Client struct {
	api *apiclient.Client
}

// New validates cfg and returns a Client. It does no I/O.
func New(cfg Config) (*Client, error) {
	api, err := apiclient.Open(cfg, apiclient.Service{
		ExampleURL:       "http://127.0.0.1:7080",
		UserAgent:        "aerolith-billing-client",
		MaxResponseBytes: 64 << 20,
		Unreachable:      "billing endpoint",
		CheckKey:         true,
	})
	if err != nil {
		return nil, err
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
func IsNotFound(err error) bool { return apiclient.IsNotFound(err) }

// IsConflict reports a 409: an id or external reference in use, or (code
// failed_precondition) an entity in the wrong state.
func IsConflict(err error) bool { return apiclient.IsConflict(err) }

// IsUnauthenticated reports a 401: no key, or one billing does not know
// (revoked, mistyped).
func IsUnauthenticated(err error) bool { return apiclient.IsUnauthenticated(err) }

// IsPermissionDenied reports a 403: the key is valid but may not do this
// (a tenant's key on another tenant's data, or on an admin-only route).
func IsPermissionDenied(err error) bool { return apiclient.IsPermissionDenied(err) }

// IsInvalidArgument reports a 400.
func IsInvalidArgument(err error) bool { return apiclient.IsInvalidArgument(err) }

// IsUnavailable reports a 503 (returned only after retries ran out).
func IsUnavailable(err error) bool { return apiclient.IsUnavailable(err) }

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
