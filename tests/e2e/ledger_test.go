package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aerolithdb/aerolith/tests/proctest"
)

// docState is one state a document may be in: its data as canonical JSON and
// its version. The zero docState means "absent".
type docState struct {
	Data    string
	Version uint64
}

func (s docState) String() string {
	if s.Version == 0 {
		return "absent"
	}
	return fmt.Sprintf("v%d %s", s.Version, s.Data)
}

// docRecord is what the writers know about one document.
type docRecord struct {
	ID    string
	Acked *docState  // last acknowledged state; nil when no write was acknowledged
	Maybe []docState // states written after the last ack whose outcome is unknown
}

// allowed lists the states the document may legally be in now.
func (r *docRecord) allowed() []docState {
	var out []docState
	if r.Acked != nil {
		out = append(out, *r.Acked)
	} else {
		out = append(out, docState{})
	}
	return append(out, r.Maybe...)
}

// ledger records every write the writers issued and how it ended.
type ledger struct {
	coll  string
	mu    sync.Mutex
	docs  map[string]*docRecord
	acked atomic.Int64 // acknowledged writes
	unk   atomic.Int64 // writes with unknown outcome
	retry atomic.Int64 // attempts that failed and were retried
}

func newLedger(coll string) *ledger {
	return &ledger{coll: coll, docs: map[string]*docRecord{}}
}

func (l *ledger) record(id string) *docRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.docs[id]
	if !ok {
		r = &docRecord{ID: id}
		l.docs[id] = r
	}
	return r
}

func (l *ledger) ack(r *docRecord, s docState) {
	l.mu.Lock()
	r.Acked = &s
	r.Maybe = nil
	l.mu.Unlock()
	l.acked.Add(1)
}

func (l *ledger) maybe(r *docRecord, s docState) {
	l.mu.Lock()
	r.Maybe = append(r.Maybe, s)
	l.mu.Unlock()
	l.unk.Add(1)
}

// canonical re-encodes a JSON object with sorted keys.
func canonical(raw []byte) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	return string(b), err
}

func mustCanonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	s, err := canonical(b)
	if err != nil {
		panic(err)
	}
	return s
}

// writer issues a bounded sequence of writes, each retried against the next
// node until it is acknowledged. Two of three operations create a fresh
// document; every third conditionally updates (If-Match) the writer's last
// created document. A write whose outcome is unknown (timeout, 5xx, broken
// connection) is recorded as a possible state and never retried under the
// same id, so every acknowledged state is exactly predictable.
type writer struct {
	id      int
	c       *proctest.Cluster
	l       *ledger
	node    int
	current *docRecord // target of conditional updates
	timeout time.Duration
}

func (w *writer) run(ctx context.Context, ops int) error {
	for op := 0; op < ops; op++ {
		if err := w.write(ctx, op); err != nil {
			return fmt.Errorf("writer %d op %d: %w", w.id, op, err)
		}
	}
	return nil
}

func (w *writer) write(ctx context.Context, op int) error {
	update := op%3 == 2 && w.current != nil
	for attempt := 0; ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		var (
			rec  *docRecord
			ifv  uint64
			want docState
			data map[string]any
		)
		if update {
			rec = w.current
			w.l.mu.Lock()
			ifv = rec.Acked.Version
			w.l.mu.Unlock()
			data = map[string]any{"writer": w.id, "op": op, "kind": "update", "attempt": attempt}
			want = docState{Data: mustCanonical(data), Version: ifv + 1}
		} else {
			id := fmt.Sprintf("w%d-op%d-a%d", w.id, op, attempt)
			rec = w.l.record(id)
			data = map[string]any{"writer": w.id, "op": op, "kind": "create", "attempt": attempt, "pad": "0123456789abcdef"}
			want = docState{Data: mustCanonical(data), Version: 1}
		}
		rctx, cancel := context.WithTimeout(ctx, w.timeout)
		doc, err := w.c.API().Put(rctx, w.c.URL(w.node), w.l.coll, rec.ID, data, ifv)
		cancel()
		if err == nil {
			got, cerr := canonical(doc.Data)
			if cerr != nil {
				return fmt.Errorf("put %s: response data: %w", rec.ID, cerr)
			}
			if doc.ID != rec.ID || doc.Version != want.Version || got != want.Data {
				return fmt.Errorf("put %s acknowledged as id=%s v%d %s, want v%d %s", rec.ID, doc.ID, doc.Version, got, want.Version, want.Data)
			}
			w.l.ack(rec, want)
			if !update {
				w.current = rec
			}
			return nil
		}
		w.l.retry.Add(1)
		status := proctest.StatusOf(err)
		switch {
		case proctest.NotSent(err):
			// Never reached a server: retry the same write elsewhere.
		case update && status == http.StatusPreconditionFailed:
			return fmt.Errorf("conditional update of %s at its acknowledged version %d was rejected (acknowledged write lost or overwritten): %w", rec.ID, ifv, err)
		case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
			return fmt.Errorf("put %s on %s: %w", rec.ID, w.c.NodeID(w.node), err)
		default:
			// Unknown outcome: the write may or may not have happened.
			w.l.maybe(rec, want)
			if update {
				w.current, update = nil, false
			} else {
				attempt++
			}
		}
		w.node = (w.node + 1) % w.c.N()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond): // retry backoff
		}
	}
}

// runWriters runs n writers for ops operations each and returns their errors.
func runWriters(ctx context.Context, c *proctest.Cluster, l *ledger, n, ops int) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &writer{id: i, c: c, l: l, node: i % c.N(), timeout: 5 * time.Second}
			errs[i] = w.run(ctx, ops)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// verify reads every recorded document from every running node with the
// given consistency and returns one error per document whose state is not
// one the ledger allows. Transient read failures are retried until ctx ends.
func (l *ledger) verify(ctx context.Context, c *proctest.Cluster, cons proctest.Consistency) []error {
	l.mu.Lock()
	recs := make([]docRecord, 0, len(l.docs))
	for _, r := range l.docs {
		cp := *r
		cp.Maybe = append([]docState(nil), r.Maybe...)
		recs = append(recs, cp)
	}
	l.mu.Unlock()
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })

	type job struct {
		rec  docRecord
		node int
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for k := 0; k < 8; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := l.check(ctx, c, j.node, j.rec, cons); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, r := range recs {
		for i := 0; i < c.N(); i++ {
			if c.Running(i) {
				jobs <- job{r, i}
			}
		}
	}
	close(jobs)
	wg.Wait()
	return errs
}

func (l *ledger) check(ctx context.Context, c *proctest.Cluster, node int, r docRecord, cons proctest.Consistency) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		doc, err := c.API().Get(rctx, c.URL(node), l.coll, r.ID, cons)
		cancel()
		var got docState
		switch {
		case err == nil:
			data, cerr := canonical(doc.Data)
			if cerr != nil {
				return fmt.Errorf("%s on %s: bad data: %w", r.ID, c.NodeID(node), cerr)
			}
			got = docState{Data: data, Version: doc.Version}
		case proctest.StatusOf(err) == http.StatusNotFound:
		default:
			if ctx.Err() != nil {
				return fmt.Errorf("%s on %s (%s): %w", r.ID, c.NodeID(node), cons, err)
			}
			select { // transient (e.g. 503 during an election): retry
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		for _, s := range r.allowed() {
			if s == got {
				return nil
			}
		}
		return fmt.Errorf("%s on %s (%s read): got %v, want one of %v", r.ID, c.NodeID(node), cons, got, r.allowed())
	}
}
