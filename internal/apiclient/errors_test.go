package apiclient

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestDecodeError(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name        string
		status      int
		body        string
		retryAfter  string
		defaultCode func(int) string
		want        Error
	}{
		{"api shape", 409, `{"error":{"code":"conflict","message":"exists"}}`, "", nil,
			Error{Status: 409, Code: "conflict", Message: "exists"}},
		{"api shape without code", 404, `{"error":{"message":"no such tenant"}}`, "", nil,
			Error{Status: 404, Code: "not_found", Message: "no such tenant"}},
		{"status text code", 500, `oops`, "", nil,
			Error{Status: 500, Code: "internal_server_error", Message: "oops"}},
		{"caller's default code", 500, ``, "", func(int) string { return "internal" },
			Error{Status: 500, Code: "internal"}},
		{"long body truncated", 502, long, "", nil,
			Error{Status: 502, Code: "bad_gateway", Message: long[:256] + "..."}},
		{"retry after seconds", 503, `{"error":{"code":"unavailable","message":"no leader"}}`, "3", nil,
			Error{Status: 503, Code: "unavailable", Message: "no leader", RetryAfter: 3 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.retryAfter != "" {
				h.Set("Retry-After", tt.retryAfter)
			}
			got := DecodeError(tt.status, h, []byte(tt.body), tt.defaultCode)
			if *got != tt.want {
				t.Errorf("DecodeError(%d, %q) = %+v, want %+v", tt.status, tt.body, *got, tt.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{Status: 409, Code: "conflict", Message: "exists"}, "exists (409 conflict)"},
		{Error{Status: 404, Code: "not_found"}, "not found (404 not_found)"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestHasStatus(t *testing.T) {
	wrapped := fmt.Errorf("get: %w", &Error{Status: 404})
	if !HasStatus(wrapped, 404) {
		t.Errorf("HasStatus(%v, 404) = false, want true", wrapped)
	}
	if HasStatus(wrapped, 409) {
		t.Errorf("HasStatus(%v, 409) = true, want false", wrapped)
	}
	if HasStatus(errors.New("plain"), 404) {
		t.Error("HasStatus(plain error, 404) = true, want false")
	}
}

func TestParseRetryAfter(t *testing.T) {
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		in       string
		min, max time.Duration
	}{
		{"", 0, 0},
		{"0", 0, 0},
		{" 7 ", 7 * time.Second, 7 * time.Second},
		{"-1", 0, 0},
		{"soon", 0, 0},
		{past, 0, 0},
		{future, 50 * time.Minute, time.Hour},
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.in); got < tt.min || got > tt.max {
			t.Errorf("ParseRetryAfter(%q) = %v, want in [%v, %v]", tt.in, got, tt.min, tt.max)
		}
	}
}

// FuzzDecodeError decodes arbitrary error bodies: never a panic, always a
// code, and a message bounded in size.
func FuzzDecodeError(f *testing.F) {
	f.Add(409, `{"error":{"code":"conflict","message":"exists"}}`, "")
	f.Add(503, "", "5")
	f.Add(500, `{"error":null}`, "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Fuzz(func(t *testing.T, status int, body, retryAfter string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		e := DecodeError(status, h, []byte(body), func(int) string { return "internal" })
		if e.Code == "" {
			t.Fatalf("DecodeError(%d, %q): empty code", status, body)
		}
		if e.RetryAfter < 0 {
			t.Fatalf("negative Retry-After %v from %q", e.RetryAfter, retryAfter)
		}
		if !strings.HasPrefix(body, "{") && len(e.Message) > maxFallbackMessage+3 {
			t.Fatalf("message of %d bytes from a non-JSON body", len(e.Message))
		}
		_ = e.Error()
	})
}
