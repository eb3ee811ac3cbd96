package jsonapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMuxRefusesNonCanonicalPaths(t *testing.T) {
	tests := []struct {
		path      string
		wantMsg   string
		wantRoute string
	}{
		{"/items/..", `item id: ".." cannot be used`, "/items/{id}"},
		{"/items/%2F", `item id: "/" cannot be used`, "/items/{id}"},
		{"/items/%2f/", `request path "/items/%2f/"`, "unmatched"},
		{"/items/.", `item id: "." cannot be used`, "/items/{id}"},
		{"/items/%2E%2E", `item id: ".." cannot be used`, "/items/{id}"},
		{"/items/%2e", `item id: "." cannot be used`, "/items/{id}"},
		{"/items//", `request path "/items//" has an empty`, "unmatched"},
		{"//items/a", `request path "//items/a" has an empty`, "unmatched"},
		{"/items/a/..", `request path "/items/a/.." has an empty, "." or ".." segment`, "unmatched"},
		{"/nope/../items/a", `request path "/nope/../items/a"`, "unmatched"},
		{"/items/./a", `request path "/items/./a"`, "unmatched"},
	}
	for _, tt := range tests {
		for _, method := range []string{"GET", "DELETE", "POST", "PUT", "PATCH"} {
			t.Run(method+" "+tt.path, func(t *testing.T) {
				obs := &observed{}
				rec := httptest.NewRecorder()
				h := testHandlerWith(obs, WildcardNames(map[string]string{"id": "item id"}))
				h.ServeHTTP(rec, httptest.NewRequest(method, tt.path, nil))
				if rec.Code != http.StatusBadRequest {
					t.Fatalf("%s %s = %d %s, want 400", method, tt.path, rec.Code, rec.Body)
				}
				if loc := rec.Header().Get("Location"); loc != "" {
					t.Errorf("Location = %q on a refused path", loc)
				}
				var body ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("body %s: %v", rec.Body, err)
				}
				if body.Error.Code != CodeInvalidArgument || !strings.Contains(body.Error.Message, tt.wantMsg) {
					t.Errorf("error = %s %q, want invalid_argument containing %q", body.Error.Code, body.Error.Message, tt.wantMsg)
				}
				if len(obs.routes) != 1 || obs.routes[0] != tt.wantRoute {
					t.Errorf("observed routes %v, want [%s]", obs.routes, tt.wantRoute)
				}
			})
		}
	}
}

// TestMuxNeverRedirects sends paths http.ServeMux would clean or complete
// with a trailing slash: no method may get a 3xx.
func TestMuxNeverRedirects(t *testing.T) {
	paths := []string{
		"/items/..", "/items/../", "/items/.", "/items/a/..", "/items/a/../b", "//items/a", "/items//a", "/./items/a",
		"/items", "/items/", "/items/a/", "/panic/", "/nope/..", "/..", "/.", "//", "/items/%2E%2E", "/items/a%2F..",
		"/items/a%2F%2E%2E", "/items/..%2Fa",
	}
	for _, p := range paths {
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT"} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(m, p, nil)
			testHandler(&observed{}).ServeHTTP(rec, req)
			if rec.Code >= 300 && rec.Code < 400 {
				t.Errorf("%s %s = %d (Location %q), want no redirect", m, p, rec.Code, rec.Header().Get("Location"))
			}
		}
	}
}
