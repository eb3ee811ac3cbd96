package document

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fixedLimits returns a Config.Limits that serves limits by tenant name;
// tenants not in m are unlimited.
func fixedLimits(m map[string]Limits) func(*bolt.Tx, string) (Limits, bool, error) {
	return func(tx *bolt.Tx, tenant string) (Limits, bool, error) {
		if tx == nil {
			return Limits{}, false, errors.New("no transaction")
		}
		l, ok := m[tenant]
		return l, ok, nil
	}
}

func delOp(coll, id string) Op {
	return Op{Kind: OpDelete, Tenant: testTenant, Collection: coll, ID: id, Time: 1_700_000_000_000_000_000}
}

func stats(t testing.TB, db *bolt.DB, tenant string) Stats {
	t.Helper()
	st, err := view(t, db, func(tx *bolt.Tx) (Stats, error) { return TenantStats(tx, tenant) })
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// collDocs returns the document count of each collection of tenant.
func collDocs(t testing.TB, db *bolt.DB, tenant string) map[string]int {
	t.Helper()
	colls, err := view(t, db, func(tx *bolt.Tx) ([]CollectionInfo, error) { return Collections(tx, tenant) })
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, c := range colls {
		m[c.Name] = c.Documents
	}
	return m
}

func TestLimitsPerLimit(t *testing.T) {
	const doc = `{"x":1}` // with a one-letter id: 8 bytes
	tests := []struct {
		name     string
		limits   Limits
		setup    []Op
		op       Op
		sentinel *Error
		message  string
		exceeded string
	}{
		{
			name:     "storage",
			limits:   Limits{StorageBytes: 20},
			setup:    []Op{putOp("c", "a", doc), putOp("c", "b", doc)},
			op:       putOp("c", "c", doc),
			sentinel: ErrStorageQuotaExceeded,
			message:  "storage quota exceeded: tenant would store 24 bytes, limit 20",
			exceeded: LimitStorageBytes,
		},
		{
			name:     "storage by growing a document",
			limits:   Limits{StorageBytes: 20},
			setup:    []Op{putOp("c", "a", doc), putOp("c", "b", doc)},
			op:       putOp("c", "a", `{"x":123456}`),
			sentinel: ErrStorageQuotaExceeded,
			message:  "storage quota exceeded: tenant would store 21 bytes, limit 20",
			exceeded: LimitStorageBytes,
		},
		{
			name:     "collections",
			limits:   Limits{MaxCollections: 2},
			setup:    []Op{putOp("c1", "a", doc), putOp("c2", "a", doc)},
			op:       putOp("c3", "a", doc),
			sentinel: ErrQuotaExceeded,
			message:  "collection quota exceeded: tenant would have 3 collections, limit 2",
			exceeded: LimitMaxCollections,
		},
		{
			name:     "collections by index creation",
			limits:   Limits{MaxCollections: 1},
			setup:    []Op{putOp("c1", "a", doc)},
			op:       indexOp("c2", "x"),
			sentinel: ErrQuotaExceeded,
			message:  "collection quota exceeded: tenant would have 2 collections, limit 1",
			exceeded: LimitMaxCollections,
		},
		{
			name:     "documents per collection",
			limits:   Limits{MaxDocumentsPerCollection: 2},
			setup:    []Op{putOp("c", "a", doc), putOp("c", "b", doc), putOp("d", "a", doc), putOp("d", "b", doc)},
			op:       putOp("c", "c", doc),
			sentinel: ErrQuotaExceeded,
			message:  `document quota exceeded: collection "c" would hold 3 documents, limit 2 per collection`,
			exceeded: LimitMaxDocumentsPerCollection,
		},
	}
	for _, tt := range tests {
		for _, refuse := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/refuse=%v", tt.name, refuse), func(t *testing.T) {
				lim := tt.limits
				lim.Refuse = refuse
				db := openDB(t)
				sm := NewStateMachine(Config{Limits: fixedLimits(map[string]Limits{testTenant: lim})})
				for _, op := range tt.setup {
					if res := mustApply(t, db, sm, op); res.Exceeded != nil {
						t.Fatalf("setup %s %s/%s: Exceeded = %q, want none", op.Kind, op.Collection, op.ID, res.Exceeded)
					}
				}
				before := dump(t, db)
				res := applyOps(t, db, sm, tt.op)
				if refuse {
					wantCode(t, res.Error(), tt.sentinel)
					if res.Err.Message != tt.message {
						t.Errorf("message = %q, want %q", res.Err.Message, tt.message)
					}
					if strings.Contains(res.Err.Message, testTenant) {
						t.Errorf("message %q names the tenant", res.Err.Message)
					}
					if res.Exceeded != nil || res.Docs != nil {
						t.Errorf("refused result = %+v, want only the error", res)
					}
					if dump(t, db) != before {
						t.Error("a refused command changed the database")
					}
					return
				}
				if res.Err != nil {
					t.Fatalf("apply with Refuse=false: %v", res.Err)
				}
				if !slices.Equal(res.Exceeded, []string{tt.exceeded}) {
					t.Errorf("Exceeded = %q, want [%s]", res.Exceeded, tt.exceeded)
				}
				if dump(t, db) == before {
					t.Error("an over-limit command with Refuse=false was not applied")
				}
				checkInvariants(t, db)
				// Further growth keeps being reported, and keeps succeeding.
				res = mustApply(t, db, sm, putOp("c", "zz", doc), putOp("c3", "zz", doc), putOp("c2", "zz", doc))
				if !slices.Contains(res.Exceeded, tt.exceeded) {
					t.Errorf("growing further: Exceeded = %q, want it to contain %s", res.Exceeded, tt.exceeded)
				}
			})
		}
	}
}

func TestLimitsAtTheLimitPass(t *testing.T) {
	db := openDB(t)
	sm := NewStateMachine(Config{Limits: fixedLimits(map[string]Limits{
		testTenant: {StorageBytes: 16, MaxCollections: 2, MaxDocumentsPerCollection: 1, Refuse: true},
	})})
	res := mustApply(t, db, sm, putOp("c1", "a", `{"x":1}`), putOp("c2", "a", `{"x":1}`))
	if res.Exceeded != nil {
		t.Errorf("Exceeded = %q, want none when every measure equals its limit", res.Exceeded)
	}
	if st := stats(t, db, testTenant); st.Bytes != 16 || st.Collections != 2 {
		t.Errorf("stats = %+v, want 16 bytes in 2 collections", st)
	}
}

func TestLimitsBatchRefusedWhole(t *testing.T) {
	db := openDB(t)
	sm := NewStateMachine(Config{Limits: fixedLimits(map[string]Limits{testTenant: {MaxDocumentsPerCollection: 3, Refuse: true}})})
	mustApply(t, db, sm, putOp("c", "a", `{"x":1}`))
	before := dump(t, db)
	res := applyOps(t, db, sm,
		putOp("c", "b", `{"x":1}`),
		putOp("c", "a", `{"x":2}`), // replace: no new document
		putOp("c", "c", `{"x":1}`), // third document: at the limit
		putOp("c", "d", `{"x":1}`), // fourth: passes the limit
		putOp("c", "b", `{"x":3}`),
	)
	wantCode(t, res.Error(), ErrQuotaExceeded)
	if res.Err.OpIndex != 3 {
		t.Errorf("OpIndex = %d, want 3 (the operation that passed the limit)", res.Err.OpIndex)
	}
	if want := `document quota exceeded: collection "c" would hold 4 documents, limit 3 per collection`; res.Err.Message != want {
		t.Errorf("message = %q, want %q", res.Err.Message, want)
	}
	if dump(t, db) != before {
		t.Error("a refused batch changed the database")
	}
	// The same batch with a delete that keeps the collection at its limit
	// passes: only the state the command leaves counts.
	mustApply(t, db, sm, putOp("c", "b", `{"x":1}`), putOp("c", "c", `{"x":1}`), putOp("c", "d", `{"x":1}`), delOp("c", "a"))
	if got := collDocs(t, db, testTenant)["c"]; got != 3 {
		t.Errorf("documents = %d, want 3", got)
	}
}

func TestLimitsShrinkingCommandsPassOverLimit(t *testing.T) {
	limits := map[string]Limits{}
	db := openDB(t)
	sm := NewStateMachine(Config{Limits: fixedLimits(limits)})
	mustApply(t, db, sm, indexOp("c1", "x"),
		putOp("c1", "a", `{"x":"aaaaaaaaaa"}`), putOp("c1", "b", `{"x":1}`), putOp("c1", "c", `{"x":1}`),
		putOp("c2", "a", `{"x":1}`), putOp("c3", "a", `{"x":1}`))
	st := stats(t, db, testTenant)
	// Lower every limit under what the tenant already has.
	limits[testTenant] = Limits{StorageBytes: 10, MaxCollections: 1, MaxDocumentsPerCollection: 1, Refuse: true}

	steps := []struct {
		name string
		ops  []Op
		want *Error // nil: passes
	}{
		{"growing put", []Op{putOp("c1", "b", `{"x":12}`)}, ErrStorageQuotaExceeded},
		{"new document", []Op{putOp("c2", "b", `{}`), delOp("c1", "a")}, ErrQuotaExceeded},
		{"new collection", []Op{putOp("c4", "a", `{}`), delOp("c1", "a")}, ErrQuotaExceeded},
		{"same-size put", []Op{putOp("c1", "b", `{"x":2}`)}, nil},
		{"shrinking put", []Op{putOp("c1", "a", `{"x":"a"}`)}, nil},
		{"delete", []Op{delOp("c1", "b")}, nil},
		{"drop index", []Op{{Kind: OpDropIndex, Tenant: testTenant, Collection: "c1", Field: "x"}}, nil},
		{"drop collection", []Op{{Kind: OpDropCollection, Tenant: testTenant, Collection: "c2"}}, nil},
		{"replace in a full collection", []Op{putOp("c3", "a", `{}`)}, nil},
		{"grow then shrink back", []Op{putOp("c1", "n", `{}`), delOp("c1", "n")}, nil},
	}
	for _, s := range steps {
		before := dump(t, db)
		res := applyOps(t, db, sm, s.ops...)
		if s.want == nil {
			if res.Err != nil {
				t.Errorf("%s over the limits: %v, want it applied", s.name, res.Err)
			}
			if res.Exceeded != nil {
				t.Errorf("%s: Exceeded = %q, want none (nothing grew)", s.name, res.Exceeded)
			}
			continue
		}
		if !errors.Is(res.Error(), s.want) {
			t.Errorf("%s over the limits: error = %v, want %s", s.name, res.Error(), s.want.Code)
		}
		if dump(t, db) != before {
			t.Errorf("%s: refused but changed the database", s.name)
		}
	}
	// The operation a refusal points at is the one that grew the measure
	// past its limit, not an earlier one that left it over.
	res := applyOps(t, db, sm, putOp("c1", "c", `{}`), putOp("c1", "a", `{"x":"abcdefghijklmnopqrstuvwxyz"}`))
	wantCode(t, res.Error(), ErrStorageQuotaExceeded)
	if res.Err.OpIndex != 1 {
		t.Errorf("OpIndex = %d, want 1", res.Err.OpIndex)
	}
	if after := stats(t, db, testTenant); after.Bytes >= st.Bytes || after.Collections != st.Collections-1 {
		t.Errorf("stats after the shrinking commands = %+v, from %+v", after, st)
	}
	checkInvariants(t, db)
}

func TestLimitsIndexCreationPastStorage(t *testing.T) {
	for _, refuse := range []bool{true, false} {
		t.Run(fmt.Sprint("refuse=", refuse), func(t *testing.T) {
			db := openDB(t)
			// Two documents of 8 bytes; an index on x adds, per document,
			// the encoded value, the id and 2 bytes.
			sm := NewStateMachine(Config{Limits: fixedLimits(map[string]Limits{testTenant: {StorageBytes: 20, Refuse: refuse}})})
			mustApply(t, db, sm, putOp("c", "a", `{"x":1}`), putOp("c", "b", `{"x":1}`))
			before := dump(t, db)
			res := applyOps(t, db, sm, indexOp("c", "x"))
			if !refuse {
				if res.Err != nil || !slices.Equal(res.Exceeded, []string{LimitStorageBytes}) {
					t.Fatalf("index creation = %+v, want applied with Exceeded [storage_bytes]", res)
				}
				st := stats(t, db, testTenant)
				if st.Indexes != 1 || st.Bytes+st.IndexBytes <= 20 {
					t.Errorf("stats = %+v, want one index taking storage past 20", st)
				}
				return
			}
			wantCode(t, res.Error(), ErrStorageQuotaExceeded)
			if !strings.HasPrefix(res.Err.Message, "storage quota exceeded: tenant would store ") || !strings.HasSuffix(res.Err.Message, " bytes, limit 20") {
				t.Errorf("message = %q", res.Err.Message)
			}
			if dump(t, db) != before {
				t.Error("a refused index creation changed the database")
			}
		})
	}
}

func TestLimitsStoredBytesCountIndexes(t *testing.T) {
	db := openDB(t)
	mustApply(t, db, NewStateMachine(Config{}), indexOp("c", "x"), putOp("c", "a", `{"x":1,"y":0}`))
	st := stats(t, db, testTenant)
	if st.IndexBytes == 0 {
		t.Fatal("no index bytes")
	}
	stored := st.Bytes + st.IndexBytes
	sm := NewStateMachine(Config{Limits: fixedLimits(map[string]Limits{testTenant: {StorageBytes: stored + 1, Refuse: true}})})
	// One more byte of data fits; the index entry does not change.
	mustApply(t, db, sm, putOp("c", "a", `{"x":1,"y":10}`))
	res := applyOps(t, db, sm, putOp("c", "a", `{"x":1,"y":100}`))
	wantCode(t, res.Error(), ErrStorageQuotaExceeded)
	if want := fmt.Sprintf("storage quota exceeded: tenant would store %d bytes, limit %d", stored+2, stored+1); res.Err.Message != want {
		t.Errorf("message = %q, want %q", res.Err.Message, want)
	}
}

func TestLimitsPerTenant(t *testing.T) {
	db := openDB(t)
	sm := NewStateMachine(Config{Limits: fixedLimits(map[string]Limits{
		"small": {MaxDocumentsPerCollection: 1, Refuse: true},
		"loose": {MaxDocumentsPerCollection: 1},
	})})
	put := func(tenant, id string) Op {
		op := putOp("c", id, `{}`)
		op.Tenant = tenant
		return op
	}
	mustApply(t, db, sm, put("small", "a"), put("loose", "a"), put("free", "a"))
	// Unlimited and non-refusing tenants do not make a refusing one pass,
	// nor does a refusing one make their writes fail when it is within its
	// limit.
	res := mustApply(t, db, sm, put("free", "b"), put("loose", "b"))
	if !slices.Equal(res.Exceeded, []string{LimitMaxDocumentsPerCollection}) {
		t.Errorf("Exceeded = %q, want [max_documents_per_collection] from tenant loose", res.Exceeded)
	}
	res = applyOps(t, db, sm, put("loose", "c"), put("small", "b"))
	wantCode(t, res.Error(), ErrQuotaExceeded)
	if res.Err.OpIndex != 1 || strings.Contains(res.Err.Message, "loose") || strings.Contains(res.Err.Message, "small") {
		t.Errorf("error = %q at op %d, want op 1 and no tenant named", res.Err.Message, res.Err.OpIndex)
	}
	if got := collDocs(t, db, "loose")["c"]; got != 2 {
		t.Errorf("tenant loose has %d documents, want 2 (the refused command applied nothing)", got)
	}
}

func TestLimitsFuncError(t *testing.T) {
	db := openDB(t)
	calls := 0
	sm := NewStateMachine(Config{Limits: func(*bolt.Tx, string) (Limits, bool, error) {
		calls++
		return Limits{}, false, errors.New("policy unreadable")
	}})
	mustApply(t, db, NewStateMachine(Config{}), putOp("c", "a", `{"x":1}`))
	before := dump(t, db)
	res := applyOps(t, db, sm, putOp("c", "b", `{"x":1}`))
	wantCode(t, res.Error(), ErrInternal)
	if !strings.Contains(res.Err.Message, "policy unreadable") || dump(t, db) != before {
		t.Errorf("error = %v; database changed: %v", res.Err, dump(t, db) != before)
	}
	// Commands that grow nothing do not need the limits.
	calls = 0
	mustApply(t, db, sm, putOp("c", "a", `{"x":2}`), delOp("c", "a"))
	if calls != 0 {
		t.Errorf("Limits called %d times for a command that grew nothing", calls)
	}
}

type storageCall struct {
	tenant string
	bytes  int64
	at     time.Time
}

func TestOnStorage(t *testing.T) {
	var calls []storageCall
	db := openDB(t)
	sm := NewStateMachine(Config{
		Limits: fixedLimits(map[string]Limits{testTenant: {StorageBytes: 100, Refuse: true}}),
		OnStorage: func(tenant string, bytes int64, at time.Time) {
			calls = append(calls, storageCall{tenant, bytes, at})
		},
	})
	at := func(ns int64) time.Time { return time.Unix(0, ns) }
	op := func(tenant string, o Op, ns int64) Op {
		o.Tenant, o.Time = tenant, ns
		return o
	}
	steps := []struct {
		name string
		ops  []Op
		want []storageCall
	}{
		{"put", []Op{op(testTenant, putOp("c", "a", `{"x":1}`), 10)}, []storageCall{{testTenant, 8, at(10)}}},
		{"two tenants, last time each", []Op{
			op("zeta", putOp("c", "a", `{"x":1}`), 20),
			op(testTenant, putOp("c", "b", `{"x":1}`), 21),
			op("zeta", putOp("c", "b", `{"x":1}`), 22),
			op(testTenant, putOp("c", "b", `{"x":2}`), 23),
		}, []storageCall{{testTenant, 16, at(23)}, {"zeta", 16, at(22)}}},
		{"same size", []Op{op(testTenant, putOp("c", "a", `{"x":5}`), 30)}, nil},
		{"conflict", []Op{op(testTenant, putOp("c", "n", `{}`), 40), op(testTenant, Op{Kind: OpPut, Collection: "c", ID: "a", Data: json.RawMessage(`{}`), IfAbsent: true}, 41)}, nil},
		{"quota refusal", []Op{op(testTenant, putOp("c", "big", `{"s":"`+strings.Repeat("x", 100)+`"}`), 50)}, nil},
		{"unlimited tenant", []Op{op("zeta", putOp("c", "big", `{"s":"`+strings.Repeat("x", 100)+`"}`), 55)}, []storageCall{{"zeta", 16 + 3 + 108, at(55)}}},
		{"delete", []Op{op(testTenant, delOp("c", "a"), 60)}, []storageCall{{testTenant, 8, at(60)}}},
		{"index", []Op{op(testTenant, indexOp("c", "x"), 70)}, nil}, // checked below against TenantStats
	}
	for _, s := range steps {
		calls = nil
		res := applyOps(t, db, sm, s.ops...)
		if s.name == "index" {
			st := stats(t, db, testTenant)
			if want := []storageCall{{testTenant, st.Bytes + st.IndexBytes, at(70)}}; st.IndexBytes == 0 || !slices.Equal(calls, want) {
				t.Errorf("%s: OnStorage calls %v, want %v", s.name, calls, want)
			}
			continue
		}
		if !slices.Equal(calls, s.want) {
			t.Errorf("%s (err %v): OnStorage calls %v, want %v", s.name, res.Err, calls, s.want)
		}
	}
}

// TestLimitsDeterminism applies the same random commands, with limits on,
// to two independent databases, and checks them against a model of the
// rules: identical results and data, refused commands change nothing, and
// Exceeded lists exactly the limits a non-refusing tenant's write passed.
func TestLimitsDeterminism(t *testing.T) {
	limits := map[string]Limits{
		"t1": {StorageBytes: 500, MaxCollections: 2, MaxDocumentsPerCollection: 6, Refuse: true},
		"t2": {StorageBytes: 700, MaxCollections: 2, MaxDocumentsPerCollection: 5},
	}
	r := rand.New(rand.NewPCG(11, 12))
	var cmds [][]Op
	for range 300 {
		cmds = append(cmds, randomOps(r))
	}
	type outcome struct {
		results, dump string
		stats         [2]Stats
	}
	var outs [2]outcome
	counts := map[string]int{}
	for n := range 2 {
		db := openDB(t)
		var observed []storageCall
		sm := NewStateMachine(Config{Limits: fixedLimits(limits), OnStorage: func(tenant string, bytes int64, at time.Time) {
			observed = append(observed, storageCall{tenant, bytes, at})
		}})
		var results strings.Builder
		for i, ops := range cmds {
			var beforeStats [2]Stats
			var beforeDocs [2]map[string]int
			for j, tn := range []string{"t1", "t2"} {
				beforeStats[j], beforeDocs[j] = stats(t, db, tn), collDocs(t, db, tn)
			}
			before := dump(t, db)
			observed = nil
			res := applyOps(t, db, sm, ops...)
			fmt.Fprintf(&results, "%x\n", EncodeResult(res))
			if res.Err != nil {
				counts[res.Err.Code]++
				if dump(t, db) != before {
					t.Fatalf("command %d failed (%v) but changed the database", i, res.Err)
				}
				if observed != nil {
					t.Fatalf("command %d failed but OnStorage was called: %v", i, observed)
				}
				continue
			}
			counts["ok"]++
			var want []string
			var wantObserved []storageCall
			for j, tn := range []string{"t1", "t2"} {
				l := limits[tn]
				after, afterDocs := stats(t, db, tn), collDocs(t, db, tn)
				b0, b1 := beforeStats[j].Bytes+beforeStats[j].IndexBytes, after.Bytes+after.IndexBytes
				passed := map[string]bool{
					LimitStorageBytes:   b1 > l.StorageBytes && b1 > b0,
					LimitMaxCollections: after.Collections > int(l.MaxCollections) && after.Collections > beforeStats[j].Collections,
				}
				for c, n := range afterDocs {
					if n > int(l.MaxDocumentsPerCollection) && n > beforeDocs[j][c] {
						passed[LimitMaxDocumentsPerCollection] = true
					}
				}
				for _, name := range []string{LimitStorageBytes, LimitMaxCollections, LimitMaxDocumentsPerCollection} {
					if passed[name] && l.Refuse {
						t.Fatalf("command %d: tenant %s passed %s although it refuses", i, tn, name)
					}
					if passed[name] && !slices.Contains(want, name) {
						want = append(want, name)
					}
				}
				if b1 != b0 {
					var last int64
					for _, op := range ops {
						if op.Tenant == tn {
							last = op.Time
						}
					}
					wantObserved = append(wantObserved, storageCall{tn, b1, time.Unix(0, last)})
				}
			}
			slices.SortFunc(want, func(a, b string) int {
				order := []string{LimitStorageBytes, LimitMaxCollections, LimitMaxDocumentsPerCollection}
				return slices.Index(order, a) - slices.Index(order, b)
			})
			if !slices.Equal(res.Exceeded, want) {
				t.Fatalf("command %d %v: Exceeded = %q, want %q", i, ops, res.Exceeded, want)
			}
			if len(want) > 0 {
				counts["exceeded"]++
			}
			if !slices.Equal(observed, wantObserved) {
				t.Fatalf("command %d: OnStorage calls %v, want %v", i, observed, wantObserved)
			}
		}
		checkInvariants(t, db)
		outs[n] = outcome{results.String(), dump(t, db), [2]Stats{stats(t, db, "t1"), stats(t, db, "t2")}}
	}
	t.Logf("outcomes over both runs: %v", counts)
	if outs[0] != outs[1] {
		t.Error("the same commands with the same limits produced different results, data or stats")
	}
	for _, k := range []string{"ok", "exceeded", CodeQuotaExceeded, CodeStorageQuotaExceeded} {
		if counts[k] == 0 {
			t.Errorf("no command ended %s (counts %v); the workload should reach every outcome", k, counts)
		}
	}
}
