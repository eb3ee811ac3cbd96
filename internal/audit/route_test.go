package audit

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestServeRoute(t *testing.T) {
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		record  bool
		target  string
		outcome Outcome
		detail  map[string]string
	}{
		{"body only is 200", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("{}")) },
			true, "preset", OutcomeOK, map[string]string{"status": "OK"}},
		{"handler names target and detail", func(w http.ResponseWriter, r *http.Request) {
			NoteOf(r.Context()).Set("key:k1", "role", "read", "odd")
			w.WriteHeader(http.StatusCreated)
		}, true, "key:k1", OutcomeOK, map[string]string{"role": "read", "status": "Created"}},
		{"denied", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) },
			true, "preset", OutcomeOf(http.StatusForbidden), map[string]string{"status": "Forbidden"}},
		{"skipped success", func(w http.ResponseWriter, r *http.Request) { NoteOf(r.Context()).Skip = true },
			false, "", "", nil},
		{"skip does not hide a failure", func(w http.ResponseWriter, r *http.Request) {
			NoteOf(r.Context()).Skip = true
			w.WriteHeader(http.StatusInternalServerError)
		}, true, "preset", OutcomeOf(http.StatusInternalServerError), map[string]string{"status": "Internal Server Error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, ok := ServeRoute(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/x", nil), "preset", tt.handler)
			if ok != tt.record {
				t.Fatalf("record = %v, want %v", ok, tt.record)
			}
			if !ok {
				return
			}
			if ev.Target != tt.target || ev.Outcome != tt.outcome || len(ev.Detail) != len(tt.detail) {
				t.Fatalf("event = %+v, want target %q outcome %q detail %v", ev, tt.target, tt.outcome, tt.detail)
			}
			for k, v := range tt.detail {
				if ev.Detail[k] != v {
					t.Errorf("detail[%q] = %q, want %q", k, ev.Detail[k], v)
				}
			}
		})
	}
	// Outside ServeRoute a handler's note is a throwaway, never nil.
	NoteOf(httptest.NewRequest(http.MethodGet, "/", nil).Context()).Set("t", "k", "v")
}
