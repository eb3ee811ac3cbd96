package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/apiclient/apiclienttest"
)

// retries collects the OnRetry events of a client.
type retries struct {
	mu sync.Mutex
	ev []Retry
}

func (r *retries) add(e Retry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ev = append(r.ev, e)
}

func (r *retries) all() []Retry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Retry(nil), r.ev...)
}

func counting(hits *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `{"ok":true}`)
	})
}

func TestHeaderTimeoutFailover(t *testing.T) {
	silent := "http://" + apiclienttest.SilentAddr(t)
	var hits atomic.Int32
	live := httptest.NewServer(counting(&hits))
	defer live.Close()

	tests := []struct {
		name       string
		method     string
		idempotent bool
		wantOK     bool
	}{
		// A read moves on to the next node after HeaderTimeout.
		{"idempotent fails over", http.MethodGet, true, true},
		// A POST the silent node took may be applied when it resumes: it
		// is not resent elsewhere and fails after Timeout.
		{"non-idempotent stays", http.MethodPost, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			var rec retries
			c := newTestClient(t, silent+","+live.URL, func(cfg *Config) {
				cfg.HeaderTimeout = 50 * time.Millisecond
				cfg.Timeout = 500 * time.Millisecond
				cfg.OnRetry = rec.add
			})
			_, err := c.Do(context.Background(), &Request{Method: tt.method, Path: "/x", Idempotent: tt.idempotent})
			if tt.wantOK {
				if err != nil {
					t.Fatalf("Do = %v, want the live endpoint's answer", err)
				}
				ev := rec.all()
				if len(ev) != 1 || ev[0].Endpoint != silent || ev[0].Next != live.URL || !errors.Is(ev[0].Err, ErrHeaderTimeout) || ev[0].Wait != 0 {
					t.Fatalf("retries = %+v, want one immediate failover from %s to %s for ErrHeaderTimeout", ev, silent, live.URL)
				}
				if hits.Load() != 1 {
					t.Fatalf("live hits = %d, want 1", hits.Load())
				}
				return
			}
			if err == nil || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Do = %v, want the attempt's deadline", err)
			}
			if h := hits.Load(); h != 0 || len(rec.all()) != 0 {
				t.Fatalf("POST resent after the silent node took it: live hits %d, retries %+v", h, rec.all())
			}
		})
	}
}

// TestHeaderTimeoutSparesLastEndpoint: the last endpoint of a pass may take
// longer than HeaderTimeout (a slow query on a live cluster).
func TestHeaderTimeoutSparesLastEndpoint(t *testing.T) {
	silent := "http://" + apiclienttest.SilentAddr(t)
	const headerWait = 50 * time.Millisecond
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(4 * headerWait) // the server's work, not synchronisation
		fmt.Fprint(w, `{}`)
	}))
	defer slow.Close()
	for _, urls := range []string{slow.URL, silent + "," + slow.URL} {
		c := newTestClient(t, urls, func(cfg *Config) { cfg.HeaderTimeout = headerWait })
		if _, err := c.Do(context.Background(), &Request{Method: http.MethodGet, Path: "/x", Idempotent: true}); err != nil {
			t.Fatalf("Do(%s) = %v, want the slow answer", urls, err)
		}
	}
}

// TestHandshakeTimeoutFailsOverAnyRequest: a node that never completes the
// TLS handshake got no byte of the request, so even a POST moves on, cut
// by ConnectTimeout or by the transport's handshake timeout.
func TestHandshakeTimeoutFailsOverAnyRequest(t *testing.T) {
	silent := "https://" + apiclienttest.SilentAddr(t)
	var hits atomic.Int32
	live := httptest.NewTLSServer(counting(&hits))
	defer live.Close()
	tests := []struct {
		name      string
		connect   time.Duration // Config.ConnectTimeout
		handshake time.Duration // the transport's TLSHandshakeTimeout
		want      string
	}{
		{"connect timeout", 50 * time.Millisecond, time.Hour, "no connection within 50ms"},
		{"transport handshake timeout", 0, 200 * time.Millisecond, "handshake timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			tr := live.Client().Transport.(*http.Transport).Clone()
			tr.TLSHandshakeTimeout = tt.handshake
			var rec retries
			c := newTestClient(t, silent+","+live.URL, func(cfg *Config) {
				cfg.HTTPClient = &http.Client{Transport: tr}
				cfg.ConnectTimeout = tt.connect
				cfg.OnRetry = rec.add
			})
			if _, err := c.Do(context.Background(), &Request{Method: http.MethodPost, Path: "/x", Body: []byte(`{}`)}); err != nil {
				t.Fatalf("POST with the first node silent = %v, want the second's answer", err)
			}
			// Under load the live node's handshake may time out too (the
			// transport's limit applies to both) and be retried: only the
			// first event is certain.
			ev := rec.all()
			if len(ev) == 0 || ev[0].Endpoint != silent || ev[0].Next != live.URL || !IsNotSent(ev[0].Err) || !strings.Contains(ev[0].Err.Error(), tt.want) {
				t.Fatalf("retries = %+v, want a failover from %s with %q first", ev, silent, tt.want)
			}
			if hits.Load() != 1 {
				t.Fatalf("live hits = %d, want 1", hits.Load())
			}
		})
	}
}

