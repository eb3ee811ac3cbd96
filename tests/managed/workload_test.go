package managed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Collections of the metering workload.
const (
	itemsColl  = "items"  // fixed documents, read and queried
	eventsColl = "events" // insert-only: the tenant's storage only grows
	numItems   = 30
)

// workload runs a known mix of requests (puts of new documents, gets,
// queries, lists, batches of new documents) for several tenants, one
// worker per tenant and node, every request counted in a tally. Per-node
// gates let a nemesis take a node out of the load with no request in
// flight to it.
type workload struct {
	e     *env
	tcs   []*tenantClient
	gates []sync.RWMutex // per node: workers hold R around each request

	stopc chan struct{}
	wg    sync.WaitGroup

	served       atomic.Int64 // answers classified served
	servedWrites atomic.Int64

	mu         sync.Mutex
	unexpected []string               // served answers with a status the workload did not expect
	spans      map[string][]writeSpan // tenant → every write that reached a node
}

func newWorkload(e *env, tcs ...*tenantClient) *workload {
	return &workload{e: e, tcs: tcs, gates: make([]sync.RWMutex, e.c.N()), stopc: make(chan struct{}), spans: map[string][]writeSpan{}}
}

// setup creates the items of every tenant, spread over the nodes.
func (w *workload) setup(ctx context.Context) error {
	for _, tc := range w.tcs {
		for j := range numItems {
			base := w.e.c.URL(j % w.e.c.N())
			body := data(map[string]any{"n": j, "tag": fmt.Sprintf("t%d", j%3), "name": fmt.Sprintf("item %d", j)})
			a := w.write(ctx, tc, kindWrite, 1, http.MethodPut, docURL(base, itemsColl, fmt.Sprintf("item-%02d", j)), body)
			if a.Status != http.StatusCreated {
				return fmt.Errorf("setup put item-%02d of %s: %s", j, tc.tenant, a)
			}
		}
	}
	return nil
}

// write sends a write and records its span (for the storage bound).
func (w *workload) write(ctx context.Context, tc *tenantClient, k kind, units uint64, method, u string, body []byte) answer {
	send := time.Now()
	a := tc.call(ctx, k, units, method, u, body)
	if o := classify(a); o != outNotSent {
		w.mu.Lock()
		w.spans[tc.tenant] = append(w.spans[tc.tenant], writeSpan{Send: send, Answer: time.Now(), Unknown: o == outAmbiguous})
		w.mu.Unlock()
	}
	return a
}

// spansOf returns the spans of tenant's writes.
func (w *workload) spansOf(tenant string) []writeSpan {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]writeSpan(nil), w.spans[tenant]...)
}

// run starts the workers.
func (w *workload) run() {
	for ti, tc := range w.tcs {
		for node := range w.e.c.N() {
			w.wg.Add(1)
			go w.worker(ti*w.e.c.N()+node, tc, node)
		}
	}
}

// stop stops the workers and waits for them.
func (w *workload) stop() {
	close(w.stopc)
	w.wg.Wait()
}

func (w *workload) worker(id int, tc *tenantClient, node int) {
	defer w.wg.Done()
	rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	pace := time.NewTicker(10 * time.Millisecond) // load generator pacing, ~100 requests/s per worker
	defer pace.Stop()
	var seq int
	for {
		select {
		case <-w.stopc:
			return
		case <-pace.C:
		}
		w.gates[node].RLock()
		a, want := w.one(tc, node, id, &seq, rng)
		w.gates[node].RUnlock()
		switch classify(a) {
		case outServed:
			w.served.Add(1)
			if !strings.Contains(want, fmt.Sprint(a.Status)) {
				w.mu.Lock()
				if len(w.unexpected) < 10 {
					w.unexpected = append(w.unexpected, fmt.Sprintf("%s on %s: %s (want %s)", tc.tenant, w.e.c.NodeID(node), a, want))
				}
				w.mu.Unlock()
			}
		case outRefused, outAmbiguous, outNotSent:
			// The node is down, paused or without a leader: back off a
			// little so the worker does not spin.
			select {
			case <-w.stopc:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// one sends one random request of the mix to node and returns its answer
// and the statuses it may answer when served.
func (w *workload) one(tc *tenantClient, node, id int, seq *int, rng *rand.Rand) (answer, string) {
	ctx := context.Background() // the caller's client timeout bounds the request
	base := w.e.c.URL(node)
	newDoc := func() (string, []byte) {
		*seq++
		return fmt.Sprintf("w%d-%d", id, *seq), mustJSON(map[string]any{"w": id, "seq": *seq, "pad": strings.Repeat("x", 64)})
	}
	switch p := rng.IntN(100); {
	case p < 30: // put a new document
		docID, doc := newDoc()
		a := w.write(ctx, tc, kindWrite, 1, http.MethodPut, docURL(base, eventsColl, docID), []byte(`{"data":`+string(doc)+`}`))
		if classify(a) == outServed {
			w.servedWrites.Add(1)
		}
		return a, "201"
	case p < 40: // batch of three new documents
		var ops []map[string]any
		for range 3 {
			docID, doc := newDoc()
			ops = append(ops, map[string]any{"op": "put", "collection": eventsColl, "id": docID, "data": rawJSON(doc)})
		}
		a := w.write(ctx, tc, kindWrite, 3, http.MethodPost, base+"/api/v1/batch", mustJSON(map[string]any{"operations": ops}))
		if classify(a) == outServed {
			w.servedWrites.Add(3)
		}
		return a, "200"
	case p < 65: // get an item, or an event that may not exist
		if rng.IntN(2) == 0 {
			return tc.call(ctx, kindRead, 1, http.MethodGet, docURL(base, itemsColl, fmt.Sprintf("item-%02d", rng.IntN(numItems))), nil), "200"
		}
		return tc.call(ctx, kindRead, 1, http.MethodGet, docURL(base, eventsColl, fmt.Sprintf("w%d-%d", id, rng.IntN(*seq+2))), nil), "200 404"
	case p < 85: // query
		q := mustJSON(map[string]any{"filter": map[string]any{"n": map[string]any{"$gte": rng.IntN(numItems)}}, "sort": map[string]int{"n": 1}, "limit": 5})
		return tc.call(ctx, kindQuery, 1, http.MethodPost, collURL(base, itemsColl)+"/query", q), "200"
	default: // list
		return tc.call(ctx, kindRead, 1, http.MethodGet, collURL(base, itemsColl)+"/documents?limit=5", nil), "200"
	}
}

// rawJSON marks pre-encoded JSON for mustJSON.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }
