package httpapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/agent/meter"
	"github.com/aerolithdb/aerolith/agent/quota"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/internal/testwait"
)

// counterValue returns the value of the counter name with the given label
// value pairs in reg (0 when absent).
func counterValue(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// sleeps records the throttle delays the server waited.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func (s *sleeps) take() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.d
	s.d = nil
	return d
}

func TestQuotaDecisions(t *testing.T) {
	e := newManagedEnv(t)
	sl := &sleeps{}
	e.srv.sleep = sl.sleep
	const doc = "/api/v1/collections/users/documents/u1"
	e.must(201, "PUT", doc, alphaRW, `{"data":{"n":1}}`)
	e.meter.take()

	type req struct{ method, path, body string }
	get := req{"GET", doc, ""}
	put := req{"PUT", doc, `{"data":{"n":2}}`}
	tests := []struct {
		name    string
		action  contract.QuotaAction
		status  contract.Status
		limits  func(*contract.Limits)
		warmup  int // GETs that must pass first
		req     req
		want    int
		code    string
		msg     string
		retry   string        // Retry-After
		warning string        // Aerolith-Quota-Warning
		delay   time.Duration // throttle delay waited
		warned  bool          // log line and metric
	}{
		{name: "rps block", action: contract.Block, limits: func(l *contract.Limits) { l.RequestsPerSecond = 2 }, warmup: 2, req: get,
			want: 429, code: "quota_exceeded", msg: "requests_per_second limit of 2", retry: "1"},
		{name: "hour block", action: contract.Block, limits: func(l *contract.Limits) { l.APICallsPerHour = 2 }, warmup: 2, req: put,
			want: 429, code: "quota_exceeded", msg: "api_calls_per_hour limit of 2", retry: "1800"},
		{name: "day block", action: contract.Block, limits: func(l *contract.Limits) { l.APICallsPerDay = 4 }, warmup: 4, req: get,
			want: 429, code: "quota_exceeded", msg: "api_calls_per_day limit of 4", retry: "21600"},
		{name: "rps throttle delays", action: contract.Throttle, limits: func(l *contract.Limits) { l.RequestsPerSecond = 2 }, warmup: 2, req: get,
			want: 200, delay: 500 * time.Millisecond},
		{name: "hour throttle past max delay", action: contract.Throttle, limits: func(l *contract.Limits) { l.APICallsPerHour = 2 }, warmup: 2, req: get,
			want: 429, code: "quota_exceeded", msg: "api_calls_per_hour", retry: "1800"},
		{name: "rps overage", action: contract.AllowWithOverage, limits: func(l *contract.Limits) { l.RequestsPerSecond = 1 }, warmup: 1, req: put,
			want: 200, warning: "requests_per_second"},
		{name: "rps warn", action: contract.Warn, limits: func(l *contract.Limits) { l.RequestsPerSecond = 1 }, warmup: 1, req: get,
			want: 200, warning: "requests_per_second", warned: true},
		{name: "suspended write", action: contract.Block, status: contract.StatusSuspended, req: put,
			want: 402, code: "payment_required", msg: "unpaid invoice"},
		{name: "suspended batch", action: contract.Warn, status: contract.StatusSuspended,
			req:  req{"POST", "/api/v1/batch", `{"operations":[{"op":"delete","collection":"users","id":"u1"}]}`},
			want: 402, code: "payment_required", msg: "unpaid invoice"},
		{name: "suspended read", action: contract.Block, status: contract.StatusSuspended, req: get, want: 200},
		{name: "suspended query", action: contract.Block, status: contract.StatusSuspended, req: req{"POST", "/api/v1/collections/users/query", `{}`}, want: 200},
		{name: "deleted read", action: contract.Block, status: contract.StatusDeleted, req: get,
			want: 403, code: "permission_denied", msg: "deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := roomy("alpha", tt.action)
			if tt.limits != nil {
				tt.limits(&p.Limits)
			}
			if tt.status != "" {
				p.Status = tt.status
			}
			e.gov.set(t, p)
			for range tt.warmup {
				e.must(200, "GET", doc, alphaRead, "")
			}
			e.meter.take()
			sl.take()
			warnings := counterValue(t, e.reg, "aerolith_quota_warnings_total", "limit", tt.warning)
			r := e.do(tt.req.method, tt.req.path, alphaRW, tt.req.body)
			if r.Status != tt.want {
				t.Fatalf("%s %s = %d %s, want %d", tt.req.method, tt.req.path, r.Status, r.Body, tt.want)
			}
			if tt.code != "" {
				code, msg := r.ErrCode(t)
				if code != tt.code || !strings.Contains(msg, tt.msg) {
					t.Fatalf("error = %s %q, want %s containing %q", code, msg, tt.code, tt.msg)
				}
			}
			if got := r.Header.Get("Retry-After"); got != tt.retry {
				t.Errorf("Retry-After = %q, want %q", got, tt.retry)
			}
			if got := r.Header.Get(HeaderQuotaWarning); got != tt.warning {
				t.Errorf("%s = %q, want %q", HeaderQuotaWarning, got, tt.warning)
			}
			var wantDelays []time.Duration
			if tt.delay > 0 {
				wantDelays = []time.Duration{tt.delay}
			}
			if got := sl.take(); len(got) != len(wantDelays) || (len(got) == 1 && got[0] != wantDelays[0]) {
				t.Errorf("throttle delays = %v, want %v", got, wantDelays)
			}
			calls := e.meter.take()
			if served := r.Status < 300; served != (len(calls) == 1) || len(calls) > 1 {
				t.Errorf("status %d metered %d times, want %v", r.Status, len(calls), served)
			}
			after := counterValue(t, e.reg, "aerolith_quota_warnings_total", "limit", tt.warning)
			if tt.warned != (after == warnings+1) || (!tt.warned && after != warnings) {
				t.Errorf("aerolith_quota_warnings_total{limit=%q} went %v -> %v, want +%v", tt.warning, warnings, after, tt.warned)
			}
			if tt.warned && !strings.Contains(e.logs.String(), "quota limit exceeded") {
				t.Errorf("no warning logged; logs:\n%s", e.logs)
			}
		})
	}
}

