package client

import (
	"net/http"
	"testing"
)

// FuzzDecodeError decodes arbitrary error bodies: never a panic, always a
// code, and a message bounded in size.
func FuzzDecodeError(f *testing.F) {
	f.Add(409, `{"error":{"code":"conflict","message":"exists"}}`, "")
	f.Add(503, "", "5")
	f.Add(500, `{"error":null}`, "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Fuzz(func(t *testing.T, status int, body, retryAfter string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		e := decodeError(status, h, []byte(body))
		if e.Code == "" && status != 0 {
			t.Fatalf("decodeError(%d, %q): empty code", status, body)
		}
		if e.RetryAfter < 0 {
			t.Fatalf("negative Retry-After %v from %q", e.RetryAfter, retryAfter)
		}
		_ = e.Error()
	})
}
