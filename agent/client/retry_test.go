package client_test

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

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/agent/client/clienttest"
)

// flaky answers 503 to the first `failures` requests, then 200 with a document.
func flaky(failures int32, hits *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= failures {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"code":"unavailable","message":"no leader"}}`)
			return
		}
		status := http.StatusOK
		if r.Method == http.MethodPost {
			status = http.StatusCreated
		}
		w.WriteHeader(status)
		fmt.Fprint(w, `{"id":"x","data":{},"version":1,"documents":[],"total":0}`)
	})
}

func TestRetryOn503(t *testing.T) {
	tests := []struct {
		name      string
		failures  int32
		call      func(*client.Client) error
		wantHits  int32
		wantError bool
	}{
		{"get retried until success", 2, func(c *client.Client) error { _, err := c.Get(context.Background(), "c", "x"); return err }, 3, false},
		{"put retried", 1, func(c *client.Client) error {
			_, err := c.Put(context.Background(), "c", "x", map[string]int{})
			return err
		}, 2, false},
		{"query retried", 1, func(c *client.Client) error { _, err := c.Query(context.Background(), "c", client.Query{}); return err }, 2, false},
		{"batch of puts retried", 1, func(c *client.Client) error {
			_, err := c.Batch(context.Background(), []client.BatchOp{{Op: client.OpPut, Collection: "c", ID: "x", Data: map[string]int{}}})
			return err
		}, 2, false},
		{"create not retried", 1, func(c *client.Client) error {
			_, err := c.Create(context.Background(), "c", map[string]int{})
			return err
		}, 1, true},
		{"batch of puts without ids not retried", 1, func(c *client.Client) error {
			_, err := c.Batch(context.Background(), []client.BatchOp{{Op: client.OpPut, Collection: "c", Data: map[string]int{}}})
			return err
		}, 1, true},
		{"batch with delete not retried", 1, func(c *client.Client) error {
			_, err := c.Batch(context.Background(), []client.BatchOp{{Op: client.OpDelete, Collection: "c", ID: "x"}})
			return err
		}, 1, true},
		{"conditional put not retried", 1, func(c *client.Client) error {
			_, err := c.Put(context.Background(), "c", "x", map[string]int{}, client.IfMatch(1))
			return err
		}, 1, true},
		{"delete not retried", 1, func(c *client.Client) error { return c.Delete(context.Background(), "c", "x") }, 1, true},
		{"ready probe not retried", 1, func(c *client.Client) error { return c.Ready(context.Background()) }, 1, true},
		{"bounded", 100, func(c *client.Client) error { _, err := c.Get(context.Background(), "c", "x"); return err }, 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(flaky(tt.failures, &hits))
			defer srv.Close()
			c := newClient(t, srv.URL, func(c *client.Config) { c.MaxRetries = 3 })
			err := tt.call(c)
			if got := hits.Load(); got != tt.wantHits {
				t.Errorf("server saw %d requests, want %d", got, tt.wantHits)
			}
			if (err != nil) != tt.wantError {
				t.Fatalf("error = %v, want error: %v", err, tt.wantError)
			}
			if err != nil && !client.IsUnavailable(err) {
				t.Errorf("error = %v, want IsUnavailable", err)
			}
		})
	}
}

func TestRetriesDisabled(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(flaky(5, &hits))
	defer srv.Close()
	c := newClient(t, srv.URL, func(c *client.Config) { c.MaxRetries = -1 })
	if _, err := c.Get(context.Background(), "c", "x"); !client.IsUnavailable(err) || hits.Load() != 1 {
		t.Errorf("Get = %v after %d requests, want unavailable after 1", err, hits.Load())
	}
}

func TestFailover(t *testing.T) {
	srv := clienttest.NewServer(testKey)
	defer srv.Close()
	dead := closedAddr(t)
	c := newClient(t, dead+","+srv.URL)
	ctx := context.Background()
	// A create is not idempotent, but a refused connection never sent it,
	// so it fails over to the live endpoint.
	d, err := c.Create(ctx, "c", map[string]int{"n": 1})
	if err != nil {
		t.Fatalf("Create via failover = %v", err)
	}
	if srv.Count("c") != 1 {
		t.Errorf("server holds %d documents, want 1", srv.Count("c"))
	}
	if _, err := c.Get(ctx, "c", d.ID); err != nil {
		t.Errorf("Get after failover = %v", err)
	}

	all := newClient(t, closedAddr(t)+","+closedAddr(t), func(c *client.Config) { c.MaxRetries = 1 })
	_, err = all.Get(ctx, "c", "x")
	if err == nil || !strings.Contains(err.Error(), "no endpoint reachable") {
		t.Errorf("Get with all endpoints down = %v, want 'no endpoint reachable'", err)
	}
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		t.Errorf("connection error surfaced as API error %v", apiErr)
	}
}

// TestBrokenConnection checks that a request whose connection breaks after
// it was sent is retried only when idempotent.
func TestBrokenConnection(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id":"x","data":{},"version":1}`)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	if _, err := c.Put(context.Background(), "c", "x", map[string]int{}); err != nil || hits.Load() != 2 {
		t.Errorf("Put over a broken connection = %v after %d requests, want success after 2", err, hits.Load())
	}
	hits.Store(0)
	if _, err := c.Create(context.Background(), "c", map[string]int{}); err == nil || hits.Load() != 1 {
		t.Errorf("Create over a broken connection = %v after %d requests, want an error after 1", err, hits.Load())
	}
	// Resending a conditional put that was applied would turn its success
	// into a 412.
	hits.Store(0)
	if _, err := c.Put(context.Background(), "c", "x", map[string]int{}, client.IfMatch(1)); err == nil || hits.Load() != 1 {
		t.Errorf("conditional Put over a broken connection = %v after %d requests, want an error after 1", err, hits.Load())
	}
}

func TestContextCancelStopsRetrying(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(flaky(1<<30, &hits))
	defer srv.Close()
	c := newClient(t, srv.URL, func(c *client.Config) {
		c.MaxRetries = 1000
		c.MinBackoff = 20 * time.Millisecond
		c.MaxBackoff = 20 * time.Millisecond
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.Get(ctx, "c", "x"); done <- err }()
	deadline := time.Now().Add(30 * time.Second)
	for hits.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Get after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Get did not return after its context was cancelled")
	}
}

func TestConcurrentUse(t *testing.T) {
	srv := clienttest.NewServer(testKey)
	defer srv.Close()
	c := newClient(t, srv.URL)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 8 {
				id := fmt.Sprintf("g%d-%d", g, i)
				if _, err := c.Put(context.Background(), "conc", id, map[string]int{"g": g, "i": i}); err != nil {
					errs <- err
					return
				}
				if _, err := c.Get(context.Background(), "conc", id); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := srv.Count("conc"); n != 128 {
		t.Errorf("server holds %d documents, want 128", n)
	}
}