// TestConnectTimeoutSparesLastEndpoint: the connect limit applies only
// while another endpoint remains; the last one gets the transport's.
func TestConnectTimeoutSparesLastEndpoint(t *testing.T) {
	silent := "https://" + apiclienttest.SilentAddr(t)
	tr := &http.Transport{TLSHandshakeTimeout: 300 * time.Millisecond}
	c := newTestClient(t, silent, func(cfg *Config) {
		cfg.HTTPClient = &http.Client{Transport: tr}
		cfg.ConnectTimeout = time.Millisecond
		cfg.MaxRetries = -1
	})
	_, err := c.Do(context.Background(), &Request{Method: http.MethodGet, Path: "/x", Idempotent: true})
	if err == nil || errors.Is(err, ErrConnectTimeout) || !strings.Contains(err.Error(), "handshake timeout") {
		t.Fatalf("Do on a single silent endpoint = %v, want the transport's handshake timeout", err)
	}
}

// TestCertificateErrorNotRetried: a refused certificate fails at once, with
// no backoff and retries that would be refused the same way.
func TestCertificateErrorNotRetried(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(counting(&hits))
	defer srv.Close()
	var rec retries
	c := newTestClient(t, srv.URL, func(cfg *Config) {
		cfg.HTTPClient = &http.Client{Transport: &http.Transport{}} // system roots: the test CA is unknown
		cfg.OnRetry = rec.add
	})
	_, err := c.Do(context.Background(), &Request{Method: http.MethodGet, Path: "/x", Idempotent: true})
	if err == nil || !isCertificateError(err) {
		t.Fatalf("Do = %v, want a certificate error", err)
	}
	if ev := rec.all(); len(ev) != 0 {
		t.Fatalf("retries = %+v, want none", ev)
	}
}

// TestRetryBudget: a single endpoint that never completes the TLS
// handshake (a stopped process) was retried MaxRetries times, each
// attempt costing the transport's handshake timeout (the CLI took 61 s).
// With a RetryBudget no pass starts once the call has run that long.
func TestRetryBudget(t *testing.T) {
	silent := "https://" + apiclienttest.SilentAddr(t)
	const handshake = 100 * time.Millisecond
	for _, tt := range []struct {
		name   string
		budget time.Duration
		// every attempt lasts at least the handshake timeout, so the
		// budget allows at most ceil(budget/handshake) of them
		maxAttempts int
	}{
		{"no budget", 0, 1 + DefaultMaxRetries},
		{"budget", 250 * time.Millisecond, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var rec retries
			c := newTestClient(t, silent, func(cfg *Config) {
				cfg.HTTPClient = &http.Client{Transport: &http.Transport{TLSHandshakeTimeout: handshake}}
				cfg.RetryBudget = tt.budget
				cfg.MaxRetries = DefaultMaxRetries
				cfg.MinBackoff, cfg.MaxBackoff = time.Millisecond, time.Millisecond
				cfg.OnRetry = rec.add
			})
			_, err := c.Do(context.Background(), &Request{Method: http.MethodGet, Path: "/x", Idempotent: true})
			if err == nil || !strings.Contains(err.Error(), "handshake timeout") {
				t.Fatalf("Do = %v, want the handshake timeout", err)
			}
			attempts := len(rec.all()) + 1
			if tt.budget == 0 && attempts != tt.maxAttempts {
				t.Fatalf("%d attempts without a budget, want %d", attempts, tt.maxAttempts)
			}
			if attempts > tt.maxAttempts {
				t.Fatalf("%d attempts within a budget of %v, want at most %d", attempts, tt.budget, tt.maxAttempts)
			}
		})
	}
}
