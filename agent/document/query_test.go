package document

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/query"
)

// people is the fixture of the query table tests.
var people = []struct{ id, data string }{
	{"p01", `{"name":"ada","age":36,"city":"london","tags":["math","poetry"],"addr":{"zip":"NW1","geo":{"lat":51.5}}}`},
	{"p02", `{"name":"alan","age":41,"city":"london","tags":["math","crypto"],"addr":{"zip":"SW1"}}`},
	{"p03", `{"name":"grace","age":85,"city":"new york","tags":["navy","cobol"],"rank":"admiral"}`},
	{"p04", `{"name":"linus","age":"unknown","city":"portland","tags":[]}`},
	{"p05", `{"name":"barbara","age":null,"city":"boston","tags":"solo"}`},
	{"p06", `{"name":"ken","city":"berkeley","scores":[{"v":3},{"v":9}]}`},
	{"p07", `{"name":"edsger","age":72.5,"city":"austin","tags":["math"],"addr":{"zip":"78701"}}`},
	{"p08", `{"name":"big","age":9007199254740993,"city":"zurich"}`},
	{"p09", `{"name":"big2","age":9007199254740992,"city":"zurich","active":true}`},
	{"p10", `{"name":"neg","age":-1e2,"city":"","active":false,"scores":[{"v":[1,20]}]}`},
}

func loadPeople(t testing.TB, indexes ...string) *bolt.DB {
	t.Helper()
	db, sm := openDB(t), NewStateMachine(Config{})
	var ops []Op
	for _, f := range indexes {
		ops = append(ops, indexOp("people", f))
	}
	for _, p := range people {
		ops = append(ops, putOp("people", p.id, p.data))
	}
	mustApply(t, db, sm, ops...)
	return db
}

