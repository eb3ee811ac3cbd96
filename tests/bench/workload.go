package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Result is one workload's outcome, printed in the etcd anchor's format.
type Result struct {
	Op      string        `json:"op"`
	Clients int           `json:"clients"`
	N       int           `json:"n"`
	QPS     float64       `json:"qps"`
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	P999    time.Duration `json:"p999_ns"`
}

// String formats r exactly like the etcd anchor's output line.
func (r Result) String() string {
	return fmt.Sprintf("op=%s clients=%d n=%d qps=%.0f p50=%v p99=%v p999=%v", r.Op, r.Clients, r.N, r.QPS, r.P50, r.P99, r.P999)
}

// The workloads, named as the etcd anchor names them.
const (
	opPut    = "put"    // PUT (upsert) of a fresh or existing document
	opGet    = "get"    // linearizable GET (etcd: default linearizable Range)
	opGetSer = "getser" // stale GET (etcd: serializable Range)
)

// valueBytes is the document size: the data object {"v":"xxx…"} as sent is
// exactly this many bytes, like etcd's 256-byte values.
const valueBytes = 256

// Collection is the collection the benchmark writes to.
const Collection = "bench"

// LoadConfig describes one workload run.
type LoadConfig struct {
	URLs         []string    // agent base URLs; requests are spread over them
	Key          string      // bearer key
	TLS          *tls.Config // client TLS for https URLs (nil: plain HTTP)
	Op           string      // opPut, opGet or opGetSer
	Clients      int         // concurrent clients (goroutines), each issuing one request at a time
	ConnsPerNode int         // HTTP/1.1 keep-alive connections allowed per node
	Total        int         // requests in all
	KeySpace     int         // gets pick ids uniformly from 1..KeySpace (default Total)
	Timeout      time.Duration
}

// putBody returns the request body of every put: {"data":{"v":"xxx…"}} where
// the data object is valueBytes long.
func putBody() []byte {
	pad := valueBytes - len(`{"v":""}`)
	return []byte(`{"data":{"v":"` + strings.Repeat("x", pad) + `"}}`)
}

// RunLoad runs one workload and returns its result. Like the etcd anchor,
// ids are 8-digit sequence numbers (%08d) handed out by a shared counter;
// gets read ids chosen uniformly at random from the ones written. Every
// request is sent to the next node in round-robin order per connection group
// (client i belongs to group i mod ConnsPerNode), which is what etcd's
// clientv3 round-robin balancer does for each of its connections. Any
// failed request aborts the run, as in the anchor.
func RunLoad(ctx context.Context, cfg LoadConfig) (Result, error) {
	switch cfg.Op {
	case opPut, opGet, opGetSer:
	default:
		return Result{}, fmt.Errorf("op: unknown workload %q (want put, get or getser)", cfg.Op)
	}
	if len(cfg.URLs) == 0 || cfg.Clients < 1 || cfg.ConnsPerNode < 1 || cfg.Total < 1 {
		return Result{}, fmt.Errorf("load: need urls, clients >= 1, conns >= 1 and total >= 1, got %d urls, %d clients, %d conns, %d total",
			len(cfg.URLs), cfg.Clients, cfg.ConnsPerNode, cfg.Total)
	}
	if cfg.KeySpace <= 0 {
		cfg.KeySpace = cfg.Total
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	tr := &http.Transport{
		MaxConnsPerHost:     cfg.ConnsPerNode,
		MaxIdleConns:        cfg.ConnsPerNode * len(cfg.URLs),
		MaxIdleConnsPerHost: cfg.ConnsPerNode,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		TLSClientConfig:     cfg.TLS,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: cfg.Timeout}
	groups := min(cfg.Clients, cfg.ConnsPerNode)
	rr := make([]atomic.Uint64, groups)
	body := putBody()
	auth := "Bearer " + cfg.Key
	query := ""
	switch cfg.Op {
	case opGet:
		query = "?consistency=linearizable"
	case opGetSer:
		query = "?consistency=stale"
	}

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	lat := make([][]time.Duration, cfg.Clients)
	start := time.Now()
	for i := 0; i < cfg.Clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(i)))
			group := &rr[i%groups]
			mine := make([]time.Duration, 0, cfg.Total/cfg.Clients+1)
			defer func() { lat[i] = mine }()
			for ctx.Err() == nil {
				n := next.Add(1)
				if n > int64(cfg.Total) {
					return
				}
				base := cfg.URLs[group.Add(1)%uint64(len(cfg.URLs))]
				var req *http.Request
				var err error
				if cfg.Op == opPut {
					req, err = http.NewRequestWithContext(ctx, http.MethodPut, fmt.Sprintf("%s/api/v1/collections/%s/documents/%08d", base, Collection, n), bytes.NewReader(body))
					if err == nil {
						req.Header.Set("Content-Type", "application/json")
					}
				} else {
					id := r.Intn(cfg.KeySpace) + 1
					req, err = http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/v1/collections/%s/documents/%08d%s", base, Collection, id, query), nil)
				}
				if err != nil {
					fail(err)
					return
				}
				req.Header.Set("Authorization", auth)
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					fail(fmt.Errorf("%s %s: %w", req.Method, req.URL, err))
					return
				}
				_, cerr := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
					fail(fmt.Errorf("%s %s: status %d", req.Method, req.URL, resp.StatusCode))
					return
				}
				if cerr != nil {
					fail(fmt.Errorf("%s %s: read body: %w", req.Method, req.URL, cerr))
					return
				}
				mine = append(mine, d)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return Result{}, firstErr
	}
	if err := parent.Err(); err != nil {
		return Result{}, fmt.Errorf("%s: %w", cfg.Op, err)
	}
	return summarize(cfg.Op, cfg.Clients, lat, elapsed)
}

// summarize computes throughput and percentiles exactly as the anchor does.
func summarize(op string, clients int, lat [][]time.Duration, elapsed time.Duration) (Result, error) {
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return Result{}, fmt.Errorf("%s: no request completed", op)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	p := func(q float64) time.Duration { return all[int(float64(len(all)-1)*q)] }
	return Result{
		Op: op, Clients: clients, N: len(all),
		QPS: float64(len(all)) / elapsed.Seconds(),
		P50: p(0.5), P99: p(0.99), P999: p(0.999),
	}, nil
}
