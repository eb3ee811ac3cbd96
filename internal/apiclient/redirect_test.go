package apiclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestRedirectPolicy reproduces issue 10's client half: a DELETE answered
// with 307 was resent to the redirect's target (and a 301/302/303 turns it
// into a GET). Only GET and HEAD follow a redirect; any other method gets a
// redirect_refused *Error, at once (no retry), and the target sees nothing.
func TestRedirectPolicy(t *testing.T) {
	var mu sync.Mutex
	reached := map[string]int{} // method → requests at /target
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/target" {
			mu.Lock()
			reached[r.Method]++
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"ok":true}`))
			return
		}
		status := http.StatusTemporaryRedirect
		switch r.URL.Path {
		case "/moved":
			status = http.StatusMovedPermanently
		case "/found":
			status = http.StatusFound
		case "/see-other":
			status = http.StatusSeeOther
		case "/permanent":
			status = http.StatusPermanentRedirect
		}
		http.Redirect(w, r, "/target", status)
	}))
	defer srv.Close()
	// A caller's own policy still runs for GET.
	var ownCalls int
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { ownCalls++; return nil }}
	c, err := New(Config{URL: srv.URL, HTTPClient: hc, MaxRetries: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/temporary", "/moved", "/found", "/see-other", "/permanent"} {
		for _, method := range []string{"DELETE", "POST", "PUT", "PATCH"} {
			_, err := c.Do(context.Background(), &Request{Method: method, Path: path, Body: []byte(`{}`), Idempotent: true})
			var ae *Error
			if !errors.As(err, &ae) || ae.Code != "redirect_refused" || ae.Status < 300 || ae.Status > 399 {
				t.Fatalf("%s %s: error %v, want a redirect_refused *Error with the 3xx status", method, path, err)
			}
			if !strings.Contains(ae.Message, method+" "+path+" was answered with a redirect to /target") {
				t.Errorf("message %q does not name the request and the target", ae.Message)
			}
		}
		if _, err := c.Do(context.Background(), &Request{Method: "GET", Path: path}); err != nil {
			t.Fatalf("GET %s: %v, want the redirect followed", path, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reached) != 1 || reached["GET"] != 5 {
		t.Errorf("requests reaching the target by method = %v, want only the 5 GETs", reached)
	}
	if ownCalls != 5 {
		t.Errorf("the caller's CheckRedirect ran %d times, want 5 (once per followed GET)", ownCalls)
	}
	if hc.CheckRedirect == nil || c.hc == hc {
		t.Error("New changed the caller's http.Client instead of a copy")
	}
}
