package managed

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/testwait"
)

// TestQuotasOnCluster puts tenants on tiers with small limits, one tier
// per limit (so that no other limit interferes) and action, and hits each
// limit through a different node of the three, checking what a client
// sees: the status (429 with Retry-After, 507, 408), the error code and a
// message naming the limit and its value; that throttle delays requests
// instead of refusing them (until the delay would pass its bound); that
// allow_with_overage serves past the limit, says so in the
// Aerolith-Quota-Warning header and bills every request; and that warn
// serves, says so and counts aerolith_quota_warnings_total{limit} (a
// metric without tenant labels).
//
// Cluster-wide rate limits are shared among the live nodes (agent/quota):
// with three nodes a limit L gives each node L/3, so a client spreading
// its calls over the nodes gets at most L admitted in all.
func TestQuotasOnCluster(t *testing.T) {
	tiers := []string{
		tierYAML("block-rps", "block", map[string]string{"requests_per_second": "3"}),
		tierYAML("block-hour", "block", map[string]string{"api_calls_per_hour": "6"}),
		tierYAML("block-day", "block", map[string]string{"api_calls_per_day": "6", "api_calls_per_hour": "6"}),
		tierYAML("block-conc", "block", map[string]string{"concurrent_connections": "3"}),
		tierYAML("block-query", "block", map[string]string{"max_query_duration": "10ms"}),
		tierYAML("block-counts", "block", map[string]string{"max_collections": "2", "max_documents_per_collection": "3", "storage_bytes": "4000"}),
		tierYAML("throttle-rps", "throttle", map[string]string{"requests_per_second": "3"}),
		tierYAML("throttle-counts", "throttle", map[string]string{"max_documents_per_collection": "3"}),
		tierYAML("overage", "allow_with_overage", map[string]string{"requests_per_second": "3", "storage_bytes": "2000"}),
		tierYAML("warn", "warn", map[string]string{"requests_per_second": "3", "storage_bytes": "2000"}),
	}
	specs := []tenantSpec{
		{"rps", "block-rps"}, {"hour", "block-hour"}, {"day", "block-day"}, {"conc", "block-conc"},
		{"query", "block-query"}, {"colls", "block-counts"}, {"docs", "block-counts"}, {"storage", "block-counts"},
		{"throttle", "throttle-rps"}, {"throttledocs", "throttle-counts"},
		{"overrps", "overage"}, {"overstorage", "overage"}, {"warnrps", "warn"}, {"warnstorage", "warn"},
	}
	e := newEnv(t, envConfig{tiers: tiers, tenants: specs})
	tl := newTally()
	tcs := map[string]*tenantClient{}
	var all []*tenantClient
	for i, s := range specs {
		tcs[s.label] = e.client(s.label, e.createKey(i%3, s.label, "readwrite", "quota").Key, tl)
		all = append(all, tcs[s.label])
	}
	e.waitServing(all...)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// The shares assume every node counts the three live nodes
	// (aerolith_quota_live_nodes; counted every few seconds).
	for i := range e.c.N() {
		testwait.For(t, waitLimit, e.c.NodeID(i)+" shares the cluster-wide limits among 3 live nodes", func() error {
			a := e.adminDo(ctx, http.MethodGet, e.c.URL(i)+"/metrics", nil)
			if a.Status != http.StatusOK {
				return fmt.Errorf("/metrics: %s", a)
			}
			if n := metricValue(string(a.Body), "aerolith_quota_live_nodes", ""); n != 3 {
				return fmt.Errorf("aerolith_quota_live_nodes = %v", n)
			}
			return nil
		})
	}
	get := func(tc *tenantClient, node int) answer {
		return tc.call(ctx, kindRead, 1, http.MethodGet, docURL(e.c.URL(node), "things", "missing"), nil)
	}
	put := func(tc *tenantClient, node int, coll, id string, v any) answer {
		return tc.call(ctx, kindWrite, 1, http.MethodPut, docURL(e.c.URL(node), coll, id), data(v))
	}

	t.Run("block/requests_per_second", func(t *testing.T) {
		// Every node enforces its share: a burst on each is refused.
		for node := range e.c.N() {
			var refusal answer
			for n := 0; n < 20 && refusal.Status == 0; n++ {
				if a := get(tcs["rps"], node); a.Status == http.StatusTooManyRequests {
					refusal = a
				} else if a.Status != http.StatusNotFound {
					t.Fatalf("read on %s: %s, want 404 or 429", e.c.NodeID(node), a)
				}
			}
			checkRefusal(t, refusal, http.StatusTooManyRequests, "quota_exceeded", "requests_per_second", "3")
			checkRetryAfter(t, refusal, 1, 3)
		}
	})

	for _, c := range []struct {
		label, limit string
		minRA, maxRA int // Retry-After bounds, seconds
	}{
		{"hour", "api_calls_per_hour", 60, 3600},
		{"day", "api_calls_per_day", 3600, 86400},
	} {
		t.Run("block/"+c.limit, func(t *testing.T) {
			// Calls spread over the nodes: at most the limit is admitted
			// in all, and every node ends up refusing.
			admitted, refused := 0, map[int]answer{}
			for n := 0; n < 40 && len(refused) < e.c.N(); n++ {
				node := n % e.c.N()
				switch a := get(tcs[c.label], node); a.Status {
				case http.StatusNotFound:
					admitted++
				case http.StatusTooManyRequests:
					refused[node] = a
				default:
					t.Fatalf("read on %s: %s, want 404 or 429", e.c.NodeID(node), a)
				}
			}
			if admitted > 6 {
				t.Errorf("%d calls admitted across the nodes, want at most the limit 6", admitted)
			}
			if len(refused) < e.c.N() {
				t.Fatalf("only %d of %d nodes refused after 40 calls (%d admitted)", len(refused), e.c.N(), admitted)
			}
			for _, a := range refused {
				checkRefusal(t, a, http.StatusTooManyRequests, "quota_exceeded", c.limit, "6")
				checkRetryAfter(t, a, c.minRA, c.maxRA)
			}
		})
	}

	t.Run("block/concurrent_connections", func(t *testing.T) {
		// Requests whose body is still arriving hold their slot; a call
		// beyond the node's share is refused at once.
		const node = 1
		var holders []*slowRequest
		defer func() {
			for _, h := range holders {
				h.finish(`"data":{"held":true}}`)
			}
		}()
		var refusal answer
		for j := 0; j < 3 && refusal.Status == 0; j++ {
			h := startSlowRequest(e.c.URL(node)+"/api/v1/collections/held/documents/h"+strconv.Itoa(j), tcs["conc"].key, `{`)
			holders = append(holders, h)
			if a, ok := h.answered(); ok && a.Status == http.StatusTooManyRequests {
				refusal = a
			}
		}
		err := testwait.Poll(20*time.Second, "a call beyond the concurrency share is refused", func() error {
			if refusal.Status != 0 {
				return nil
			}
			a := get(tcs["conc"], node)
			if a.Status == http.StatusTooManyRequests {
				refusal = a
				return nil
			}
			return fmt.Errorf("read: %s", a)
		})
		if err != nil {
			t.Fatal(err)
		}
		checkRefusal(t, refusal, http.StatusTooManyRequests, "quota_exceeded", "concurrent_connections", "3")
		checkRetryAfter(t, refusal, 1, 5)
		// Once the slots are free the calls are served again.
		for _, h := range holders {
			h.finish(`"data":{"held":true}}`)
		}
		holders = nil
		testwait.For(t, 20*time.Second, "calls served after the slots were freed", func() error {
			if a := get(tcs["conc"], node); a.Status != http.StatusNotFound {
				return fmt.Errorf("read: %s", a)
			}
			return nil
		})
	})

	t.Run("block/max_query_duration", func(t *testing.T) {
		const node = 2
		tc := tcs["query"]
		// A heavy collection: 40 batches of 100 documents of ~1 KB.
		for b := range 40 {
			var ops []map[string]any
			for j := range 100 {
				n := b*100 + j
				ops = append(ops, map[string]any{"op": "put", "collection": "heavy", "id": fmt.Sprintf("d%05d", n),
					"data": map[string]any{"n": n, "tags": []string{"a", "b", "c"}, "nested": map[string]any{"v": n % 7, "s": strings.Repeat("q", 900)}}})
			}
			a := tc.call(ctx, kindWrite, 100, http.MethodPost, e.c.URL(b%3)+"/api/v1/batch", mustJSON(map[string]any{"operations": ops}))
			if a.Status != http.StatusOK {
				t.Fatalf("batch %d: %s", b, a)
			}
		}
		q := mustJSON(map[string]any{"filter": map[string]any{"$or": []any{
			map[string]any{"nested.v": map[string]any{"$in": []int{1, 3, 5}}},
			map[string]any{"nested.s": map[string]any{"$exists": false}},
		}}, "sort": map[string]int{"n": -1}, "limit": 10})
		a := tc.call(ctx, kindQuery, 1, http.MethodPost, collURL(e.c.URL(node), "heavy")+"/query", q)
		checkRefusal(t, a, http.StatusRequestTimeout, "query_timeout", "max_query_duration", "10ms")
		// A query with little to scan is served.
		small := tc.call(ctx, kindQuery, 1, http.MethodPost, collURL(e.c.URL(node), "small")+"/query", mustJSON(map[string]any{"filter": map[string]any{}}))
		if small.Status == http.StatusRequestTimeout {
			t.Errorf("query of an empty collection: %s, want it served", small)
		}
	})

	t.Run("block/max_collections", func(t *testing.T) {
		tc := tcs["colls"]
		for j := 1; j <= 2; j++ {
			if a := put(tc, 0, "c"+strconv.Itoa(j), "x", map[string]int{"j": j}); a.Status != http.StatusCreated {
				t.Fatalf("collection %d: %s", j, a)
			}
		}
		// Refused on every node: the count is kept in the replicated state.
		for node := range e.c.N() {
			a := put(tc, node, "c3-"+strconv.Itoa(node), "x", map[string]int{"j": 3})
			checkRefusal(t, a, http.StatusTooManyRequests, "quota_exceeded", "collection", "2")
		}
		// Existing collections still take documents.
		if a := put(tc, 1, "c1", "y", map[string]int{"j": 1}); a.Status != http.StatusCreated {
			t.Errorf("write to an existing collection: %s", a)
		}
	})

	t.Run("block/max_documents_per_collection", func(t *testing.T) {
		tc := tcs["docs"]
		for j := 1; j <= 3; j++ {
			if a := put(tc, 1, "box", "d"+strconv.Itoa(j), map[string]int{"j": j}); a.Status != http.StatusCreated {
				t.Fatalf("document %d: %s", j, a)
			}
		}
		a := put(tc, 2, "box", "d4", map[string]int{"j": 4})
		checkRefusal(t, a, http.StatusTooManyRequests, "quota_exceeded", "document", "3")
		batch := mustJSON(map[string]any{"operations": []map[string]any{
			{"op": "put", "collection": "box", "id": "d1", "data": map[string]int{"j": 10}},
			{"op": "put", "collection": "box", "id": "d5", "data": map[string]int{"j": 5}},
		}})
		a = tc.call(ctx, kindWrite, 2, http.MethodPost, e.c.URL(0)+"/api/v1/batch", batch)
		checkRefusal(t, a, http.StatusTooManyRequests, "quota_exceeded", "document", "3")
		if a := put(tc, 0, "box", "d1", map[string]int{"j": 11}); a.Status != http.StatusOK {
			t.Errorf("replacing a document at the limit: %s, want 200", a)
		}
		var page struct {
			Total int `json:"total"`
		}
		a = tc.call(ctx, kindRead, 1, http.MethodGet, collURL(e.c.URL(2), "box")+"/documents", nil)
		if err := a.decode(&page); err != nil || page.Total != 3 {
			t.Errorf("box holds %d documents (%v), want 3: the refused batch must change nothing", page.Total, err)
		}
	})

	t.Run("block/storage_bytes", func(t *testing.T) {
		tc := tcs["storage"]
		var refusal answer
		written := 0
		for j := 0; j < 10 && refusal.Status == 0; j++ {
			a := put(tc, 2, "blobs", "b"+strconv.Itoa(j), map[string]string{"s": strings.Repeat("z", 1000)})
			switch a.Status {
			case http.StatusCreated:
				written++
			case http.StatusInsufficientStorage:
				refusal = a
			default:
				t.Fatalf("write %d: %s", j, a)
			}
		}
		if written == 0 || written > 4 {
			t.Errorf("%d writes of 1000 bytes accepted under a 4000-byte limit", written)
		}
		checkRefusal(t, refusal, http.StatusInsufficientStorage, "storage_quota_exceeded", "storage", "4000")
		// Freeing space makes room again (through another node).
		if a := tc.call(ctx, kindWrite, 1, http.MethodDelete, docURL(e.c.URL(0), "blobs", "b0"), nil); a.Status != http.StatusNoContent {
			t.Fatalf("delete: %s", a)
		}
		if a := put(tc, 1, "blobs", "small", map[string]string{"s": "tiny"}); a.Status != http.StatusCreated {
			t.Errorf("small write after freeing space: %s", a)
		}
	})

	t.Run("throttle/requests_per_second", func(t *testing.T) {
		// Sequential calls beyond the rate are delayed, not refused.
		tc := tcs["throttle"]
		start := time.Now()
		var slowest time.Duration
		for range 4 {
			a := get(tc, 1)
			if a.Status != http.StatusNotFound {
				t.Fatalf("throttled read: %s, want it served (404)", a)
			}
			slowest = max(slowest, a.Took)
		}
		if slowest < 300*time.Millisecond {
			t.Errorf("4 back-to-back calls under a 3/s limit: slowest took %v, want a throttle delay", slowest)
		}
		t.Logf("4 calls took %v, slowest %v", time.Since(start).Round(time.Millisecond), slowest.Round(time.Millisecond))
		// A burst whose delay would pass the bound (2s) is refused for
		// the excess.
		var mu sync.Mutex
		var served, refused []answer
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := get(tc, 2)
				mu.Lock()
				defer mu.Unlock()
				if a.Status == http.StatusTooManyRequests {
					refused = append(refused, a)
				} else {
					served = append(served, a)
				}
			}()
		}
		wg.Wait()
		if len(refused) == 0 || len(served) < 2 {
			t.Fatalf("burst of 8: %d served, %d refused; want some delayed and served, the rest refused", len(served), len(refused))
		}
		for _, a := range served {
			if a.Status != http.StatusNotFound {
				t.Errorf("burst call: %s", a)
			}
		}
		checkRefusal(t, refused[0], http.StatusTooManyRequests, "quota_exceeded", "requests_per_second", "3")
		checkRetryAfter(t, refused[0], 1, 10)
	})

	t.Run("throttle/max_documents_per_collection", func(t *testing.T) {
		// Counts cannot drain by waiting: throttle refuses like block.
		tc := tcs["throttledocs"]
		for j := 1; j <= 3; j++ {
			if a := put(tc, 2, "box", "d"+strconv.Itoa(j), map[string]int{"j": j}); a.Status != http.StatusCreated {
				t.Fatalf("document %d: %s", j, a)
			}
		}
		checkRefusal(t, put(tc, 0, "box", "d4", map[string]int{"j": 4}), http.StatusTooManyRequests, "quota_exceeded", "document", "3")
	})

	t.Run("allow_with_overage", func(t *testing.T) {
		rps, stor := tcs["overrps"], tcs["overstorage"]
		warned := false
		for range 8 {
			a := get(rps, 2)
			if a.Status != http.StatusNotFound {
				t.Fatalf("read past the rate under overage: %s, want it served (404)", a)
			}
			warned = warned || strings.Contains(a.Header.Get("Aerolith-Quota-Warning"), "requests_per_second")
		}
		if !warned {
			t.Errorf("8 back-to-back reads under a 3/s overage limit: no Aerolith-Quota-Warning naming requests_per_second")
		}
		last := answer{}
		for j := range 4 {
			last = put(stor, j%3, "blobs", "b"+strconv.Itoa(j), map[string]string{"s": strings.Repeat("o", 1000)})
			if last.Status != http.StatusCreated {
				t.Fatalf("write %d past the storage limit under overage: %s, want 201", j, last)
			}
		}
		if h := last.Header.Get("Aerolith-Quota-Warning"); !strings.Contains(h, "storage_bytes") {
			t.Errorf("write past 2000 stored bytes: Aerolith-Quota-Warning = %q, want storage_bytes", h)
		}
		// Everything served is billed (overage is rated from the totals).
		for _, l := range []string{"overrps", "overstorage"} {
			want := tl.get(e.id(l))
			err := testwait.Poll(2*waitLimit, "billing counts the overage served to "+l, func() error {
				b, err := e.billed(ctx, l)
				if err != nil {
					return err
				}
				if b.Reads != want.Served[kindRead] || b.Writes != want.Served[kindWrite] {
					return fmt.Errorf("billed reads %d writes %d, served %d and %d", b.Reads, b.Writes, want.Served[kindRead], want.Served[kindWrite])
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("warn", func(t *testing.T) {
		rps, stor := tcs["warnrps"], tcs["warnstorage"]
		warned := false
		for range 8 {
			a := get(rps, 0)
			if a.Status != http.StatusNotFound {
				t.Fatalf("read past the rate under warn: %s, want it served (404)", a)
			}
			warned = warned || strings.Contains(a.Header.Get("Aerolith-Quota-Warning"), "requests_per_second")
		}
		if !warned {
			t.Errorf("8 back-to-back reads under a 3/s warn limit: no Aerolith-Quota-Warning naming requests_per_second")
		}
		last := answer{}
		for j := range 4 {
			last = put(stor, 1, "blobs", "b"+strconv.Itoa(j), map[string]string{"s": strings.Repeat("w", 1000)})
			if last.Status != http.StatusCreated {
				t.Fatalf("write %d past the storage limit under warn: %s, want 201", j, last)
			}
		}
		if h := last.Header.Get("Aerolith-Quota-Warning"); !strings.Contains(h, "storage_bytes") {
			t.Errorf("write past 2000 stored bytes: Aerolith-Quota-Warning = %q, want storage_bytes", h)
		}
		for node, limit := range map[int]string{0: "requests_per_second", 1: "storage_bytes"} {
			m := metrics(ctx, t, e, node)
			if v := metricValue(m, "aerolith_quota_warnings_total", `limit="`+limit+`"`); v < 1 {
				t.Errorf("%s: aerolith_quota_warnings_total{limit=%q} = %v, want >= 1", e.c.NodeID(node), limit, v)
			}
			for _, s := range specs {
				if strings.Contains(m, e.id(s.label)) {
					t.Errorf("%s: /metrics names tenant %s (metrics must carry no tenant label)", e.c.NodeID(node), s.label)
				}
			}
		}
	})
}

// checkRefusal asserts a quota refusal: the status, the error code, and a
// message naming the limit (every word of names).
func checkRefusal(t *testing.T, a answer, status int, code string, names ...string) {
	t.Helper()
	if a.Status != status || a.Code != code {
		t.Errorf("answer %s, want %d %s", a, status, code)
		return
	}
	for _, n := range names {
		if !strings.Contains(a.Message, n) {
			t.Errorf("message %q does not name %q", a.Message, n)
		}
	}
	t.Logf("refused as expected: %s (Retry-After %q)", a, a.Header.Get("Retry-After"))
}

// checkRetryAfter asserts a Retry-After header of whole seconds in [lo, hi].
func checkRetryAfter(t *testing.T, a answer, lo, hi int) {
	t.Helper()
	v := a.Header.Get("Retry-After")
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		t.Errorf("%s: Retry-After = %q, want whole seconds in [%d, %d]", a, v, lo, hi)
	}
}

// metrics returns node i's /metrics (cluster admin key).
func metrics(ctx context.Context, t *testing.T, e *env, i int) string {
	t.Helper()
	a := e.adminDo(ctx, http.MethodGet, e.c.URL(i)+"/metrics", nil)
	if a.Status != http.StatusOK {
		t.Fatalf("%s /metrics: %s", e.c.NodeID(i), a)
	}
	return string(a.Body)
}

// metricValue sums the samples of a metric whose line contains label
// ("" for every sample).
func metricValue(text, name, label string) float64 {
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !(strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ")) || !strings.Contains(line, label) {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// slowRequest is a PUT whose body arrives in parts: the agent admits it
// (taking a concurrency slot) and then waits for the rest of the body.
type slowRequest struct {
	pw   *io.PipeWriter
	done chan answer
	once sync.Once
}

func startSlowRequest(u, key, first string) *slowRequest {
	pr, pw := io.Pipe()
	s := &slowRequest{pw: pw, done: make(chan answer, 1)}
	go func() {
		c := newCaller(time.Minute)
		req, err := http.NewRequest(http.MethodPut, u, pr)
		if err != nil {
			s.done <- answer{Err: err}
			return
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.hc.Do(req)
		if err != nil {
			s.done <- answer{Err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		a := answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
		if a.Status >= 300 {
			var eb struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if json.Unmarshal(b, &eb) == nil {
				a.Code, a.Message = eb.Error.Code, eb.Error.Message
			}
		}
		s.done <- a
	}()
	go func() { _, _ = pw.Write([]byte(first)) }()
	return s
}

// answered returns the answer if it came within a moment (a refusal is
// answered before the body is read).
func (s *slowRequest) answered() (answer, bool) {
	select {
	case a := <-s.done:
		s.done <- a
		return a, true
	case <-time.After(300 * time.Millisecond):
		return answer{}, false
	}
}

// finish sends the rest of the body and ends it (once).
func (s *slowRequest) finish(rest string) {
	s.once.Do(func() {
		go func() {
			_, _ = s.pw.Write([]byte(rest))
			_ = s.pw.Close()
		}()
	})
}
