package document

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestPutVersionsAndTimes(t *testing.T) {
	db, sm := openDB(t), NewStateMachine(Config{})
	t1, t2 := int64(1_700_000_000_000_000_001), int64(1_700_000_000_000_000_999)
	op := putOp("users", "u1", `{ "name" : "ada",  "n": 1.50 }`)
	op.Time = t1
	res := mustApply(t, db, sm, op)
	d := res.Docs[0]
	if d.ID != "u1" || d.Version != 1 || string(d.Data) != `{"name":"ada","n":1.50}` {
		t.Fatalf("first put = %+v", d)
	}
	if !d.CreatedAt.Equal(time.Unix(0, t1)) || !d.UpdatedAt.Equal(d.CreatedAt) || d.CreatedAt.Location() != time.UTC {
		t.Fatalf("first put times = %v, %v; want both %v UTC", d.CreatedAt, d.UpdatedAt, time.Unix(0, t1))
	}
	op = putOp("users", "u1", `{"name":"ada lovelace"}`)
	op.Time = t2
	d = mustApply(t, db, sm, op).Docs[0]
	if d.Version != 2 || !d.CreatedAt.Equal(time.Unix(0, t1)) || !d.UpdatedAt.Equal(time.Unix(0, t2)) {
		t.Fatalf("second put = %+v, want version 2 created at t1 updated at t2", d)
	}
	got, err := view(t, db, func(tx *bolt.Tx) (Doc, error) { return Get(tx, testTenant, "users", "u1") })
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || string(got.Data) != `{"name":"ada lovelace"}` || !got.CreatedAt.Equal(d.CreatedAt) || !got.UpdatedAt.Equal(d.UpdatedAt) {
		t.Fatalf("Get = %+v, want %+v", got, d)
	}
	b, _ := json.Marshal(got)
	if !strings.Contains(string(b), `"id":"u1","data":{"name":"ada lovelace"},"version":2,"created_at":"2023-11-14T22:13:20.000000001Z"`) {
		t.Errorf("JSON form = %s", b)
	}
	checkInvariants(t, db)
}

func TestConditions(t *testing.T) {
	db, sm := openDB(t), NewStateMachine(Config{})
	mustApply(t, db, sm, putOp("c", "a", `{"x":1}`)) // version 1

	create := putOp("c", "a", `{"x":2}`)
	create.IfAbsent = true
	res := applyOps(t, db, sm, create)
	wantCode(t, res.Error(), ErrConflict)
	if !strings.Contains(res.Err.Message, `document "a" already exists in collection "c"`) {
		t.Errorf("conflict message = %q", res.Err.Message)
	}

	create.ID = "b"
	if d := mustApply(t, db, sm, create).Docs[0]; d.Version != 1 {
		t.Errorf("create version = %d, want 1", d.Version)
	}

	cond := putOp("c", "a", `{"x":3}`)
	cond.IfVersion = 2
	res = applyOps(t, db, sm, cond)
	wantCode(t, res.Error(), ErrPrecondition)
	if !strings.Contains(res.Err.Message, `document "a" is at version 1, not 2`) {
		t.Errorf("precondition message = %q", res.Err.Message)
	}
	cond.IfVersion = 1
	if d := mustApply(t, db, sm, cond).Docs[0]; d.Version != 2 {
		t.Errorf("conditional put version = %d, want 2", d.Version)
	}

	missing := putOp("c", "zz", `{}`)
	missing.IfVersion = 1
	wantCode(t, applyOps(t, db, sm, missing).Error(), ErrPrecondition)

	both := putOp("c", "a", `{}`)
	both.IfVersion, both.IfAbsent = 2, true
	wantCode(t, applyOps(t, db, sm, both).Error(), ErrInvalid)

	del := Op{Kind: OpDelete, Tenant: testTenant, Collection: "c", ID: "nope"}
	res = applyOps(t, db, sm, del)
	wantCode(t, res.Error(), ErrNotFound)
	if res.Err.Message != `document "nope" not found in collection "c"` {
		t.Errorf("not found message = %q", res.Err.Message)
	}
	del.ID, del.IfVersion = "a", 1
	wantCode(t, applyOps(t, db, sm, del).Error(), ErrPrecondition)
	del.IfVersion = 2
	d := mustApply(t, db, sm, del).Docs[0]
	if d.ID != "a" || d.Version != 2 || d.Data != nil {
		t.Errorf("delete result = %+v, want id a version 2 without data", d)
	}
	_, err := view(t, db, func(tx *bolt.Tx) (Doc, error) { return Get(tx, testTenant, "c", "a") })
	wantCode(t, err, ErrNotFound)
	// A delete in a collection that does not exist.
	del = Op{Kind: OpDelete, Tenant: testTenant, Collection: "ghost", ID: "a"}
	wantCode(t, applyOps(t, db, sm, del).Error(), ErrNotFound)
	checkInvariants(t, db)
}

func TestValidation(t *testing.T) {
	db, sm := openDB(t), NewStateMachine(Config{MaxDocumentBytes: 64})
	long := strings.Repeat("x", 129)
	tests := []struct {
		name string
		op   Op
		code *Error
		msg  string
	}{
		{"no tenant", Op{Kind: OpPut, Collection: "c", ID: "a", Data: json.RawMessage(`{}`)}, ErrInvalid, "missing tenant"},
		{"bad tenant", Op{Kind: OpPut, Tenant: "a b", Collection: "c", ID: "a", Data: json.RawMessage(`{}`)}, ErrInvalid, `invalid tenant "a b"`},
		{"empty collection", putOp("", "a", `{}`), ErrInvalid, `invalid collection name ""`},
		{"collection slash", putOp("a/b", "a", `{}`), ErrInvalid, `invalid collection name "a/b"`},
		{"collection dot start", putOp(".a", "a", `{}`), ErrInvalid, `invalid collection name ".a"`},
		{"collection too long", putOp(long, "a", `{}`), ErrInvalid, "invalid collection name"},
		{"collection _store", putOp("_store", "a", `{}`), ErrInvalid, `the prefix "_store" is reserved`},
		{"collection _store_x", putOp("_store_x", "a", `{}`), ErrInvalid, `the prefix "_store" is reserved`},
		{"collection _aerolith", putOp("_aerolith_x", "a", `{}`), ErrInvalid, `the prefix "_aerolith" is reserved`},
		{"no id", putOp("c", "", `{}`), ErrInvalid, "missing document id"},
		{"id slash", putOp("c", "a/b", `{}`), ErrInvalid, `contains '/'`},
		{"id control", putOp("c", "a\x01", `{}`), ErrInvalid, "control character"},
		{"id long", putOp("c", strings.Repeat("i", 257), `{}`), ErrInvalid, "more than 256"},
		{"id utf8", putOp("c", "a\xff", `{}`), ErrInvalid, "not valid UTF-8"},
		{"no data", putOp("c", "a", ``), ErrInvalid, "missing document data"},
		{"array data", putOp("c", "a", `[1]`), ErrInvalid, `document "a": document data must be a JSON object`},
		{"number data", putOp("c", "a", `12`), ErrInvalid, "must be a JSON object"},
		{"bad json", putOp("c", "a", `{"a":}`), ErrInvalid, "not valid JSON"},
		{"two values", putOp("c", "a", `{} {}`), ErrInvalid, "not valid JSON"},
		{"too large", putOp("c", "a", `{"a":"`+strings.Repeat("x", 80)+`"}`), ErrTooLarge, "more than the 64 allowed"},
		{"bad field", indexOp("c", "a..b"), ErrInvalid, "invalid index field"},
		{"empty field", indexOp("c", ""), ErrInvalid, "invalid index field"},
		{"dollar field", indexOp("c", "$a"), ErrInvalid, "invalid index field"},
		{"delete if absent", Op{Kind: OpDelete, Tenant: testTenant, Collection: "c", ID: "a", IfAbsent: true}, ErrInvalid, "absence"},
	}
	before := dump(t, db)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := applyOps(t, db, sm, tt.op)
			wantCode(t, res.Error(), tt.code)
			if !strings.Contains(res.Err.Message, tt.msg) {
				t.Errorf("message = %q, want it to contain %q", res.Err.Message, tt.msg)
			}
		})
	}
	// Whitespace does not count against the limit: data is stored compacted.
	fits := putOp("c", "a", "{\n  \"a\": \""+strings.Repeat("x", 50)+"\"\n}")
	if before != dump(t, db) {
		t.Fatal("failed commands changed the database")
	}
	mustApply(t, db, sm, fits)
}

func TestAtomicCommand(t *testing.T) {
	db, sm := openDB(t), NewStateMachine(Config{})
	mustApply(t, db, sm, indexOp("c", "n"), putOp("c", "a", `{"n":1}`), putOp("c", "b", `{"n":2}`))
	before := dump(t, db)
	statsBefore, _ := view(t, db, func(tx *bolt.Tx) (Stats, error) { return TenantStats(tx, testTenant) })

	failing := [][]Op{
		{putOp("c", "a", `{"n":10}`), putOp("d", "x", `{}`), {Kind: OpDelete, Tenant: testTenant, Collection: "c", ID: "missing"}},
		{{Kind: OpDropCollection, Tenant: testTenant, Collection: "c"}, putOp("c", "bad/id", `{}`)},
		{indexOp("e", "z"), putOp("e", "1", `{"z":1}`), indexOp("e", "z")},
		{putOp("c", "new", `{"n":3}`), {Kind: OpDropIndex, Tenant: testTenant, Collection: "c", Field: "n"}, {Kind: OpDropIndex, Tenant: testTenant, Collection: "c", Field: "n"}},
	}
	for i, ops := range failing {
		res := applyOps(t, db, sm, ops...)
		if res.Err == nil {
			t.Fatalf("command %d succeeded, want failure", i)
		}
		if res.Err.OpIndex != len(ops)-1 {
			t.Errorf("command %d: OpIndex = %d, want %d (%v)", i, res.Err.OpIndex, len(ops)-1, res.Err)
		}
		if res.Docs != nil {
			t.Errorf("command %d: failed result has docs %v", i, res.Docs)
		}
		if after := dump(t, db); after != before {
			t.Fatalf("command %d failed but changed the database:\nbefore:\n%s\nafter:\n%s", i, before, after)
		}
	}
	statsAfter, _ := view(t, db, func(tx *bolt.Tx) (Stats, error) { return TenantStats(tx, testTenant) })
	if statsAfter != statsBefore {
		t.Errorf("stats changed: %+v → %+v", statsBefore, statsAfter)
	}
}

func TestCommandAppliesInOrder(t *testing.T) {
	db, sm := openDB(t), NewStateMachine(Config{})
	del := func(coll, id string) Op { return Op{Kind: OpDelete, Tenant: testTenant, Collection: coll, ID: id} }
	res := mustApply(t, db, sm,
		putOp("c", "a", `{"n":1}`),
		putOp("c", "a", `{"n":2}`),
		indexOp("c", "n"),
		putOp("c", "b", `{"n":2}`),
		putOp("c", "gone", `{"n":2}`),
		del("c", "gone"),
		Op{Kind: OpDropCollection, Tenant: testTenant, Collection: "old"}.withCollection(t, db, sm),
		putOp("old", "fresh", `{"v":1}`),
	)
	if v := res.Docs[1].Version; v != 2 {
		t.Errorf("second put in one command: version %d, want 2", v)
	}
	if res.Docs[2].ID != "" || res.Docs[5].ID != "gone" || res.Docs[5].Data != nil {
		t.Errorf("per-op results = %+v", res.Docs)
	}
	page, ex := runQ(t, db, "c", QueryRequest{Filter: json.RawMessage(`{"n":2}`)}, queryOptions{})
	if ids(page) != "a,b" || ex.Index != "n" || ex.Scanned != 2 {
		t.Errorf("query n=2: ids %q index %q scanned %d, want a,b via n scanning 2", ids(page), ex.Index, ex.Scanned)
	}
	old, _ := view(t, db, func(tx *bolt.Tx) (Page, error) { return List(tx, testTenant, "old", 0, 0) })
	if ids(old) != "fresh" || old.Total != 1 {
		t.Errorf("recreated collection holds %q (total %d), want only fresh", ids(old), old.Total)
	}
	colls, _ := view(t, db, func(tx *bolt.Tx) ([]CollectionInfo, error) { return Collections(tx, testTenant) })
	if len(colls) != 2 || len(colls[1].Indexes) != 0 {
		t.Errorf("collections = %+v; the recreated one must have no index", colls)
	}
	checkInvariants(t, db)

	// Drop and recreate an index, and a collection, within one command.
	mustApply(t, db, sm,
		Op{Kind: OpDropIndex, Tenant: testTenant, Collection: "c", Field: "n"},
		putOp("c", "c", `{"n":[2,3]}`),
		indexOp("c", "n"),
		Op{Kind: OpDropCollection, Tenant: testTenant, Collection: "old"},
		indexOp("old", "v"),
		putOp("old", "x", `{"v":5}`),
	)
	checkInvariants(t, db)
	page, ex = runQ(t, db, "c", QueryRequest{Filter: json.RawMessage(`{"n":{"$gte":3}}`)}, queryOptions{})
	if ids(page) != "c" || ex.Index != "n" || ex.Scanned != 1 {
		t.Errorf("query n>=3: ids %q index %q scanned %d", ids(page), ex.Index, ex.Scanned)
	}
}

// withCollection creates the collection an op refers to, so a test can
// start from an existing one.
func (op Op) withCollection(t *testing.T, db *bolt.DB, sm *StateMachine) Op {
	t.Helper()
	mustApply(t, db, sm, putOp(op.Collection, "seed", `{"v":0}`), indexOp(op.Collection, "v"))
	return op
}

func TestIndexOps(t *testing.T) {
	db, sm := openDB(t), NewStateMachine(Config{MaxIndexKeyBytes: 64, MaxIndexes: 2})
	mustApply(t, db, sm, putOp("c", "a", `{"s":"short"}`), putOp("c", "b", `{"s":"`+strings.Repeat("x", 100)+`"}`))
	res := applyOps(t, db, sm, indexOp("c", "s"))
	wantCode(t, res.Error(), ErrTooLarge)
	if !strings.Contains(res.Err.Message, `document "b": the value of indexed field "s" is too large to index`) {
		t.Errorf("message = %q", res.Err.Message)
	}
	mustApply(t, db, sm, indexOp("c", "t"))
	wantCode(t, applyOps(t, db, sm, indexOp("c", "t")).Error(), ErrConflict)
	wantCode(t, applyOps(t, db, sm, putOp("c", "d", `{"t":"`+strings.Repeat("y", 100)+`"}`)).Error(), ErrTooLarge)
	mustApply(t, db, sm, indexOp("c", "u"))
	wantCode(t, applyOps(t, db, sm, indexOp("c", "v")).Error(), ErrInvalid)
	wantCode(t, applyOps(t, db, sm, Op{Kind: OpDropIndex, Tenant: testTenant, Collection: "c", Field: "zz"}).Error(), ErrNotFound)
	wantCode(t, applyOps(t, db, sm, Op{Kind: OpDropIndex, Tenant: testTenant, Collection: "nope", Field: "zz"}).Error(), ErrNotFound)
	wantCode(t, applyOps(t, db, sm, Op{Kind: OpDropCollection, Tenant: testTenant, Collection: "nope"}).Error(), ErrNotFound)
	mustApply(t, db, sm, Op{Kind: OpDropIndex, Tenant: testTenant, Collection: "c", Field: "t"})
	// Creating an index creates its collection.
	mustApply(t, db, sm, indexOp("empty", "f"))
	colls, _ := view(t, db, func(tx *bolt.Tx) ([]CollectionInfo, error) { return Collections(tx, testTenant) })
	if fmt.Sprintf("%v %s %v", colls[0].Indexes, colls[1].Name, colls[1].Indexes) != "[u] empty [f]" {
		t.Errorf("collections = %+v", colls)
	}
	checkInvariants(t, db)
}

func TestErrorsIs(t *testing.T) {
	db, sm := openDB(t), NewStateMachine(Config{})
	res := applyOps(t, db, sm, Op{Kind: OpDelete, Tenant: testTenant, Collection: "c", ID: "x"})
	var err error = res.Err
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
		t.Errorf("decoded result error %v: Is(ErrNotFound) must hold and Is(ErrConflict) not", err)
	}
	wrapped := fmt.Errorf("propose: %w", err)
	if !errors.Is(wrapped, ErrNotFound) {
		t.Error("errors.Is through a wrap failed")
	}
	var de *Error
	if !errors.As(wrapped, &de) || de.Code != CodeNotFound || de.OpIndex != 0 {
		t.Errorf("errors.As = %+v", de)
	}
	_, err = view(t, db, func(tx *bolt.Tx) (Doc, error) { return Get(tx, testTenant, "c", "x") })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Get error %v is not ErrNotFound", err)
	}
	_, err = view(t, db, func(tx *bolt.Tx) (Doc, error) { return Get(tx, "", "c", "x") })
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("Get with no tenant: %v, want ErrInvalid", err)
	}
	if errors.Is(ErrNotFound, &Error{Code: CodeNotFound}) {
		t.Error("a non-sentinel target must not match")
	}
	if (Result{}).Error() != nil {
		t.Error("Result{}.Error() must be a nil error")
	}
	got := NewStateMachine(Config{}).Apply(nil, 1, []byte{9, 9})
	r, derr := DecodeResult(got)
	if derr != nil || !errors.Is(r.Error(), ErrInternal) || !strings.Contains(r.Err.Message, "malformed command") {
		t.Errorf("Apply(garbage) = %+v, %v", r, derr)
	}
}

// randomOps returns a random command over a small space of tenants,
// collections, ids and fields so that conflicts and overlaps are common.
func randomOps(r *rand.Rand) []Op {
	tenants := []string{"t1", "t2"}
	colls := []string{"a", "b", "c"}
	fields := []string{"n", "tags", "o.x", "s"}
	ops := make([]Op, 1+r.IntN(4))
	for i := range ops {
		op := Op{Tenant: tenants[r.IntN(2)], Collection: colls[r.IntN(3)], ID: fmt.Sprintf("d%d", r.IntN(12)), Time: int64(r.IntN(1000))}
		switch x := r.IntN(20); {
		case x < 11:
			op.Kind = OpPut
			op.Data, _ = json.Marshal(randDoc(r))
			if r.IntN(8) == 0 {
				op.IfAbsent = true
			} else if r.IntN(8) == 0 {
				op.IfVersion = uint64(1 + r.IntN(3))
			}
		case x < 16:
			op.Kind = OpDelete
			if r.IntN(6) == 0 {
				op.IfVersion = uint64(1 + r.IntN(3))
			}
		case x < 18:
			op.Kind = OpCreateIndex
			op.Field = fields[r.IntN(len(fields))]
		case x < 19:
			op.Kind = OpDropIndex
			op.Field = fields[r.IntN(len(fields))]
		default:
			op.Kind = OpDropCollection
		}
		ops[i] = op
	}
	return ops
}

func TestCountersAfterRandomCommands(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 99))
			db, sm := openDB(t), NewStateMachine(Config{})
			failed := 0
			for i := range 300 {
				before := dump(t, db)
				res := applyOps(t, db, sm, randomOps(r)...)
				if res.Err != nil {
					failed++
					if dump(t, db) != before {
						t.Fatalf("command %d failed (%v) but changed the database", i, res.Err)
					}
				}
				if i%25 == 0 {
					checkInvariants(t, db)
				}
			}
			checkInvariants(t, db)
			if failed == 0 || failed == 300 {
				t.Errorf("%d of 300 commands failed; the generator should produce both outcomes", failed)
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var cmds [][]byte
	for range 200 {
		c, err := EncodeCommand(Command{Ops: randomOps(r)})
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	var dumps, results [2]string
	for n := range 2 {
		db, sm := openDB(t), NewStateMachine(Config{})
		var res strings.Builder
		// Several commands per transaction, as the store batches them.
		for i := 0; i < len(cmds); i += 7 {
			if err := db.Update(func(tx *bolt.Tx) error {
				for _, c := range cmds[i:min(i+7, len(cmds))] {
					fmt.Fprintf(&res, "%x\n", sm.Apply(tx, uint64(i), c))
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		dumps[n], results[n] = dump(t, db), res.String()
		checkInvariants(t, db)
	}
	if dumps[0] != dumps[1] {
		t.Error("the same commands produced different databases")
	}
	if results[0] != results[1] {
		t.Error("the same commands produced different results")
	}
}

func TestLowerIndexKeyLimitKeepsOldDocumentsWritable(t *testing.T) {
	db := openDB(t)
	big := NewStateMachine(Config{MaxIndexKeyBytes: 512})
	mustApply(t, db, big, indexOp("c", "s"), putOp("c", "a", `{"s":"`+strings.Repeat("x", 200)+`"}`))
	small := NewStateMachine(Config{MaxIndexKeyBytes: 64})
	mustApply(t, db, small, putOp("c", "a", `{"s":"short"}`))
	mustApply(t, db, big, putOp("c", "a", `{"s":"`+strings.Repeat("x", 200)+`"}`))
	mustApply(t, db, small, Op{Kind: OpDelete, Tenant: testTenant, Collection: "c", ID: "a"})
	checkInvariants(t, db)
}

func TestCreateCollection(t *testing.T) {
	db := openDB(t)
	sm := NewStateMachine(Config{Limits: fixedLimits(map[string]Limits{testTenant: {MaxCollections: 1, Refuse: true}})})
	create := func(coll string) Op {
		return Op{Kind: OpCreateCollection, Tenant: testTenant, Collection: coll, Time: 1}
	}
	mustApply(t, db, sm, create("empty"))
	infos, err := view(t, db, func(tx *bolt.Tx) ([]CollectionInfo, error) { return Collections(tx, testTenant) })
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Name != "empty" || infos[0].Documents != 0 {
		t.Fatalf("collections after create = %+v, want one empty collection", infos)
	}
	res := applyOps(t, db, sm, create("empty"))
	wantCode(t, res.Error(), ErrConflict)
	res = applyOps(t, db, sm, create("second"))
	wantCode(t, res.Error(), ErrQuotaExceeded)
	res = applyOps(t, db, sm, create("bad/name"))
	if res.Err == nil || res.Err.Code != CodeInvalid {
		t.Fatalf("create of an invalid name = %v, want invalid", res.Err)
	}
	mustApply(t, db, sm, putOp("empty", "d", `{"a":1}`))
	mustApply(t, db, sm, Op{Kind: OpDropCollection, Tenant: testTenant, Collection: "empty", Time: 2})
	mustApply(t, db, sm, create("second"))
	checkInvariants(t, db)
}
