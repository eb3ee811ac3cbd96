package jsonapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestErrorWriter(t *testing.T) {
	tests := []struct {
		status     int
		wantHeader map[string]string
	}{
		{http.StatusUnauthorized, map[string]string{"WWW-Authenticate": `Bearer realm="test"`, "Retry-After": ""}},
		{http.StatusServiceUnavailable, map[string]string{"Retry-After": "1", "WWW-Authenticate": ""}},
		{http.StatusNotFound, map[string]string{"Retry-After": "", "WWW-Authenticate": ""}},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		ErrorWriter{Realm: "test"}.Write(rec, tt.status, "some_code", "a <message>")
		if rec.Code != tt.status {
			t.Errorf("status = %d, want %d", rec.Code, tt.status)
		}
		for k, v := range tt.wantHeader {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%d: header %s = %q, want %q", tt.status, k, got, v)
			}
		}
		if got, want := rec.Body.String(), `{"error":{"code":"some_code","message":"a <message>"}}`+"\n"; got != want {
			t.Errorf("%d: body = %q, want %q", tt.status, got, want)
		}
		if got := rec.Header().Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", got)
		}
	}
}

// observed is an Observer that records what it is told.
type observed struct {
	inFlight int
	routes   []string
	statuses []int
	methods  []string
}

func (o *observed) Begin() { o.inFlight++ }
func (o *observed) End()   { o.inFlight-- }
func (o *observed) Observe(route, method string, status int, _ time.Duration) {
	o.routes = append(o.routes, route)
	o.methods = append(o.methods, method)
	o.statuses = append(o.statuses, status)
}

func testHandler(obs Observer) http.Handler { return testHandlerWith(obs) }

func testHandlerWith(obs Observer, opts ...MuxOption) http.Handler {
	h := func(pattern string, fn http.HandlerFunc) Route {
		method, path, _ := strings.Cut(pattern, " ")
		return Route{Method: method, Pattern: path, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			SetRoute(r, path)
			fn(w, r)
		})}
	}
	routes := []Route{
		h("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
			WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
		}),
		h("DELETE /items/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }),
		h("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") }),
		h("GET /abort", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }),
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return Instrument(NewMux(routes, ErrorWriter{Realm: "test"}, opts...), obs, log, ErrorWriter{Realm: "test"})
}

func TestMuxAndInstrument(t *testing.T) {
	tests := []struct {
		method, path string
		wantStatus   int
		wantRoute    string
		wantBody     string
		wantAllow    string
	}{
		{"GET", "/items/a1", 200, "/items/{id}", `{"id":"a1"}`, ""},
		{"DELETE", "/items/a1", 204, "/items/{id}", ``, ""},
		{"POST", "/items/a1", 405, "/items/{id}", `{"error":{"code":"method_not_allowed","message":"method POST not allowed on /items/{id}; allowed: GET, HEAD, DELETE"}}`, "GET, HEAD, DELETE"},
		{"GET", "/nope", 404, "unmatched", `{"error":{"code":"not_found","message":"no such route: GET /nope"}}`, ""},
		{"GET", "/panic", 500, "/panic", `{"error":{"code":"internal","message":"internal error"}}`, ""},
		{"BREW", "/items/a1", 405, "/items/{id}", "", "GET, HEAD, DELETE"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			obs := &observed{}
			rec := httptest.NewRecorder()
			testHandler(obs).ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantBody != "" {
				if got := strings.TrimSpace(rec.Body.String()); got != tt.wantBody {
					t.Errorf("body = %s, want %s", got, tt.wantBody)
				}
			}
			if got := rec.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if obs.inFlight != 0 {
				t.Errorf("in flight after the request = %d, want 0", obs.inFlight)
			}
			if len(obs.routes) != 1 || obs.routes[0] != tt.wantRoute || obs.statuses[0] != tt.wantStatus || obs.methods[0] != tt.method {
				t.Errorf("observed routes %v statuses %v methods %v, want [%s] [%d] [%s]", obs.routes, obs.statuses, obs.methods, tt.wantRoute, tt.wantStatus, tt.method)
			}
		})
	}
}

func TestInstrumentReraisesAbort(t *testing.T) {
	obs := &observed{}
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
		if obs.inFlight != 0 || len(obs.routes) != 0 {
			t.Errorf("after abort: in flight %d, observed %v; want 0 and none", obs.inFlight, obs.routes)
		}
	}()
	testHandler(obs).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/abort", nil))
}

func TestRouteOfOutsideInstrument(t *testing.T) {
	r := httptest.NewRequest("GET", "/x", nil)
	SetRoute(r, "/x")
	if got := RouteOf(r); got != "unmatched" {
		t.Errorf("RouteOf outside Instrument = %q, want unmatched", got)
	}
}

func TestRequestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewRequestMetrics(reg, "test_http", "Test API")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewRequestMetrics(reg, "test_http", "Test API"); err == nil {
		t.Error("registering the metrics twice succeeded, want an error")
	}
	h := testHandler(m)
	for _, p := range []string{"/items/a", "/items/b", "/nope"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("BREW", "/items/a", nil))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	var help string
	for _, mf := range mfs {
		switch mf.GetName() {
		case "aerolith_test_http_requests_total":
			help = mf.GetHelp()
			for _, mt := range mf.GetMetric() {
				var key bytes.Buffer
				for _, lp := range mt.GetLabel() {
					key.WriteString(lp.GetName() + "=" + lp.GetValue() + " ")
				}
				got[strings.TrimSpace(key.String())] = mt.GetCounter().GetValue()
			}
		case "aerolith_test_http_requests_in_flight":
			if v := mf.GetMetric()[0].GetGauge().GetValue(); v != 0 {
				t.Errorf("in flight = %v, want 0", v)
			}
		}
	}
	want := map[string]float64{
		"code=200 method=GET route=/items/{id}":   2,
		"code=404 method=GET route=unmatched":     1,
		"code=405 method=other route=/items/{id}": 1,
	}
	if a, b := mustJSON(t, got), mustJSON(t, want); a != b {
		t.Errorf("requests_total = %s, want %s", a, b)
	}
	if want := "Test API requests served, by route pattern, method and status code."; help != want {
		t.Errorf("help = %q, want %q", help, want)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMethodLabel(t *testing.T) {
	for in, want := range map[string]string{"GET": "GET", "PATCH": "PATCH", "get": "other", "BREW": "other", "": "other"} {
		if got := MethodLabel(in); got != want {
			t.Errorf("MethodLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