func TestQueryTable(t *testing.T) {
	tests := []struct {
		filter, sort  string
		limit, offset int
		want          string // ids of the page
		total         int
	}{
		{filter: ``, want: "p01,p02,p03,p04,p05,p06,p07,p08,p09,p10", total: 10},
		{filter: `{"city":"london"}`, want: "p01,p02", total: 2},
		{filter: `{"city":{"$ne":"london"}}`, want: "p03,p04,p05,p06,p07,p08,p09,p10", total: 8},
		{filter: `{"age":{"$gt":40}}`, want: "p02,p03,p07,p08,p09", total: 5},
		{filter: `{"age":{"$gte":41,"$lt":85}}`, want: "p02,p07", total: 2},
		{filter: `{"age":{"$lte":36}}`, want: "p01,p10", total: 2},
		{filter: `{"age":{"$gt":9007199254740992}}`, want: "p08", total: 1},
		{filter: `{"age":9007199254740992}`, want: "p09", total: 1},
		{filter: `{"age":{"$gt":"a"}}`, want: "p04", total: 1},
		{filter: `{"age":null}`, want: "p05,p06", total: 2},
		{filter: `{"age":{"$exists":false}}`, want: "p06", total: 1},
		{filter: `{"age":{"$in":[36,41.0,"unknown"]}}`, want: "p01,p02,p04", total: 3},
		{filter: `{"age":{"$nin":[36,41,null]}}`, want: "p03,p04,p07,p08,p09,p10", total: 6},
		{filter: `{"age":{"$not":{"$gt":40}}}`, want: "p01,p04,p05,p06,p10", total: 5},
		{filter: `{"tags":"math"}`, want: "p01,p02,p07", total: 3},
		{filter: `{"tags":"solo"}`, want: "p05", total: 1},
		{filter: `{"tags":[]}`, want: "p04", total: 1},
		{filter: `{"tags":["math","poetry"]}`, want: "p01", total: 1},
		{filter: `{"tags":{"$nin":["math"]}}`, want: "p03,p04,p05,p06,p08,p09,p10", total: 7},
		{filter: `{"tags.0":"math"}`, want: "p01,p02,p07", total: 3},
		{filter: `{"tags":{"$gt":"n"}}`, want: "p01,p03,p05", total: 3},
		{filter: `{"addr.zip":{"$exists":true}}`, want: "p01,p02,p07", total: 3},
		{filter: `{"addr.geo.lat":{"$gt":50}}`, want: "p01", total: 1},
		{filter: `{"scores.v":9}`, want: "p06", total: 1},
		{filter: `{"scores.v":{"$gt":10}}`, want: "p10", total: 1},
		{filter: `{"scores.1.v":9}`, want: "p06", total: 1},
		{filter: `{"active":{"$ne":true}}`, want: "p01,p02,p03,p04,p05,p06,p07,p08,p10", total: 9},
		{filter: `{"$or":[{"city":"zurich"},{"tags":"cobol"}]}`, want: "p03,p08,p09", total: 3},
		{filter: `{"$and":[{"city":"london"},{"age":{"$gt":40}}]}`, want: "p02", total: 1},
		{filter: `{"$nor":[{"city":"london"},{"age":{"$type":1}}]}`, want: "ERR", total: 0},
		{filter: `{"city":"london","tags":"crypto"}`, want: "p02", total: 1},
		// sorting: BSON type order, multi-field, id breaking ties
		{filter: ``, sort: `{"age":1}`, want: "p05,p06,p10,p01,p02,p07,p03,p09,p08,p04", total: 10},
		{filter: ``, sort: `{"age":-1}`, want: "p04,p08,p09,p03,p07,p02,p01,p10,p05,p06", total: 10},
		{filter: ``, sort: `{"city":1,"name":-1}`, want: "p10,p07,p06,p05,p02,p01,p03,p04,p09,p08", total: 10},
		{filter: `{"city":"zurich"}`, sort: `{"active":-1}`, want: "p09,p08", total: 2},
		{filter: `{"city":{"$in":["london","zurich"]}}`, sort: `{"city":-1}`, want: "p08,p09,p01,p02", total: 4},
		// paging
		{filter: ``, limit: 3, want: "p01,p02,p03", total: 10},
		{filter: ``, limit: 3, offset: 8, want: "p09,p10", total: 10},
		{filter: ``, offset: 20, want: "", total: 10},
		{filter: `{"age":{"$gt":0}}`, sort: `{"age":-1}`, limit: 2, offset: 1, want: "p09,p03", total: 6},
		{filter: `{"tags":"math"}`, sort: `{"name":1}`, limit: 1, offset: 2, want: "p07", total: 3},
	}
	dbs := map[string]*bolt.DB{
		"no indexes":   loadPeople(t),
		"with indexes": loadPeople(t, "age", "city", "tags", "scores.v", "addr.zip", "active"),
	}
	for name, db := range dbs {
		for _, tt := range tests {
			q := QueryRequest{Filter: json.RawMessage(tt.filter), Sort: json.RawMessage(tt.sort), Limit: tt.limit, Offset: tt.offset}
			var page Page
			err := db.View(func(tx *bolt.Tx) error {
				var err error
				page, _, err = Query(tx, testTenant, "people", q)
				return err
			})
			if tt.want == "ERR" {
				wantCode(t, err, ErrInvalid)
				continue
			}
			if err != nil {
				t.Fatalf("%s: Query(%s, sort %s): %v", name, tt.filter, tt.sort, err)
			}
			if got := ids(page); got != tt.want || page.Total != tt.total {
				t.Errorf("%s: Query(%s, sort %s, limit %d, offset %d) = %s (total %d), want %s (total %d)",
					name, tt.filter, tt.sort, tt.limit, tt.offset, got, page.Total, tt.want, tt.total)
			}
			wantLimit := tt.limit
			if wantLimit == 0 {
				wantLimit = DefaultLimit
			}
			if page.Limit != wantLimit || page.Offset != tt.offset {
				t.Errorf("%s: page limit/offset = %d/%d, want %d/%d", name, page.Limit, page.Offset, wantLimit, tt.offset)
			}
		}
	}
}

func TestQueryErrors(t *testing.T) {
	db := loadPeople(t)
	tests := []struct {
		q    QueryRequest
		coll string
		msg  string
	}{
		{QueryRequest{Filter: json.RawMessage(`{"a":{"$foo":1}}`)}, "people", `filter: unknown operator "$foo" at "a"`},
		{QueryRequest{Filter: json.RawMessage(`{"$not":{"a":1}}`)}, "people", `filter: "$not" is not allowed at the top level`},
		{QueryRequest{Filter: json.RawMessage(`[]`)}, "people", "filter: filter must be a JSON object"},
		{QueryRequest{Sort: json.RawMessage(`{"a":0}`)}, "people", `sort: sort field "a": direction must be 1`},
		{QueryRequest{Limit: 1001}, "people", "limit 1001 exceeds the maximum 1000"},
		{QueryRequest{Limit: -1}, "people", "limit -1 is negative"},
		{QueryRequest{Offset: -5}, "people", "offset -5 is negative"},
		{QueryRequest{}, "bad/name", `invalid collection name "bad/name"`},
	}
	for _, tt := range tests {
		_, err := view(t, db, func(tx *bolt.Tx) (Page, error) {
			p, _, err := Query(tx, testTenant, tt.coll, tt.q)
			return p, err
		})
		wantCode(t, err, ErrInvalid)
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Query(%+v) error = %q, want it to contain %q", tt.q, err, tt.msg)
		}
	}
	page, ex := runQ(t, db, "missing", QueryRequest{Filter: json.RawMessage(`{"a":1}`)}, queryOptions{})
	if page.Total != 0 || len(page.Documents) != 0 || page.Documents == nil || ex.Scanned != 0 {
		t.Errorf("query on a missing collection = %+v %+v, want an empty page", page, ex)
	}
}

// candidateCount counts the documents that have an index key of field in
// the ranges of pred, computed from the documents themselves.
func candidateCount(t *testing.T, db *bolt.DB, field string, pred query.Predicate, singleKey bool) int {
	t.Helper()
	n := 0
	for _, p := range people {
		var doc map[string]any
		dec := json.NewDecoder(strings.NewReader(p.data))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
	keys:
		for _, k := range query.IndexKeys(doc, field) {
			full := indexKey(k, p.id)
			for _, r := range pred.KeyRanges(singleKey) {
				if bytes.Compare(full, r.Start) >= 0 && bytes.Compare(full, r.End) < 0 {
					n++
					break keys
				}
			}
		}
	}
	return n
}

func TestQueryUsesIndex(t *testing.T) {
	db := loadPeople(t, "age", "city", "tags")
	tests := []struct {
		filter string
		index  string
		single bool // the index is single-key
		want   string
	}{
		{`{"city":"london"}`, "city", true, "p01,p02"},
		{`{"city":{"$in":["london","zurich","nowhere"]}}`, "city", true, "p01,p02,p08,p09"},
		{`{"age":{"$gt":40,"$lt":80}}`, "age", true, "p02,p07"},
		{`{"age":{"$gte":"a"}}`, "age", true, "p04"},
		{`{"tags":"math","age":{"$gt":0}}`, "tags", false, "p01,p02,p07"},
		{`{"tags":"math","city":"austin"}`, "city", true, "p07"},
		{`{"city":{"$gt":"m"},"name":{"$ne":"big"}}`, "city", true, "p03,p04,p09"},
		{`{"$and":[{"age":{"$lt":50}},{"city":"london"}]}`, "city", true, "p01,p02"},
		{`{"city":{"$in":[]}}`, "city", true, ""},
		{`{"age":{"$gt":5,"$lt":"z"}}`, "age", true, ""},
	}
	for _, tt := range tests {
		f, err := query.Parse(json.RawMessage(tt.filter))
		if err != nil {
			t.Fatal(err)
		}
		page, ex := runQ(t, db, "people", QueryRequest{Filter: json.RawMessage(tt.filter)}, queryOptions{})
		if got := ids(page); got != tt.want {
			t.Errorf("Query(%s) = %s, want %s", tt.filter, got, tt.want)
		}
		if ex.Index != tt.index {
			t.Errorf("Query(%s) used index %q, want %q (plan %s)", tt.filter, ex.Index, tt.index, ex.Plan)
			continue
		}
		var pred query.Predicate
		for _, p := range f.IndexablePredicates() {
			if p.Path == tt.index {
				pred = p
			}
		}
		if want := candidateCount(t, db, tt.index, pred, tt.single); ex.Scanned != want || ex.Scanned >= len(people) {
			t.Errorf("Query(%s) scanned %d documents, want the %d index candidates (collection has %d)", tt.filter, ex.Scanned, want, len(people))
		}
		if !strings.HasPrefix(ex.Plan, "IXSCAN "+tt.index) {
			t.Errorf("Query(%s) plan = %q", tt.filter, ex.Plan)
		}
	}
	// Not indexable: full scans.
	for _, filter := range []string{`{"age":null}`, `{"$or":[{"city":"london"},{"age":85}]}`, `{"name":"ada"}`, `{"city":{"$ne":"x"}}`} {
		_, ex := runQ(t, db, "people", QueryRequest{Filter: json.RawMessage(filter)}, queryOptions{})
		if ex.Index != "" || ex.Scanned != len(people) || !strings.HasPrefix(ex.Plan, "COLLSCAN") {
			t.Errorf("Query(%s) = %+v, want a full scan of %d documents", filter, ex, len(people))
		}
	}
}

func TestList(t *testing.T) {
	db := loadPeople(t)
	list := func(limit, offset int) (Page, error) {
		return view(t, db, func(tx *bolt.Tx) (Page, error) { return List(tx, testTenant, "people", limit, offset) })
	}
	p, err := list(0, 0)
	if err != nil || ids(p) != "p01,p02,p03,p04,p05,p06,p07,p08,p09,p10" || p.Total != 10 || p.Limit != DefaultLimit {
		t.Errorf("List(0,0) = %s total %d limit %d, %v", ids(p), p.Total, p.Limit, err)
	}
	if !jsonEq(p.Documents[0].Data, []byte(people[0].data)) {
		t.Errorf("List data = %s", p.Documents[0].Data)
	}
	p, _ = list(4, 7)
	if ids(p) != "p08,p09,p10" || p.Total != 10 || p.Offset != 7 {
		t.Errorf("List(4,7) = %s total %d", ids(p), p.Total)
	}
	p, _ = list(1, 10)
	if len(p.Documents) != 0 || p.Documents == nil || p.Total != 10 {
		t.Errorf("List(1,10) = %+v", p)
	}
	_, err = list(MaxLimit+1, 0)
	wantCode(t, err, ErrInvalid)
	_, err = list(1, -1)
	wantCode(t, err, ErrInvalid)
	p, err = view(t, db, func(tx *bolt.Tx) (Page, error) { return List(tx, testTenant, "nothing", 0, 0) })
	if err != nil || p.Total != 0 || p.Documents == nil {
		t.Errorf("List of a missing collection = %+v, %v", p, err)
	}
}

func TestCollectionsAndStats(t *testing.T) {
	db, sm := openDB(t), NewStateMachine(Config{})
	mustApply(t, db, sm,
		putOp("b", "x", `{"k":[1,2]}`),
		putOp("a", "y", `{"k":1}`),
		putOp("a", "zz", `{"k":2}`),
		indexOp("a", "k"),
		indexOp("b", "k"),
	)
	other := putOp("a", "q", `{}`)
	other.Tenant = "other"
	mustApply(t, db, sm, other)
	colls, err := view(t, db, func(tx *bolt.Tx) ([]CollectionInfo, error) { return Collections(tx, testTenant) })
	if err != nil {
		t.Fatal(err)
	}
	if len(colls) != 2 || colls[0].Name != "a" || colls[0].Documents != 2 || colls[0].Bytes != int64(len("y")+len(`{"k":1}`)+len("zz")+len(`{"k":2}`)) ||
		colls[1].Name != "b" || colls[1].Documents != 1 || fmt.Sprint(colls[1].Indexes) != "[k]" {
		t.Errorf("Collections = %+v", colls)
	}
	st, _ := view(t, db, func(tx *bolt.Tx) (Stats, error) { return TenantStats(tx, testTenant) })
	if st.Collections != 2 || st.Documents != 3 || st.Indexes != 2 || st.Bytes != colls[0].Bytes+colls[1].Bytes || st.IndexBytes != colls[0].IndexBytes+colls[1].IndexBytes || st.IndexBytes == 0 {
		t.Errorf("TenantStats = %+v", st)
	}
	st, _ = view(t, db, func(tx *bolt.Tx) (Stats, error) { return TenantStats(tx, "other") })
	if st != (Stats{Collections: 1, Documents: 1, Bytes: int64(len("q") + 2)}) {
		t.Errorf("other tenant stats = %+v", st)
	}
	st, _ = view(t, db, func(tx *bolt.Tx) (Stats, error) { return TenantStats(tx, "nobody") })
	if st != (Stats{}) {
		t.Errorf("unknown tenant stats = %+v", st)
	}
	// Tenants are isolated.
	_, err = view(t, db, func(tx *bolt.Tx) (Doc, error) { return Get(tx, "other", "a", "y") })
	wantCode(t, err, ErrNotFound)
	mustApply(t, db, sm, Op{Kind: OpDropCollection, Tenant: testTenant, Collection: "a"})
	st, _ = view(t, db, func(tx *bolt.Tx) (Stats, error) { return TenantStats(tx, testTenant) })
	if st.Collections != 1 || st.Documents != 1 || st.Indexes != 1 || st.Bytes != colls[1].Bytes || st.IndexBytes != colls[1].IndexBytes {
		t.Errorf("stats after drop = %+v", st)
	}
	checkInvariants(t, db)
}

// randDoc returns a random document over a few fields whose values mix
// types, nest, form arrays (of scalars and of objects) or are missing.
func randDoc(r *rand.Rand) map[string]any {
	scalar := func() any {
		switch r.IntN(9) {
		case 0:
			return nil
		case 1, 2, 3:
			return json.Number(fmt.Sprint(r.IntN(11) - 2))
		case 4:
			return json.Number(fmt.Sprintf("%d.5", r.IntN(6)))
		case 5, 6:
			return []string{"a", "b", "c", "ab", ""}[r.IntN(5)]
		case 7:
			return r.IntN(2) == 0
		}
		return json.Number([]string{"9007199254740993", "9007199254740992", "1e3", "-0"}[r.IntN(4)])
	}
	value := func() any {
		switch r.IntN(6) {
		case 0:
			arr := make([]any, r.IntN(4))
			for i := range arr {
				arr[i] = scalar()
			}
			return arr
		case 1:
			return map[string]any{"x": scalar()}
		}
		return scalar()
	}
	doc := map[string]any{}
	for _, f := range []string{"n", "s", "tags"} {
		if r.IntN(6) > 0 {
			doc[f] = value()
		}
	}
	switch r.IntN(4) {
	case 0:
		doc["o"] = map[string]any{"x": value(), "y": value()}
	case 1:
		arr := make([]any, r.IntN(3))
		for i := range arr {
			arr[i] = map[string]any{"x": value()}
		}
		doc["o"] = arr
	}
	return doc
}

// randFilter returns a random filter over the randDoc fields.
func randFilter(r *rand.Rand, depth int) string {
	paths := []string{"n", "s", "tags", "o.x", "o.y", "tags.0", "o.0.x", "missing"}
	val := func() string {
		v := randDoc(r)["n"]
		b, _ := json.Marshal(v)
		return string(b)
	}
	cond := func() string {
		ops := []string{"$gt", "$gte", "$lt", "$lte"}
		switch r.IntN(12) {
		case 0, 1, 2:
			return val()
		case 3:
			return fmt.Sprintf(`{"$eq":%s}`, val())
		case 4:
			return fmt.Sprintf(`{"$ne":%s}`, val())
		case 5, 6:
			return fmt.Sprintf(`{%q:%s}`, ops[r.IntN(4)], val())
		case 7:
			return fmt.Sprintf(`{%q:%s,%q:%s}`, ops[r.IntN(2)], val(), ops[2+r.IntN(2)], val())
		case 8:
			return fmt.Sprintf(`{"$in":[%s,%s,%s]}`, val(), val(), val())
		case 9:
			return fmt.Sprintf(`{"$nin":[%s,%s]}`, val(), val())
		case 10:
			return fmt.Sprintf(`{"$exists":%v}`, r.IntN(2) == 0)
		}
		return fmt.Sprintf(`{"$not":{%q:%s}}`, ops[r.IntN(4)], val())
	}
	var parts []string
	used := map[string]bool{}
	for range 1 + r.IntN(3) {
		if depth > 0 && r.IntN(5) == 0 {
			op := []string{"$and", "$or", "$nor"}[r.IntN(3)]
			parts = append(parts, fmt.Sprintf(`%q:[%s,%s]`, op, randFilter(r, depth-1), randFilter(r, depth-1)))
			continue
		}
		p := paths[r.IntN(len(paths))]
		if used[p] {
			continue
		}
		used[p] = true
		parts = append(parts, fmt.Sprintf(`%q:%s`, p, cond()))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func randSort(r *rand.Rand) string {
	fields := []string{"n", "s", "tags", "o.x"}
	r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	var parts []string
	for _, f := range fields[:r.IntN(3)] {
		parts = append(parts, fmt.Sprintf(`%q:%d`, f, 1-2*r.IntN(2)))
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// TestIndexedQueryMatchesScan is the planner's property test: on random
// collections, every random query returns exactly the same page and total
// whether it is served by an index or by a forced full scan.
func TestIndexedQueryMatchesScan(t *testing.T) {
	indexed, queries := 0, 0
	for seed := range uint64(12) {
		r := rand.New(rand.NewPCG(seed, 2024))
		db, sm := openDB(t), NewStateMachine(Config{})
		var ops []Op
		for _, f := range []string{"n", "s", "tags", "o.x", "tags.0"} {
			if r.IntN(4) > 0 {
				ops = append(ops, indexOp("c", f))
			}
		}
		for i := range 40 + r.IntN(40) {
			data, _ := json.Marshal(randDoc(r))
			ops = append(ops, putOp("c", fmt.Sprintf("d%03d", i), string(data)))
		}
		mustApply(t, db, sm, ops...)
		// Updates and deletes, so indexes have been maintained, not only built.
		for i := range 30 {
			id := fmt.Sprintf("d%03d", r.IntN(40))
			if i%3 == 0 {
				applyOps(t, db, sm, Op{Kind: OpDelete, Tenant: testTenant, Collection: "c", ID: id})
				continue
			}
			data, _ := json.Marshal(randDoc(r))
			mustApply(t, db, sm, putOp("c", id, string(data)))
		}
		checkInvariants(t, db)
		for range 150 {
			q := QueryRequest{Filter: json.RawMessage(randFilter(r, 2)), Sort: json.RawMessage(randSort(r))}
			if r.IntN(3) == 0 {
				q.Limit, q.Offset = 1+r.IntN(10), r.IntN(10)
			}
			got, ex := runQ(t, db, "c", q, queryOptions{})
			want, scan := runQ(t, db, "c", q, queryOptions{forceScan: true})
			queries++
			if ex.Index != "" {
				indexed++
				if ex.Scanned > scan.Scanned {
					t.Errorf("seed %d: %s: index scan read %d documents, more than the %d of a full scan", seed, q.Filter, ex.Scanned, scan.Scanned)
				}
			}
			if g, w := pageText(got), pageText(want); g != w {
				t.Fatalf("seed %d: filter %s sort %s limit %d offset %d:\nindexed (%s):\n%s\nfull scan:\n%s",
					seed, q.Filter, q.Sort, q.Limit, q.Offset, ex.Plan, g, w)
			}
		}
	}
	if indexed < queries/4 {
		t.Errorf("only %d of %d queries used an index; the generator is too weak", indexed, queries)
	}
}

func pageText(p Page) string {
	var b strings.Builder
	fmt.Fprintf(&b, "total %d limit %d offset %d\n", p.Total, p.Limit, p.Offset)
	for _, d := range p.Documents {
		fmt.Fprintf(&b, "%s v%d %s\n", d.ID, d.Version, d.Data)
	}
	return b.String()
}
