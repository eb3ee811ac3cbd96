package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/apiclient"
)

// flaky answers 503 fail times, then runs ok.
func flaky(fail int32, ok http.HandlerFunc) (http.Handler, *atomic.Int32) {
	var calls atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= fail {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(503)
			io.WriteString(w, `{"error":{"code":"unavailable","message":"no billing leader available; retry shortly"}}`)
			return
		}
		ok(w, r)
	}), &calls
}

func newTestClient(t *testing.T, url, key string) *Client {
	t.Helper()
	c, err := New(Config{URL: url, Key: key, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxRetries: 3})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRetries(t *testing.T) {
	usageOK := func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer aet_token" || r.URL.Path != "/api/v1/usage" {
			t.Errorf("request %s %s auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		var body struct {
			Records []UsageRecord `json:"records"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Records) != 1 || body.Records[0].Start.IsZero() {
			t.Errorf("usage body %+v, %v", body, err)
		}
		io.WriteString(w, `{"accepted":1,"duplicates":0,"rejected":0,"records":[{"status":"accepted"}]}`)
	}
	tests := []struct {
		name      string
		fail      int32
		call      func(c *Client) error
		wantErr   func(error) bool
		wantCalls int32
	}{
		{"usage retried after 503", 2, func(c *Client) error {
			res, err := c.SendUsage(context.Background(), []UsageRecord{{NodeID: "n1", Seq: 1, TenantID: "t", Start: time.Unix(0, 0), End: time.Unix(60, 0)}})
			if err == nil && res.Records[0].Status != RecordAccepted {
				return errors.New("wrong status")
			}
			return err
		}, nil, 3},
		{"usage gives up after MaxRetries", 10, func(c *Client) error {
			_, err := c.SendUsage(context.Background(), []UsageRecord{{NodeID: "n1", Seq: 1, TenantID: "t", Start: time.Unix(0, 0), End: time.Unix(60, 0)}})
			return err
		}, IsUnavailable, 4},
		{"create is not resent after 503", 1, func(c *Client) error {
			_, err := c.CreateTenant(context.Background(), TenantRequest{Name: "x"})
			return err
		}, IsUnavailable, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, calls := flaky(tc.fail, usageOK)
			srv := httptest.NewServer(h)
			defer srv.Close()
			err := tc.call(newTestClient(t, srv.URL, "aet_token"))
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("err = %v", err)
			case tc.wantErr != nil && !tc.wantErr(err):
				t.Fatalf("err = %v, want a matching error", err)
			}
			if calls.Load() != tc.wantCalls {
				t.Fatalf("calls = %d, want %d", calls.Load(), tc.wantCalls)
			}
		})
	}
}

func TestFailover(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id":"tn_1","tier":"free","status":"active"}`)
	}))
	defer srv.Close()
	c := newTestClient(t, "http://"+dead+","+srv.URL, "k")
	// Even a non-idempotent create fails over: it was never sent.
	ten, err := c.CreateTenant(context.Background(), TenantRequest{Name: "x"})
	if err != nil || ten.ID != "tn_1" {
		t.Fatalf("CreateTenant via failover = %+v, %v", ten, err)
	}
	if got := c.Endpoints(); len(got) != 2 || !strings.HasPrefix(got[1], "http://127.0.0.1") {
		t.Fatalf("Endpoints = %v", got)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		status int
		body   string
		is     func(error) bool
		code   string
	}{
		{404, `{"error":{"code":"not_found","message":"tenant \"x\" not found"}}`, IsNotFound, CodeNotFound},
		{409, `{"error":{"code":"failed_precondition","message":"tenant is active"}}`, IsConflict, CodeFailedPrecondition},
		{401, `{"error":{"code":"unauthenticated","message":"invalid key"}}`, IsUnauthenticated, CodeUnauthenticated},
		{403, `{"error":{"code":"permission_denied","message":"needs an admin key"}}`, IsPermissionDenied, CodePermissionDenied},
		{400, `{"error":{"code":"invalid_argument","message":"tier: unknown tier"}}`, IsInvalidArgument, CodeInvalidArgument},
		{502, `<html>bad gateway</html>`, func(err error) bool { return apiclient.HasStatus(err, 502) }, "bad_gateway"},
	}
	for _, tc := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			io.WriteString(w, tc.body)
		}))
		_, err := newTestClient(t, srv.URL, "k").GetTenant(context.Background(), "x")
		srv.Close()
		var e *Error
		if !tc.is(err) || !errors.As(err, &e) || e.Code != tc.code || e.Message == "" {
			t.Errorf("status %d: err = %#v, want code %s", tc.status, err, tc.code)
		}
	}
	// A reused payment reference is recognisable.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(409)
		io.WriteString(w, `{"error":{"code":"conflict","message":"external_ref: \"w\" is already recorded as payment \"pay_1\""}}`)
	}))
	defer srv.Close()
	_, err := newTestClient(t, srv.URL, "k").PayInvoice(context.Background(), "in_1", Payment{AmountCents: 1, ExternalRef: "w"})
	if !errors.Is(err, ErrPaymentRecorded) || !IsConflict(err) {
		t.Fatalf("reused reference: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []Config{{}, {URL: "ftp://x"}, {URL: "http://"}, {URL: "http://h/?q=1"}, {URL: "http://h", Key: "a b"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	c, err := New(Config{URL: "127.0.0.1:7080/, http://b:7080"})
	if err != nil || c.Endpoints()[0] != "http://127.0.0.1:7080" {
		t.Fatalf("New = %v, %v", c.Endpoints(), err)
	}
	if _, err := c.InvoiceDocument(context.Background(), "in_1", "pdf"); err == nil {
		t.Fatal("InvoiceDocument accepted pdf")
	}
}

// TestRetryBudget: the CLI's billing verbs against a stopped replica (it
// takes connections, never completes the TLS handshake) retried five
// times, each costing the transport's handshake timeout; RetryBudget stops
// the retries once the call has run that long.
func TestRetryBudget(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // held open, never answered
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	const handshake = 100 * time.Millisecond
	var retries atomic.Int32
	c, err := New(Config{
		URL: "https://" + l.Addr().String(), Key: "k",
		HTTPClient:  &http.Client{Transport: &http.Transport{TLSHandshakeTimeout: handshake}},
		MaxRetries:  5,
		MinBackoff:  time.Millisecond,
		MaxBackoff:  time.Millisecond,
		RetryBudget: 250 * time.Millisecond,
		OnRetry:     func(Retry) { retries.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetTenant(context.Background(), "tn_x"); err == nil || !strings.Contains(err.Error(), "handshake timeout") {
		t.Fatalf("GetTenant = %v, want the handshake timeout", err)
	}
	// Each attempt lasts at least the handshake timeout: the budget
	// allows three at most, where MaxRetries alone allows six.
	if n := retries.Load() + 1; n > 3 {
		t.Fatalf("%d attempts within a 250ms budget, want at most 3", n)
	}
}
