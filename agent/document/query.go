package document

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/query"
)

// queryOptions are internal knobs, used by tests to compare plans.
type queryOptions struct {
	forceScan bool            // never use an index
	ctx       context.Context // checked while scanning (nil: never)
	sealer    Sealer          // opens sealed documents; indexes are blinded
}

// Query runs a filter over a collection and returns the requested page of
// matching documents, sorted by q.Sort and then by id (ascending); Total
// counts all matches. A missing collection yields an empty page. Bad
// filters, sorts and paging fail with ErrInvalid naming the problem.
//
// Plan: among the filter's indexable predicates (equality, $in, ranges in
// its top-level AND) on indexed fields, the one whose key ranges hold the
// fewest index entries is scanned, and only the documents it points at are
// fetched and checked against the whole filter. Without one, every document
// is scanned. Explain says which happened and how many documents were read.
func Query(tx *bolt.Tx, tenant, coll string, q QueryRequest) (Page, Explain, error) {
	return runQuery(tx, tenant, coll, q, queryOptions{})
}

// queryCheckEvery is how many documents a query reads between checks of its
// context.
const queryCheckEvery = 256

// QueryContext is Query, stopped when ctx is done: the scan checks ctx every
// queryCheckEvery documents and returns ctx's error (context.Canceled or
// context.DeadlineExceeded, wrapped) instead of a page. This is how a tier's
// maximum query duration cancels the query itself, not just its answer.
func QueryContext(ctx context.Context, tx *bolt.Tx, tenant, coll string, q QueryRequest) (Page, Explain, error) {
	if err := ctx.Err(); err != nil {
		return Page{}, Explain{}, queryStopped(err)
	}
	return runQuery(tx, tenant, coll, q, queryOptions{ctx: ctx})
}

func queryStopped(err error) error { return fmt.Errorf("query stopped: %w", err) }

func runQuery(tx *bolt.Tx, tenant, coll string, q QueryRequest, opts queryOptions) (Page, Explain, error) {
	limit, err := pageArgs(q.Limit, q.Offset)
	if err != nil {
		return Page{}, Explain{}, err
	}
	filter, err := query.Parse(q.Filter)
	if err != nil {
		return Page{}, Explain{}, invalidf("filter: %v", err)
	}
	sortSpec, err := query.ParseSort(q.Sort)
	if err != nil {
		return Page{}, Explain{}, invalidf("sort: %v", err)
	}
	cb, err := collection(tx, tenant, coll)
	if err != nil {
		return Page{}, Explain{}, err
	}
	page := Page{Documents: []Doc{}, Limit: limit, Offset: q.Offset}
	if cb == nil {
		return page, Explain{Plan: "EMPTY (no such collection)"}, nil
	}
	meta, err := loadCollMeta(cb)
	if err != nil {
		return Page{}, Explain{}, internalf("collection %q: %v", coll, err)
	}
	db := cb.Bucket(bucketDocs)
	if db == nil {
		return page, Explain{Plan: "EMPTY (no documents)"}, nil
	}

	var ix *indexPlan
	var blindedRanges []string
	if !opts.forceScan {
		if ix, blindedRanges, err = chooseIndex(cb, &meta, filter, opts.sealer, tenant); err != nil {
			return Page{}, Explain{}, err
		}
	}
	k := q.Offset + limit
	if k < q.Offset { // overflow: keep everything from offset on
		k = int(^uint(0) >> 1)
	}
	top := &topK{sort: sortSpec, k: k}
	scanned := 0
	eval := func(id, v []byte) error {
		scanned++
		if opts.ctx != nil && scanned%queryCheckEvery == 0 {
			if err := opts.ctx.Err(); err != nil {
				return fmt.Errorf("query stopped after %d documents: %w", scanned, err)
			}
		}
		r, err := decodeRecord(v, false)
		if err != nil {
			return internalf("document %q: %v", id, err)
		}
		if err := openRecord(opts.sealer, tenant, coll, string(id), &r); err != nil {
			return err
		}
		doc, derr := decodeData(string(id), r.Data)
		if derr != nil {
			return derr
		}
		if !filter.Match(doc) {
			return nil
		}
		top.total++
		var keys [][]byte
		if len(sortSpec) > 0 {
			// Encoded once per match: comparing encodings is comparing values.
			vals := sortSpec.Keys(doc)
			keys = make([][]byte, len(vals))
			for i, v := range vals {
				keys[i] = query.EncodeKey(v)
			}
		}
		top.offer(match{id: string(id), keys: keys, rec: r})
		return nil
	}

	var ex Explain
	if ix != nil {
		ex.Index = ix.pred.Path
		ids, err := ix.candidates(cb)
		if err != nil {
			return Page{}, Explain{}, err
		}
		for _, id := range ids {
			v := db.Get(id)
			if v == nil {
				return Page{}, Explain{}, internalf("index on %q points at missing document %q", ix.pred.Path, id)
			}
			if err := eval(id, v); err != nil {
				return Page{}, Explain{}, err
			}
		}
	} else {
		c := db.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if err := eval(k, v); err != nil {
				return Page{}, Explain{}, err
			}
		}
	}
	ex.Scanned = scanned
	ex.Plan = describePlan(ix, filter, sortSpec, q.Offset, limit, opts)
	if ix == nil && len(blindedRanges) > 0 {
		ex.Plan += fmt.Sprintf(" (range on encrypted index %s: blinded index keys serve only equality and $in)", strings.Join(blindedRanges, ", "))
	}

	page.Total = top.total
	for i, m := range top.sorted() {
		if i < q.Offset {
			continue
		}
		m.rec.Data = append([]byte(nil), m.rec.Data...) // leave bbolt memory
		page.Documents = append(page.Documents, m.rec.document(m.id))
	}
	return page, ex, nil
}

