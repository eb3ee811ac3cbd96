package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseResults(t *testing.T) {
	in := `building...
op=put clients=1 n=5000 qps=960 p50=1.0234ms p99=3.5ms p999=9ms
noise op=put
op=get clients=100 n=50000 qps=12289 p50=7.1µs p99=41ms p999=74ms
`
	got, err := ParseResults(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{
		{Op: "put", Clients: 1, N: 5000, QPS: 960, P50: 1023400 * time.Nanosecond, P99: 3500 * time.Microsecond, P999: 9 * time.Millisecond},
		{Op: "get", Clients: 100, N: 50000, QPS: 12289, P50: 7100 * time.Nanosecond, P99: 41 * time.Millisecond, P999: 74 * time.Millisecond},
	}
	if len(got) != len(want) {
		t.Fatalf("ParseResults = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestParseResultsErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{"op=put clients=x n=1 qps=1 p50=1ms p99=1ms p999=1ms", "field clients"},
		{"op=put clients=1 n=1 qps=1 p50=1ms p99=1ms", "field p999: missing"},
		{"op=put clients=1 n=1 qps=1 p50=fast p99=1ms p999=1ms", "field p50"},
		{"op=put clients=1 bogus", `field "bogus"`},
	}
	for _, tt := range tests {
		_, err := ParseResults(strings.NewReader(tt.line + "\n"))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("ParseResults(%q) error = %v, want it to name line 1 and %q", tt.line, err, tt.want)
		}
	}
}

func TestResultStringRoundTrips(t *testing.T) {
	r := Result{Op: "getser", Clients: 100, N: 50000, QPS: 16216, P50: 5123456 * time.Nanosecond, P99: 41 * time.Millisecond, P999: 74500 * time.Microsecond}
	s := r.String()
	if !regexp.MustCompile(`^op=getser clients=100 n=50000 qps=16216 p50=5.123456ms p99=41ms p999=74.5ms$`).MatchString(s) {
		t.Errorf("String() = %q", s)
	}
	got, err := ParseResults(strings.NewReader(s))
	if err != nil || len(got) != 1 || got[0] != r {
		t.Errorf("ParseResults(String()) = %+v, %v; want %+v", got, err, r)
	}
}

func TestCompare(t *testing.T) {
	ours := []Result{
		{Op: "put", Clients: 1, QPS: 1200, P99: 2 * time.Millisecond},
		{Op: "put", Clients: 100, QPS: 3000, P99: 80 * time.Millisecond},
		{Op: "get", Clients: 100, QPS: 10},
	}
	etcd := []Result{
		{Op: "put", Clients: 100, QPS: 6000, P99: 40 * time.Millisecond},
		{Op: "put", Clients: 1, QPS: 960, P99: 4 * time.Millisecond},
	}
	got := Compare(ours, etcd)
	want := []Ratio{
		{Op: "put", Clients: 1, QPSRatio: 1.25, P99Ratio: 0.5},
		{Op: "put", Clients: 100, QPSRatio: 0.5, P99Ratio: 2},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Compare = %+v, want %+v", got, want)
	}
	var sb strings.Builder
	if err := WriteTable(&sb, ours, etcd); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "1.25") || !strings.Contains(sb.String(), "0.50") || strings.Contains(sb.String(), "get") {
		t.Errorf("WriteTable =\n%s", sb.String())
	}
}