func TestQuotaThrottleCancelled(t *testing.T) {
	e := newManagedEnv(t)
	p := roomy("alpha", contract.Throttle)
	p.Limits.RequestsPerSecond = 1
	e.gov.set(t, p)
	e.must(200, "GET", "/api/v1/collections", alphaRead, "")
	e.meter.take()
	// The second request must wait 1s (real timer): the client gives up.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := e.serve(request(ctx, "GET", "/api/v1/collections", alphaRead, ""))
	if code, _ := r.ErrCode(t); r.Status != 503 || code != "unavailable" {
		t.Fatalf("throttled request of a gone client = %d %s, want 503 unavailable", r.Status, r.Body)
	}
	if calls := e.meter.take(); len(calls) != 0 {
		t.Fatalf("cancelled request metered: %+v", calls)
	}
}

func TestQuotaConcurrency(t *testing.T) {
	e := newManagedEnv(t)
	const path = "/api/v1/collections"
	tests := []struct {
		action  contract.QuotaAction
		want    int
		warning string
	}{
		{contract.Block, 429, ""},
		{contract.AllowWithOverage, 200, "concurrent_connections"},
		{contract.Warn, 200, "concurrent_connections"},
	}
	for _, tt := range tests {
		t.Run(string(tt.action), func(t *testing.T) {
			p := roomy("alpha", tt.action)
			p.Limits.ConcurrentConnections = 1
			enf := e.gov.set(t, p)
			d, release := enf.Acquire(context.Background()) // the one slot
			if !d.Allow {
				t.Fatalf("first Acquire = %+v", d)
			}
			r := e.do("GET", path, alphaRead, "")
			release()
			if r.Status != tt.want || r.Header.Get(HeaderQuotaWarning) != tt.warning {
				t.Fatalf("request past the concurrency limit = %d %s (warning %q), want %d (warning %q)",
					r.Status, r.Body, r.Header.Get(HeaderQuotaWarning), tt.want, tt.warning)
			}
			if tt.want == 429 {
				if code, msg := r.ErrCode(t); code != "quota_exceeded" || !strings.Contains(msg, "concurrent_connections limit of 1") || r.Header.Get("Retry-After") != "1" {
					t.Fatalf("refusal = %s %q Retry-After %q", code, msg, r.Header.Get("Retry-After"))
				}
			}
			e.must(200, "GET", path, alphaRead, "") // the slot is free again
		})
	}

	t.Run("throttle", func(t *testing.T) {
		p := roomy("alpha", contract.Throttle)
		p.Limits.ConcurrentConnections = 1
		enf := e.gov.set(t, p)
		for _, tc := range []struct {
			name string
			free func(release func())
			want int
		}{
			{"slot freed in time", func(release func()) { release() }, 200},
			{"no slot within max delay", func(func()) { e.gov.clock.Advance(2 * time.Second) }, 429},
		} {
			_, acquired := enf.Acquire(context.Background())
			var once sync.Once
			release := func() { once.Do(acquired) }
			timers := e.gov.clock.Timers()
			done := make(chan resp, 1)
			go func() { done <- e.do("GET", path, alphaRead, "") }()
			testwait.Until(t, waitLimit, "the request to wait for a slot", func() bool { return e.gov.clock.Timers() > timers })
			tc.free(release)
			r := <-done
			release()
			if r.Status != tc.want {
				t.Fatalf("%s: %d %s, want %d", tc.name, r.Status, r.Body, tc.want)
			}
		}
	})
}

func TestQueryDuration(t *testing.T) {
	e := newManagedEnv(t)
	e.must(201, "PUT", "/api/v1/collections/users/documents/u1", alphaRW, `{"data":{"n":1}}`)
	const q = "/api/v1/collections/users/query"

	p := roomy("alpha", contract.Warn) // the limit cancels under every action
	p.Limits.MaxQueryDuration = time.Nanosecond
	e.gov.set(t, p)
	e.meter.take()
	r := e.do("POST", q, alphaRead, `{"filter":{"n":1}}`)
	if code, msg := r.ErrCode(t); r.Status != 408 || code != "query_timeout" || !strings.Contains(msg, "max_query_duration limit of 1ns") {
		t.Fatalf("query past the limit = %d %s, want 408 query_timeout", r.Status, r.Body)
	}
	if calls := e.meter.take(); len(calls) != 0 {
		t.Fatalf("timed-out query metered: %+v", calls)
	}

	// A scan that does not return: the answer comes at the limit anyway.
	p.Limits.MaxQueryDuration = 50 * time.Millisecond
	e.gov.set(t, p)
	gate := make(chan struct{})
	e.faults.setViewGate(gate)
	r = e.do("POST", q, alphaRead, `{}`)
	e.faults.setViewGate(nil)
	close(gate)
	if r.Status != 408 {
		t.Fatalf("stuck query = %d %s, want 408", r.Status, r.Body)
	}
	// Within the limit, served and metered with its compute time.
	p.Limits.MaxQueryDuration = time.Minute
	e.gov.set(t, p)
	e.must(200, "POST", q, alphaRead, `{"filter":{"n":1}}`)
	if calls := e.meter.take(); len(calls) != 1 || calls[0].u.Queries != 1 || calls[0].u.QueryComputeMs < 1 {
		t.Fatalf("query metered as %+v, want 1 query with its compute ms", calls)
	}
}

func TestNoPolicy(t *testing.T) {
	e := newManagedEnv(t)
	const doc = "/api/v1/collections/c/documents/d"
	for _, req := range [][3]string{
		{"PUT", doc, `{"data":{}}`},
		{"DELETE", doc, ""},
		{"POST", "/api/v1/batch", `{"operations":[{"op":"put","collection":"c","data":{}}]}`},
	} {
		r := e.do(req[0], req[1], noPolicyRW, req[2])
		code, msg := r.ErrCode(t)
		if r.Status != 503 || code != "no_policy" || !strings.Contains(msg, "billing") || r.Header.Get("Retry-After") == "" {
			t.Fatalf("%s %s without a policy = %d %s, want 503 no_policy naming billing", req[0], req[1], r.Status, r.Body)
		}
	}
	if calls := e.meter.take(); len(calls) != 0 {
		t.Fatalf("refused writes metered: %+v", calls)
	}
	// Reads are served (and metered).
	e.must(404, "GET", doc, noPolicyRW, "")
	e.must(200, "POST", "/api/v1/collections/c/query", noPolicyRW, `{}`)
	e.must(200, "GET", "/api/v1/collections", noPolicyRW, "")
	calls := e.meter.take()
	if len(calls) != 3 || calls[0].u.Reads != 1 || calls[1].u.Queries != 1 || calls[2].u.Reads != 1 || calls[0].tenant != "gamma" {
		t.Fatalf("reads without a policy metered as %+v", calls)
	}

	// Any other Governor failure refuses everything, logged, not shown.
	e.gov.mu.Lock()
	e.gov.err = errors.New("policy store: read /var/secret: i/o error")
	e.gov.mu.Unlock()
	r := e.do("GET", doc, alphaRead, "")
	if code, msg := r.ErrCode(t); r.Status != 503 || code != "unavailable" || strings.Contains(msg, "secret") {
		t.Fatalf("governor failure = %d %s", r.Status, r.Body)
	}
	if !strings.Contains(e.logs.String(), "i/o error") {
		t.Fatalf("governor failure not logged:\n%s", e.logs)
	}
}

// trackingWriter notes when the answer starts being written.
type trackingWriter struct {
	*httptest.ResponseRecorder
	mu    sync.Mutex
	wrote bool
}

func (w *trackingWriter) WriteHeader(code int) {
	w.mu.Lock()
	w.wrote = true
	w.mu.Unlock()
	w.ResponseRecorder.WriteHeader(code)
}

func (w *trackingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.wrote = true
	w.mu.Unlock()
	return w.ResponseRecorder.Write(p)
}

func (w *trackingWriter) started() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.wrote
}

func TestMeteringBeforeAnswer(t *testing.T) {
	e := newManagedEnv(t)
	for _, req := range [][3]string{
		{"PUT", "/api/v1/collections/c/documents/d", `{"data":{"a":1}}`},
		{"GET", "/api/v1/collections/c/documents/d", ""},
		{"POST", "/api/v1/collections/c/query", `{}`},
	} {
		w := &trackingWriter{ResponseRecorder: httptest.NewRecorder()}
		var startedAtRecord []bool
		e.meter.mu.Lock()
		e.meter.onRecord = func() { startedAtRecord = append(startedAtRecord, w.started()) }
		e.meter.mu.Unlock()
		e.srv.Handler().ServeHTTP(w, request(context.Background(), req[0], req[1], alphaRW, req[2]))
		if w.Code >= 300 || len(startedAtRecord) != 1 || startedAtRecord[0] {
			t.Fatalf("%s %s = %d; answer started when Record ran: %v (want one Record before the answer)", req[0], req[1], w.Code, startedAtRecord)
		}
	}
}

// usageOf is shorthand for expected usages.
func usageOf(reads, writes, queries uint64) meter.Usage {
	return meter.Usage{Reads: reads, Writes: writes, Queries: queries}
}

// testLimits are per-tenant document.Limits a test changes as it goes.
type testLimits struct {
	mu sync.Mutex
	m  map[string]document.Limits
}

func (l *testLimits) set(tenant string, lim document.Limits) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[tenant] = lim
}

func (l *testLimits) get(_ *bolt.Tx, tenant string) (document.Limits, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[tenant]
	return lim, ok, nil
}

