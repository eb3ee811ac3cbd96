package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

// registries hands each node index its own Prometheus registry, kept across
// restarts.
type registries struct {
	mu sync.Mutex
	m  map[int]*prometheus.Registry
}

func (r *registries) get(i int) *prometheus.Registry {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[int]*prometheus.Registry{}
	}
	if r.m[i] == nil {
		r.m[i] = prometheus.NewRegistry()
	}
	return r.m[i]
}

// value returns the value of a counter or gauge, or the sample count of a
// histogram, registered for node i.
func (r *registries) value(t testing.TB, i int, name string) float64 {
	t.Helper()
	mfs, err := r.get(i).Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("metric %s not found for node %d", name, i)
	return 0
}

// newCluster starts an n-node cluster whose nodes register metrics in regs
// and get cfg applied.
func newCluster(t *testing.T, n int, regs *registries, cfg func(i int, c *store.Config), opts ...storetest.Option) *storetest.Cluster {
	t.Helper()
	opts = append(opts, storetest.WithConfig(func(i int, c *store.Config) {
		if regs != nil {
			c.Registerer = regs.get(i)
		}
		if cfg != nil {
			cfg(i, c)
		}
	}))
	return storetest.NewCluster(t, n, opts...)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), storetest.WaitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// retryable reports errors after which an idempotent command may be sent
// again.
func retryable(err error) bool {
	return errors.Is(err, store.ErrLeadershipLost) || errors.Is(err, store.ErrNoLeader) ||
		errors.Is(err, store.ErrNotLeader) || errors.Is(err, store.ErrClosed)
}

// put sets k=v through s, retrying across leader changes (puts are
// idempotent), and returns the entry index.
func put(t testing.TB, s *store.Store, k, v string) uint64 {
	t.Helper()
	var idx uint64
	storetest.Eventually(t, storetest.WaitTimeout, func() error {
		res, i, err := s.Propose(ctxT(t), storetest.Put(k, v))
		if err != nil {
			if retryable(err) {
				return err
			}
			t.Fatalf("Propose(put %s) = %v", k, err)
		}
		r, err := storetest.DecodeResult(res)
		if err != nil || !r.OK || r.Value != v {
			t.Fatalf("Propose(put %s) result = %+v, %v; want OK %q", k, r, err, v)
		}
		idx = i
		return nil
	})
	return idx
}

// read returns k read from s with consistency c.
func read(ctx context.Context, s *store.Store, c store.Consistency, k string) (string, bool, error) {
	var v string
	var ok bool
	err := s.View(ctx, c, func(tx *bolt.Tx) error {
		v, ok = storetest.Read(tx, k)
		return nil
	})
	return v, ok, err
}

// dump returns all KV data of s (stale read).
func dump(t testing.TB, s *store.Store) map[string]string {
	t.Helper()
	var m map[string]string
	if err := s.View(ctxT(t), store.Stale, func(tx *bolt.Tx) error {
		m = storetest.Dump(tx)
		return nil
	}); err != nil {
		t.Fatalf("View(stale) = %v", err)
	}
	return m
}

// followers returns the running nodes other than the leader.
func followers(c *storetest.Cluster, leader *storetest.Node) []*storetest.Node {
	var out []*storetest.Node
	for _, nd := range c.Running() {
		if nd.ID != leader.ID {
			out = append(out, nd)
		}
	}
	return out
}

// waitConverged waits until every running node applied the same index and
// holds the same KV data, and returns that data.
func waitConverged(t testing.TB, c *storetest.Cluster) map[string]string {
	t.Helper()
	var ref map[string]string
	c.Eventually(func() error {
		leader := c.WaitForLeader()
		want := leader.Store.AppliedIndex()
		for _, nd := range c.Running() {
			if got := nd.Store.AppliedIndex(); got != want {
				return fmt.Errorf("%s applied %d, leader %s applied %d", nd.ID, got, leader.ID, want)
			}
		}
		ref = dump(t, leader.Store)
		for _, nd := range c.Running() {
			got := dump(t, nd.Store)
			if len(got) != len(ref) {
				return fmt.Errorf("%s has %d keys, leader %s has %d", nd.ID, len(got), leader.ID, len(ref))
			}
			for k, v := range ref {
				if got[k] != v {
					return fmt.Errorf("%s: %s = %q, leader has %q", nd.ID, k, got[k], v)
				}
			}
		}
		return nil
	})
	return ref
}

// recordingHandler hands every log message to a function.
type recordingHandler struct{ f func(msg string) }

func (h recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.f(r.Message)
	return nil
}
func (h recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordingHandler) WithGroup(string) slog.Handler      { return h }

func newRecordingLogger(f func(msg string)) *slog.Logger { return slog.New(recordingHandler{f}) }

var _ = time.Second

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
