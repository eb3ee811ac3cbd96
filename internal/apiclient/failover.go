package apiclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// Errors of an attempt cut short to fail over (Config.ConnectTimeout,
// Config.HeaderTimeout): the endpoint gave no connection (dial or TLS
// handshake unfinished), or took the request but sent no response headers.
var (
	ErrConnectTimeout = errors.New("no connection")
	ErrHeaderTimeout  = errors.New("no response")
)

// Retry describes a failed attempt and the attempt that follows it
// (Config.OnRetry).
type Retry struct {
	// Endpoint is the base URL the failed attempt went to; Next is the one
	// tried next (the same one when a single endpoint is retried).
	Endpoint, Next string
	// Err is why the attempt failed.
	Err error
	// Wait is the backoff before the next attempt; zero for an immediate
	// failover to the next endpoint.
	Wait time.Duration
}

// report calls the OnRetry hook, if any, for an attempt on endpoint from
// that failed with err before an attempt on endpoint to.
func (c *Client) report(from, to int, wait time.Duration, err error) {
	if c.onRetry == nil {
		return
	}
	c.onRetry(Retry{Endpoint: c.endpoints[from].Redacted(), Next: c.endpoints[to].Redacted(), Err: err, Wait: wait})
}

// notSentError marks an attempt that failed before the transport obtained
// a connection (dial, DNS, TLS handshake): no byte of the request reached
// a server, so any request may be resent elsewhere.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// connTrace records whether an attempt's transport obtained a connection.
// A connection is obtained after the TLS handshake, so a server that
// accepts TCP connections but never completes the handshake (a stopped
// process: the kernel still accepts) leaves it unset.
type connTrace struct{ got atomic.Bool }

func traceConn(ctx context.Context) (context.Context, *connTrace) {
	t := &connTrace{}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { t.got.Store(true) },
	}), t
}

func (t *connTrace) obtained() bool { return t.got.Load() }

// limits are the failover bounds of one attempt (Config.ConnectTimeout
// and HeaderTimeout); zero fields do not apply.
type limits struct{ connect, header time.Duration }

// watchdog ends an attempt that exceeds its limits.
type watchdog struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	timers []*time.Timer
}

// startWatchdog returns a context for the attempt that ends with
// ErrConnectTimeout when conn has not obtained a connection by
// lim.connect, or at lim.header with ErrHeaderTimeout (ErrConnectTimeout
// if there is still no connection).
func startWatchdog(ctx context.Context, conn *connTrace, lim limits) (context.Context, *watchdog) {
	w := &watchdog{}
	w.ctx, w.cancel = context.WithCancelCause(ctx)
	if lim.connect > 0 {
		w.timers = append(w.timers, time.AfterFunc(lim.connect, func() {
			if !conn.obtained() {
				w.cancel(fmt.Errorf("%w within %v", ErrConnectTimeout, lim.connect))
			}
		}))
	}
	if lim.header > 0 {
		w.timers = append(w.timers, time.AfterFunc(lim.header, func() {
			if !conn.obtained() { // the more precise report
				w.cancel(fmt.Errorf("%w within %v", ErrConnectTimeout, lim.header))
				return
			}
			w.cancel(fmt.Errorf("%w within %v", ErrHeaderTimeout, lim.header))
		}))
	}
	return w.ctx, w
}

// fired stops the timers and returns the limit that ended the attempt,
// nil when none did; call it once the transport answered.
func (w *watchdog) fired() error {
	for _, t := range w.timers {
		t.Stop()
	}
	cause := context.Cause(w.ctx)
	if errors.Is(cause, ErrConnectTimeout) || errors.Is(cause, ErrHeaderTimeout) {
		return cause
	}
	return nil
}

// stop releases the watchdog's context.
func (w *watchdog) stop() {
	for _, t := range w.timers {
		t.Stop()
	}
	w.cancel(nil)
}

// isCertificateError reports whether err is a refused server certificate
// (unknown authority, wrong host name, expired): retrying cannot help.
func isCertificateError(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid)
}
