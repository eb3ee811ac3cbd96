package apiclient

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
)

// Options is what a user of a public client (agent/client,
// billing/client) configures; both export it as their Config. Only URL is
// required. What differs between the two APIs is in Service.
type Options struct {
	// URL is the service's base URL, e.g. "http://127.0.0.1:7070" for an
	// agent or "http://127.0.0.1:7080" for billing. Several endpoints (an
	// agent's cluster members, billing's replicas) may be given separated
	// by commas; the client uses one at a time and moves to the next on
	// connection errors. A missing scheme means http.
	URL string
	// Key is the bearer credential sent with every request (none when
	// empty): an agent API key, or billing's admin key, a tenant's billing
	// key or a cluster enrollment token. The client does not care which.
	Key string
	// HTTPClient, when set, is used as is. Otherwise the client builds one
	// with NewTransport, tuned for many concurrent callers.
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
	// UserAgent is sent as the User-Agent header (default: the client's
	// own, "aerolith-go-client" or "aerolith-billing-client").
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

// Service is what one API's public client fixes for all its users.
type Service struct {
	// ExampleURL is shown in the error for an empty URL.
	ExampleURL string
	// UserAgent is the default User-Agent.
	UserAgent string
	// MaxResponseBytes bounds how much of a response body is read.
	MaxResponseBytes int64
	// Unreachable and DefaultCode are Config's.
	Unreachable string
	DefaultCode func(status int) string
	// CheckKey refuses a key with whitespace or control characters (it
	// could only be a paste gone wrong) when the client is built.
	CheckKey bool
}

// Open validates o and returns a Client for svc. It does no I/O.
func Open(o Options, svc Service) (*Client, error) {
	hc := o.HTTPClient
	if hc == nil {
		t := NewTransport()
		t.TLSClientConfig = o.TLS
		hc = &http.Client{Transport: t}
	}
	ua := o.UserAgent
	if ua == "" {
		ua = svc.UserAgent
	}
	c, err := New(Config{
		URL:              o.URL,
		ExampleURL:       svc.ExampleURL,
		Key:              o.Key,
		HTTPClient:       hc,
		Timeout:          o.Timeout,
		MaxRetries:       o.MaxRetries,
		MinBackoff:       o.MinBackoff,
		MaxBackoff:       o.MaxBackoff,
		UserAgent:        ua,
		MaxResponseBytes: svc.MaxResponseBytes,
		ConnectTimeout:   o.ConnectTimeout,
		HeaderTimeout:    o.HeaderTimeout,
		RetryBudget:      o.RetryBudget,
		OnRetry:          o.OnRetry,
		Unreachable:      svc.Unreachable,
		DefaultCode:      svc.DefaultCode,
	})
	if err != nil {
		return nil, err
	}
	if svc.CheckKey && strings.ContainsFunc(o.Key, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, errors.New("key: contains whitespace or control characters")
	}
	return c, nil
}

// NewTransport returns the HTTP transport Open uses when
// Options.HTTPClient is nil: keep-alive pools sized for hundreds of
// concurrent callers per host.
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

// Predicates on the *Error a call returns, by status.

// IsNotFound reports a 404.
func IsNotFound(err error) bool { return HasStatus(err, http.StatusNotFound) }

// IsConflict reports a 409: something exists already or (code
// failed_precondition) is in the wrong state.
func IsConflict(err error) bool { return HasStatus(err, http.StatusConflict) }

// IsPreconditionFailed reports a 412: an If-Match version did not match.
func IsPreconditionFailed(err error) bool { return HasStatus(err, http.StatusPreconditionFailed) }

// IsUnauthenticated reports a 401.
func IsUnauthenticated(err error) bool { return HasStatus(err, http.StatusUnauthorized) }

// IsPermissionDenied reports a 403.
func IsPermissionDenied(err error) bool { return HasStatus(err, http.StatusForbidden) }

// IsInvalidArgument reports a 400.
func IsInvalidArgument(err error) bool { return HasStatus(err, http.StatusBadRequest) }

// IsTooLarge reports a 413.
func IsTooLarge(err error) bool { return HasStatus(err, http.StatusRequestEntityTooLarge) }

// IsUnavailable reports a 503 (returned only after retries ran out).
func IsUnavailable(err error) bool { return HasStatus(err, http.StatusServiceUnavailable) }
