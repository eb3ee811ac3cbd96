package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseEndpoints(t *testing.T) {
	tests := []struct {
		raw     string
		want    []string
		wantErr string
	}{
		{"127.0.0.1:7070", []string{"http://127.0.0.1:7070"}, ""},
		{"http://a:1/, https://b:2/base/", []string{"http://a:1", "https://b:2/base"}, ""},
		{" , ", nil, "url: required (e.g. http://example:1)"},
		{"ftp://a", nil, "scheme must be http or https"},
		{"http://", nil, "has no host"},
		{"http://a:1/?x=1", nil, "must not have a query or fragment"},
	}
	for _, tt := range tests {
		eps, err := ParseEndpoints(tt.raw, "http://example:1")
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseEndpoints(%q) error = %v, want %q", tt.raw, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("ParseEndpoints(%q): %v", tt.raw, err)
		}
		var got []string
		for _, u := range eps {
			got = append(got, u.String())
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("ParseEndpoints(%q) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

// flaky answers 503 to the first failures requests, then 200 with {"ok":true}.
func flaky(failures int32, hits *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= failures {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"code":"unavailable","message":"no leader"}}`)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	})
}

func newTestClient(t *testing.T, url string, edit func(*Config)) *Client {
	t.Helper()
	cfg := Config{URL: url, MaxRetries: 3, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Timeout: 30 * time.Second}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestRetryOn503(t *testing.T) {
	tests := []struct {
		name       string
		failures   int32
		idempotent bool
		noRetry    bool
		wantHits   int32
		wantErr    bool
	}{
		{"idempotent retried until success", 2, true, false, 3, false},
		{"idempotent bounded", 100, true, false, 4, true},
		{"not idempotent not retried", 1, false, false, 1, true},
		{"no retry", 1, true, true, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(flaky(tt.failures, &hits))
			defer srv.Close()
			c := newTestClient(t, srv.URL, nil)
			var out struct{ OK bool }
			_, err := c.Call(context.Background(), &Request{Method: http.MethodPost, Path: "/x", Idempotent: tt.idempotent, NoRetry: tt.noRetry}, &out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Call error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !HasStatus(err, http.StatusServiceUnavailable) {
				t.Errorf("Call error = %v, want a 503 *Error", err)
			}
			if err == nil && !out.OK {
				t.Errorf("Call decoded %+v, want ok", out)
			}
			if got := hits.Load(); got != tt.wantHits {
				t.Errorf("server hits = %d, want %d", got, tt.wantHits)
			}
		})
	}
}

// deadURL returns the URL of a port nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestFailover(t *testing.T) {
	var hits atomic.Int32
	var gotHeader http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		gotHeader = r.Header.Clone()
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	c := newTestClient(t, deadURL(t)+","+srv.URL, func(cfg *Config) { cfg.Key = "k"; cfg.UserAgent = "ua" })
	// A POST that was never sent (connection refused) fails over too.
	r, err := NewRequest(http.MethodPost, "/x", map[string]int{"a": 1})
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("If-Match", "3")
	if _, err := c.Do(context.Background(), r); err != nil {
		t.Fatalf("Do with first endpoint down: %v", err)
	}
	want := map[string]string{"Authorization": "Bearer k", "User-Agent": "ua", "Accept": "application/json",
		"Content-Type": "application/json", "If-Match": "3"}
	for k, v := range want {
		if got := gotHeader.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	// The working endpoint is remembered.
	if _, err := c.Do(context.Background(), &Request{Method: http.MethodGet, Path: "/x", Idempotent: true}); err != nil {
		t.Fatal(err)
	}
	if got := hits.Load(); got != 2 {
		t.Errorf("server hits = %d, want 2", got)
	}
}

func TestAllEndpointsDown(t *testing.T) {
	c := newTestClient(t, deadURL(t)+","+deadURL(t), func(cfg *Config) { cfg.Unreachable = "test endpoint" })
	_, err := c.Do(context.Background(), &Request{Method: http.MethodGet, Path: "/x", Idempotent: true})
	if err == nil || !strings.Contains(err.Error(), "no test endpoint reachable (2 tried)") {
		t.Fatalf("Do with all endpoints down = %v, want 'no test endpoint reachable (2 tried)'", err)
	}
	var apiErr *Error
	if errors.As(err, &apiErr) {
		t.Errorf("Do error %v is an *Error, want a connection error", err)
	}
}

func TestContextCancelledDuringBackoff(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(flaky(1000, &hits))
	defer srv.Close()
	c := newTestClient(t, srv.URL, func(cfg *Config) { cfg.MinBackoff, cfg.MaxBackoff = time.Hour, time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, &Request{Method: http.MethodGet, Path: "/x", Idempotent: true})
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for hits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Do after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Do did not return after its context was cancelled")
	}
}
