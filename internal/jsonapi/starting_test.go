package jsonapi

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestStartingHandler(t *testing.T) {
	h := StartingHandler("n7", "10.0.0.7:7071", "10.0.0.7:7070")
	tests := []struct {
		path   string
		status int
	}{{"/health", 200}, {"/api/v1/cluster/self", 200}, {"/readyz", 503}, {"/api/v1/collections", 503}}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
		if rec.Code != tt.status {
			t.Fatalf("starting %s = %d, want %d", tt.path, rec.Code, tt.status)
		}
		if tt.status == 503 {
			var body ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != CodeUnavailable {
				t.Fatalf("starting %s: body %s, want code %s", tt.path, rec.Body, CodeUnavailable)
			}
			if rec.Header().Get("Retry-After") == "" {
				t.Fatalf("starting %s: 503 without Retry-After", tt.path)
			}
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/cluster/self", nil))
	var self StartingBody
	if err := json.Unmarshal(rec.Body.Bytes(), &self); err != nil || self != (StartingBody{"n7", "10.0.0.7:7071", "10.0.0.7:7070"}) {
		t.Fatalf("self = %s", rec.Body)
	}
}