// indexPlan is an index scan: the predicate served and its key ranges.
type indexPlan struct {
	pred    query.Predicate
	ranges  []query.KeyRange
	entries int // index entries in the ranges (the estimate it was chosen by)
}

// chooseIndex picks the usable index predicate whose ranges hold the fewest
// entries, counting each candidate only up to the best count so far; nil
// when no predicate has an index. With a sealer the indexes are blinded:
// equality and $in predicates scan the blinded keys, range predicates
// cannot use an index and their fields are returned in blindedRanges.
func chooseIndex(cb *bolt.Bucket, meta *collMeta, f *query.Filter, sealer Sealer, tenant string) (best *indexPlan, blindedRanges []string, err error) {
	for _, p := range f.IndexablePredicates() {
		im := meta.index(p.Path)
		if im == nil {
			continue
		}
		ib := cb.Bucket(indexBucketName(p.Path))
		if ib == nil {
			return nil, nil, internalf("index on %q is declared but has no bucket", p.Path)
		}
		plan := &indexPlan{pred: p}
		switch {
		case sealer == nil:
			plan.ranges = p.KeyRanges(im.Multikey == 0)
		case p.Kind == query.PredRange:
			blindedRanges = append(blindedRanges, p.Path)
			continue
		default:
			if plan.ranges, err = blindRanges(sealer, tenant, p); err != nil {
				return nil, nil, err
			}
		}
		limit := -1
		if best != nil {
			limit = best.entries
		}
		plan.entries = countEntries(ib, plan.ranges, limit)
		if best == nil || plan.entries < best.entries {
			best = plan
		}
	}
	return best, blindedRanges, nil
}

// countEntries counts the keys inside ranges, stopping once past limit
// (when limit >= 0).
func countEntries(ib *bolt.Bucket, ranges []query.KeyRange, limit int) int {
	n := 0
	c := ib.Cursor()
	for _, r := range ranges {
		for k, _ := c.Seek(r.Start); k != nil && bytes.Compare(k, r.End) < 0; k, _ = c.Next() {
			n++
			if limit >= 0 && n > limit {
				return n
			}
		}
	}
	return n
}

// candidates returns the distinct ids the plan's ranges point at, in index
// order.
func (p *indexPlan) candidates(cb *bolt.Bucket) ([][]byte, error) {
	ib := cb.Bucket(indexBucketName(p.pred.Path))
	seen := map[string]struct{}{}
	var ids [][]byte
	c := ib.Cursor()
	for _, r := range p.ranges {
		for k, _ := c.Seek(r.Start); k != nil && bytes.Compare(k, r.End) < 0; k, _ = c.Next() {
			id, err := idFromIndexKey(k)
			if err != nil {
				return nil, internalf("index on %q: %v", p.pred.Path, err)
			}
			if _, dup := seen[string(id)]; dup {
				continue
			}
			seen[string(id)] = struct{}{}
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func describePlan(ix *indexPlan, f *query.Filter, s query.Sort, offset, limit int, opts queryOptions) string {
	var steps []string
	switch {
	case ix != nil:
		steps = append(steps, fmt.Sprintf("IXSCAN %s (%d entries)", ix.pred, ix.entries), "FETCH", "FILTER")
	case opts.forceScan:
		steps = append(steps, "COLLSCAN (forced)", "FILTER")
	default:
		steps = append(steps, "COLLSCAN", "FILTER")
	}
	if len(s) > 0 {
		steps = append(steps, "SORT "+s.String())
	}
	if offset > 0 {
		steps = append(steps, fmt.Sprintf("SKIP %d", offset))
	}
	steps = append(steps, fmt.Sprintf("LIMIT %d", limit))
	return strings.Join(steps, " -> ")
}

// match is a matching document kept for the page.
type match struct {
	id   string
	keys [][]byte // query.EncodeKey of each sort field's value
	rec  record
}

// topK keeps the k first matches in (sort keys, id) order using a max-heap,
// and counts all of them.
type topK struct {
	sort  query.Sort
	k     int
	items []match
	total int
}

func (t *topK) less(a, b *match) bool {
	for i, f := range t.sort {
		if c := bytes.Compare(a.keys[i], b.keys[i]); c != 0 {
			return (c < 0) != f.Desc
		}
	}
	return a.id < b.id
}

// heap.Interface with the largest match on top.
func (t *topK) Len() int           { return len(t.items) }
func (t *topK) Less(i, j int) bool { return t.less(&t.items[j], &t.items[i]) }
func (t *topK) Swap(i, j int)      { t.items[i], t.items[j] = t.items[j], t.items[i] }
func (t *topK) Push(x any)         { t.items = append(t.items, x.(match)) }
func (t *topK) Pop() any {
	m := t.items[len(t.items)-1]
	t.items = t.items[:len(t.items)-1]
	return m
}

func (t *topK) offer(m match) {
	if t.k <= 0 {
		return
	}
	if len(t.items) < t.k {
		heap.Push(t, m)
		return
	}
	if t.less(&m, &t.items[0]) {
		t.items[0] = m
		heap.Fix(t, 0)
	}
}

// sorted returns the kept matches in ascending order.
func (t *topK) sorted() []match {
	out := make([]match, len(t.items))
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(t).(match)
	}
	return out
}