func TestPutBodyIs256ByteDocument(t *testing.T) {
	var body struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(putBody(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Data) != valueBytes {
		t.Errorf("document is %d bytes, want %d: %s", len(body.Data), valueBytes, body.Data)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-total", "5"}, "-total: must be >= 10"},
		{[]string{"-clients", "0"}, "-clients: must be >= 1"},
		{[]string{"-conns-per-node", "-1"}, "-conns-per-node: must be >= 0"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-ab-rounds", "-1"}, "-ab-rounds: must be >= 0"},
		{[]string{"-ab-total", "-1"}, "-ab-total: must be >= 0"},
		{[]string{"-ab", "x"}, `-ab: want managed or secure, got "x"`},
	}
	for _, tt := range tests {
		_, err := parseFlags(tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseFlags(%q) = %v, want %q", tt.args, err, tt.want)
		}
	}
	o, err := parseFlags(nil, io.Discard)
	if err != nil || o.total != 50000 || o.clients != 100 || o.connsPerNode != 34 || o.anchor != "../shared/bench/etcd-anchor/run.sh" {
		t.Errorf("defaults = %+v, %v", o, err)
	}
	if o.managedRounds != 3 || o.managedTotal != 25000 {
		t.Errorf("managed defaults = %d rounds of %d requests, want 3 of 25000", o.managedRounds, o.managedTotal)
	}
	if o, err := parseFlags([]string{"-clients", "30", "-conns-per-node", "0"}, io.Discard); err != nil || o.connsPerNode != 10 {
		t.Errorf("-clients 30: conns per node = %d, %v; want 10", o.connsPerNode, err)
	}
}

func TestSummarizePercentiles(t *testing.T) {
	var lat [][]time.Duration
	for c := 0; c < 10; c++ {
		var l []time.Duration
		for i := 1; i <= 100; i++ {
			l = append(l, time.Duration(c*100+i)*time.Microsecond)
		}
		lat = append(lat, l)
	}
	r, err := summarize("put", 10, lat, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 1000 || r.QPS != 500 || r.P50 != 500*time.Microsecond || r.P99 != 990*time.Microsecond || r.P999 != 999*time.Microsecond {
		t.Errorf("summarize = %+v", r)
	}
	if _, err := summarize("put", 1, nil, time.Second); err == nil {
		t.Error("summarize of no samples: want an error")
	}
}

// fakeNode counts requests, checks them and tracks concurrent requests.
type fakeNode struct {
	mu       sync.Mutex
	paths    map[string]int
	inflight atomic.Int64
	maxIn    atomic.Int64
	status   int
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		m := f.maxIn.Load()
		if n <= m || f.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(time.Millisecond) // hold the connection so concurrency shows
	if r.Header.Get("Authorization") != "Bearer key" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	f.paths[r.Method+" "+r.URL.RequestURI()]++
	f.mu.Unlock()
	io.Copy(io.Discard, r.Body)
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	w.Write([]byte(`{}`))
}

func TestRunLoad(t *testing.T) {
	nodes := make([]*fakeNode, 3)
	var urls []string
	for i := range nodes {
		nodes[i] = &fakeNode{paths: map[string]int{}}
		s := httptest.NewServer(nodes[i])
		t.Cleanup(s.Close)
		urls = append(urls, s.URL)
	}
	r, err := RunLoad(context.Background(), LoadConfig{URLs: urls, Key: "key", Op: opPut, Clients: 12, ConnsPerNode: 2, Total: 300})
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 300 || r.Op != "put" || r.Clients != 12 || r.QPS <= 0 || r.P50 <= 0 || r.P999 < r.P99 || r.P99 < r.P50 {
		t.Errorf("result = %+v", r)
	}
	ids := map[string]bool{}
	for i, n := range nodes {
		total := 0
		for p, c := range n.paths {
			m := regexp.MustCompile(`^PUT /api/v1/collections/bench/documents/(\d{8})$`).FindStringSubmatch(p)
			if m == nil || c != 1 || ids[m[1]] {
				t.Errorf("node %d: request %q seen %d times", i, p, c)
				continue
			}
			ids[m[1]] = true
			total++
		}
		if total < 90 || total > 110 { // round-robin per connection group
			t.Errorf("node %d got %d of 300 puts, want about 100 (round-robin)", i, total)
		}
		if got := n.maxIn.Load(); got > 2 {
			t.Errorf("node %d saw %d concurrent requests, want <= 2 connections", i, got)
		}
	}
	if !ids["00000001"] || !ids["00000300"] || len(ids) != 300 {
		t.Errorf("ids are not 00000001..00000300: %d distinct", len(ids))
	}

	for _, n := range nodes {
		n.paths = map[string]int{}
	}
	if _, err := RunLoad(context.Background(), LoadConfig{URLs: urls, Key: "key", Op: opGetSer, Clients: 4, ConnsPerNode: 4, Total: 60, KeySpace: 5}); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		for p := range n.paths {
			if !regexp.MustCompile(`^GET /api/v1/collections/bench/documents/0000000[1-5]\?consistency=stale$`).MatchString(p) {
				t.Errorf("node %d: unexpected request %q", i, p)
			}
		}
	}

	nodes[1].status = http.StatusServiceUnavailable
	_, err = RunLoad(context.Background(), LoadConfig{URLs: urls, Key: "key", Op: opGet, Clients: 4, ConnsPerNode: 1, Total: 50})
	if err == nil || !strings.Contains(err.Error(), "status 503") {
		t.Errorf("RunLoad with a failing node = %v, want status 503 error", err)
	}
	if _, err := RunLoad(context.Background(), LoadConfig{URLs: urls, Op: "scan", Clients: 1, ConnsPerNode: 1, Total: 1}); err == nil || !strings.Contains(err.Error(), `unknown workload "scan"`) {
		t.Errorf("RunLoad with a bad op = %v", err)
	}
}

func TestABRatios(t *testing.T) {
	run := func(mode string, round int, op string, qps float64, p99 time.Duration) ABResult {
		cpu := 100 * time.Microsecond
		if mode == "on" {
			cpu = 104 * time.Microsecond
		}
		return ABResult{Mode: mode, Round: round, Result: Result{Op: op, Clients: 100, QPS: qps, P99: p99}, CPUPerRequest: cpu}
	}
	ms := time.Millisecond
	got := abRatios([]ABResult{
		// Rounds drift (1000 → 2000 → 4000 qps); each round's pair does not.
		run("off", 1, opPut, 1000, 10*ms), run("on", 1, opPut, 950, 12*ms),
		run("on", 2, opPut, 1980, 11*ms), run("off", 2, opPut, 2000, 9*ms),
		run("off", 3, opPut, 4000, 8*ms), run("on", 3, opPut, 3600, 20*ms),
		run("off", 1, opGet, 5000, 5*ms), // no "on" get: no get line
	})
	if len(got) != 1 {
		t.Fatalf("managedRatios = %+v, want one line (put)", got)
	}
	r := got[0]
	if r.Op != opPut || r.Ratio != 0.95 || r.OffQPS != 2000 || r.OnQPS != 1980 || r.OffP99 != 9 || r.OnP99 != 12 {
		t.Errorf("put = %+v, want ratio 0.95 (median of 0.95, 0.99, 0.90), off 2000 qps p99 9ms, on 1980 qps p99 12ms", r)
	}
	if want := []float64{0.9, 0.95, 0.99}; !slices.Equal(r.RoundRatios, want) {
		t.Errorf("round ratios = %v, want %v", r.RoundRatios, want)
	}
	if r.OffCPU != 100 || r.OnCPU != 104 || r.CPURatio != 1.04 {
		t.Errorf("cpu per request = %v off, %v on, ratio %v; want 100, 104, 1.04", r.OffCPU, r.OnCPU, r.CPURatio)
	}
	if r.LossPct < 4.99 || r.LossPct > 5.01 {
		t.Errorf("loss = %.3f%%, want 5%%", r.LossPct)
	}

	// Rounds of different pairs of clusters are paired within their pair
	// only, and pooled: round 1 of pair 2 is not round 1 of pair 1.
	p2 := func(r ABResult) ABResult { r.Pair = 2; return r }
	got = abRatios([]ABResult{
		run("off", 1, opGet, 1000, ms), run("on", 1, opGet, 900, ms),
		p2(run("off", 1, opGet, 2000, ms)), p2(run("on", 1, opGet, 2200, ms)),
		p2(run("off", 2, opGet, 2000, ms)), p2(run("on", 2, opGet, 2000, ms)),
	})
	if len(got) != 1 || !slices.Equal(got[0].RoundRatios, []float64{0.9, 1, 1.1}) || got[0].Ratio != 1 {
		t.Errorf("two pairs: %+v, want round ratios 0.9, 1, 1.1 and median 1", got)
	}
}