// TestStoredQuotas checks the answers to the limits the document state
// machine enforces: storage 507, counts 429 (no Retry-After: waiting does
// not help), and writes applied past a limit under warn and overage.
func TestStoredQuotas(t *testing.T) {
	lims := &testLimits{m: map[string]document.Limits{}}
	e := newManagedEnvDocs(t, document.Config{MaxDocumentBytes: maxDoc, Limits: lims.get})
	big := `{"data":{"pad":"` + strings.Repeat("x", 200) + `"}}`
	const c1 = "/api/v1/collections/c1/documents/"

	lims.set("alpha", document.Limits{StorageBytes: 100, MaxCollections: 1, MaxDocumentsPerCollection: 2, Refuse: true})
	e.must(201, "PUT", c1+"a", alphaRW, `{"data":{}}`)
	e.meter.take()
	tests := []struct {
		name, method, path, body string
		status                   int
		code, msg                string
	}{
		{"storage", "PUT", c1 + "b", big, 507, "storage_quota_exceeded", "storage quota exceeded: tenant would store"},
		{"collections", "PUT", "/api/v1/collections/c2/documents/a", `{"data":{}}`, 429, "quota_exceeded", "collection quota exceeded"},
		{"documents in a batch", "POST", "/api/v1/batch",
			`{"operations":[{"op":"put","collection":"c1","id":"b","data":{}},{"op":"put","collection":"c1","id":"c","data":{}}]}`,
			429, "quota_exceeded", "operations[1]: document quota exceeded"},
	}
	for _, tt := range tests {
		r := e.do(tt.method, tt.path, alphaRW, tt.body)
		code, msg := r.ErrCode(t)
		if r.Status != tt.status || code != tt.code || !strings.Contains(msg, tt.msg) || !strings.Contains(msg, "delete data or move the tenant to a larger tier") {
			t.Fatalf("%s: %d %s, want %d %s containing %q and the way out", tt.name, r.Status, r.Body, tt.status, tt.code, tt.msg)
		}
		if ra := r.Header.Get("Retry-After"); ra != "" {
			t.Fatalf("%s: Retry-After %q on a limit waiting does not lift", tt.name, ra)
		}
		if strings.Contains(msg, "beta") {
			t.Fatalf("%s: message names another tenant: %q", tt.name, msg)
		}
	}
	if calls := e.meter.take(); len(calls) != 0 {
		t.Fatalf("refused writes metered: %+v", calls)
	}
	e.must(204, "DELETE", c1+"a", alphaRW, "") // deletes pass over a limit

	// Not refused (allow_with_overage, warn): applied, reported, metered.
	for _, action := range []contract.QuotaAction{contract.AllowWithOverage, contract.Warn} {
		e.gov.set(t, roomy("alpha", action))
		lims.set("alpha", document.Limits{StorageBytes: 100, MaxDocumentsPerCollection: 1})
		before := counterValue(t, e.reg, "aerolith_quota_warnings_total", "limit", "storage_bytes")
		e.meter.take()
		coll := "c-" + string(action)
		r := e.must(201, "PUT", "/api/v1/collections/"+coll+"/documents/big", alphaRW, big)
		if got := r.Header.Get(HeaderQuotaWarning); got != "storage_bytes" {
			t.Fatalf("%s: %s = %q, want storage_bytes", action, HeaderQuotaWarning, got)
		}
		r = e.must(200, "POST", "/api/v1/batch", alphaRW, `{"operations":[{"op":"put","collection":"`+coll+`","id":"x","data":{}}]}`)
		if got := r.Header.Get(HeaderQuotaWarning); got != "storage_bytes, max_documents_per_collection" {
			t.Fatalf("%s: batch %s = %q", action, HeaderQuotaWarning, got)
		}
		if calls := e.meter.take(); len(calls) != 2 || calls[0].u.Writes != 1 || calls[1].u.Writes != 1 {
			t.Fatalf("%s: writes past a limit metered as %+v", action, calls)
		}
		after := counterValue(t, e.reg, "aerolith_quota_warnings_total", "limit", "storage_bytes")
		if want := before + map[contract.QuotaAction]float64{contract.Warn: 2}[action]; after != want {
			t.Fatalf("%s: warnings{storage_bytes} = %v, want %v", action, after, want)
		}
	}
	if !strings.Contains(e.logs.String(), "limit=storage_bytes") {
		t.Fatalf("warn action logged nothing:\n%s", e.logs)
	}
}

func TestDecisionError(t *testing.T) {
	tests := []struct {
		d     quota.Decision
		code  string
		retry string
	}{
		{quota.Decision{Status: 429, RetryAfter: 1200 * time.Millisecond, Message: "m"}, "quota_exceeded", "2"},
		{quota.Decision{Status: 429, RetryAfter: time.Nanosecond, Message: "m"}, "quota_exceeded", "1"},
		{quota.Decision{Status: 429, RetryAfter: time.Hour, Message: "m"}, "quota_exceeded", "3600"},
		{quota.Decision{Status: 429, Message: "m"}, "quota_exceeded", ""},
		{quota.Decision{Status: 402, Message: "m"}, "payment_required", ""},
		{quota.Decision{Status: 403, Message: "m"}, "permission_denied", ""},
		{quota.Decision{Status: 408, Message: "m"}, "query_timeout", ""},
		{quota.Decision{Status: 507, Message: "m"}, "storage_quota_exceeded", ""},
	}
	for _, tt := range tests {
		e := decisionError(tt.d)
		if !e.Quota || e.Status != tt.d.Status || e.Code != tt.code || e.Message != "m" {
			t.Errorf("decisionError(%+v) = %+v, want status %d code %s, a quota refusal", tt.d, e, tt.d.Status, tt.code)
		}
		rec := httptest.NewRecorder()
		errorWriter().WriteError(rec, e)
		if got := rec.Header().Get("Retry-After"); got != tt.retry || rec.Code != tt.d.Status {
			t.Errorf("answer to %+v: %d Retry-After %q, want %d %q", tt.d, rec.Code, got, tt.d.Status, tt.retry)
		}
	}
}
