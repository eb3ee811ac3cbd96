package document

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestCommandRoundTrip(t *testing.T) {
	cmds := []Command{
		{Ops: []Op{{Kind: OpPut, Tenant: "t", Collection: "c", ID: "id", Data: json.RawMessage(`{"a":1}`), IfVersion: 7, Time: -5}}},
		{Ops: []Op{
			{Kind: OpPut, Tenant: "t", Collection: "c", ID: "x", Data: json.RawMessage(`{}`), IfAbsent: true, Time: 1 << 62},
			{Kind: OpDelete, Tenant: "t", Collection: "c", ID: "y", IfVersion: 1<<64 - 1},
			{Kind: OpCreateIndex, Tenant: "t", Collection: "c", Field: "a.b"},
			{Kind: OpDropIndex, Tenant: "t", Collection: "c", Field: "a.b"},
			{Kind: OpDropCollection, Tenant: "t", Collection: "c"},
			{Kind: OpPut, Tenant: "t", Collection: "c", ID: "z", Data: json.RawMessage{}},
		}},
	}
	for _, c := range cmds {
		b, err := EncodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeCommand(b)
		if err != nil {
			t.Fatalf("DecodeCommand: %v", err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip = %+v, want %+v", got, c)
		}
	}
	if _, err := EncodeCommand(Command{}); err == nil {
		t.Error("EncodeCommand of an empty command succeeded")
	}
	if _, err := EncodeCommand(Command{Ops: []Op{{Kind: 99}}}); err == nil || !strings.Contains(err.Error(), "unknown kind 99") {
		t.Errorf("EncodeCommand(kind 99) error = %v", err)
	}
}

func TestDecodeCommandRejects(t *testing.T) {
	good, _ := EncodeCommand(Command{Ops: []Op{{Kind: OpPut, Tenant: "t", Collection: "c", ID: "i", Data: json.RawMessage(`{"a":1}`)}}})
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"format", append([]byte{2}, good[1:]...), "unknown format 2"},
		{"no ops", []byte{1, 0}, "empty command"},
		{"too many ops", []byte{1, 200, 1, 1, 0, 0, 0, 0, 0, 0}, "cannot fit"},
		{"kind", append([]byte{1, 1, 9}, good[3:]...), "unknown kind 9"},
		{"flags", append([]byte{1, 1, 1, 0x80}, good[4:]...), "unknown flags"},
		{"truncated", good[:len(good)-1], "truncated"},
		{"trailing", append(slices.Clone(good), 0), "1 trailing bytes"},
	}
	for _, tt := range tests {
		_, err := DecodeCommand(tt.b)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: DecodeCommand error = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestResultRoundTrip(t *testing.T) {
	at := time.Unix(0, 1_700_000_000_123_456_789).UTC()
	results := []Result{
		{},
		{Err: &Error{Code: CodeConflict, Message: "document \"a\" already exists", OpIndex: 3}},
		{Docs: []Doc{
			{ID: "a", Data: json.RawMessage(`{"x":1}`), Version: 2, CreatedAt: at, UpdatedAt: at.Add(time.Second)},
			{},
			{ID: "b", Version: 9, CreatedAt: at, UpdatedAt: at},
		}},
		{Docs: []Doc{{ID: "a", Data: json.RawMessage(`{}`), Version: 1, CreatedAt: at, UpdatedAt: at}}, Exceeded: []string{LimitStorageBytes}},
		{Docs: []Doc{{}, {}}, Exceeded: []string{LimitStorageBytes, LimitMaxCollections, LimitMaxDocumentsPerCollection}},
	}
	for _, r := range results {
		got, err := DecodeResult(EncodeResult(r))
		if err != nil {
			t.Fatalf("DecodeResult: %v", err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip = %+v, want %+v", got, r)
		}
	}
	// A result without Exceeded keeps the first format byte for byte, so
	// results encoded before Exceeded existed decode with a nil Exceeded.
	old := []byte{1, 1, 8, 'c', 'o', 'n', 'f', 'l', 'i', 'c', 't', 1, 'm', 2, 2, 0, 0}
	r := Result{Err: &Error{Code: CodeConflict, Message: "m", OpIndex: 2}, Docs: []Doc{{}, {}}}
	if got := EncodeResult(r); !slices.Equal(got, old) {
		t.Errorf("EncodeResult(%+v) = %v, want the first format %v", r, got, old)
	}
	if got, err := DecodeResult(old); err != nil || got.Exceeded != nil || !reflect.DeepEqual(got, r) {
		t.Errorf("DecodeResult(first format) = %+v, %v; want %+v", got, err, r)
	}
	for _, bad := range [][]byte{nil, {3}, {1, 5}, {1, 0, 3}, {1, 0, 1, 9}, {1, 0, 0, 0},
		{2, 0, 0}, {2, 0, 0, 0}, {2, 0, 0, 2, 1, 'a'}, {2, 0, 0, 1, 3, 'a'}, {2, 0, 0, 1, 1, 'a', 0}} {
		if _, err := DecodeResult(bad); err == nil {
			t.Errorf("DecodeResult(%x) succeeded", bad)
		}
	}
}

func TestNewID(t *testing.T) {
	valid := regexp.MustCompile(`^[-0-9A-Za-z_]{20}$`)
	seen := map[string]bool{}
	prev := ""
	for range 10000 {
		id := NewID()
		if !valid.MatchString(id) {
			t.Fatalf("NewID() = %q, want 20 URL-safe characters", id)
		}
		if id[0] == '-' {
			t.Fatalf("NewID() = %q starts with '-', which a CLI takes for a flag", id)
		}
		if err := ValidateID(id); err != nil {
			t.Fatalf("NewID() = %q is not a valid id: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
		// The first 8 characters are the millisecond clock: ids of later
		// milliseconds sort after earlier ones.
		if prev != "" && prev[:8] != id[:8] && id < prev {
			t.Fatalf("NewID() = %q sorts before the earlier %q", id, prev)
		}
		prev = id
	}
	ms := time.Now().UnixMilli()
	var got int64
	for _, c := range NewID()[:8] {
		got = got<<6 | int64(strings.IndexRune(idAlphabet, c))
	}
	got &^= idClockMark
	if d := got - ms; d < -60_000 || d > 60_000 {
		t.Errorf("NewID() time prefix decodes to %d ms, now is %d", got, ms)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range []Command{
		{Ops: []Op{{Kind: OpPut, Tenant: "t", Collection: "c", ID: "i", Data: json.RawMessage(`{"a":[1,2]}`), IfVersion: 3, Time: 99}}},
		{Ops: []Op{{Kind: OpCreateIndex, Tenant: "t", Collection: "c", Field: "a"}, {Kind: OpDelete, Tenant: "t", Collection: "c", ID: "i"}}},
	} {
		b, _ := EncodeCommand(c)
		f.Add(b)
	}
	f.Add([]byte{1, 255, 255, 255, 255, 15})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommand(b)
		if err != nil {
			return
		}
		again, err := EncodeCommand(c)
		if err != nil {
			t.Fatalf("EncodeCommand of a decoded command: %v", err)
		}
		back, err := DecodeCommand(again)
		if err != nil {
			t.Fatalf("DecodeCommand of a re-encoded command: %v", err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("re-encoding changed the command: %+v → %+v", c, back)
		}
		if len(again) > len(b) {
			t.Fatalf("re-encoding grew %x to %x", b, again)
		}
		if _, err := DecodeResult(b); err == nil {
			_ = err // results and commands share framing; only panics matter
		}
	})
}

func FuzzDecodeResult(f *testing.F) {
	at := time.Unix(0, 1_700_000_000_000_000_000)
	for _, r := range []Result{
		{Docs: []Doc{{ID: "a", Data: json.RawMessage(`{"a":1}`), Version: 3, CreatedAt: at, UpdatedAt: at}, {}}},
		{Err: &Error{Code: CodeStorageQuotaExceeded, Message: "storage quota exceeded", OpIndex: 1}},
		{Docs: []Doc{{}}, Exceeded: []string{LimitStorageBytes, LimitMaxDocumentsPerCollection}},
	} {
		f.Add(EncodeResult(r))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeResult(b)
		if err != nil {
			return
		}
		back, err := DecodeResult(EncodeResult(r))
		if err != nil {
			t.Fatalf("DecodeResult of a re-encoded result: %v", err)
		}
		if !reflect.DeepEqual(back.Err, r.Err) || !reflect.DeepEqual(back.Exceeded, r.Exceeded) || len(back.Docs) != len(r.Docs) {
			t.Fatalf("re-encoding changed the result: %+v → %+v", r, back)
		}
	})
}

// FuzzApply feeds fuzzed commands to Apply, both as raw bytes and as
// commands built from the fuzz input over a small name space, and checks
// that nothing panics, failures change nothing and counters stay exact.
func FuzzApply(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint64(1))
	f.Add([]byte("put put delete index"), uint64(2))
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		db, sm := openDB(t), NewStateMachine(Config{MaxDocumentBytes: 512, MaxIndexKeyBytes: 128, Limits: fixedLimits(map[string]Limits{
			"acme": {StorageBytes: 400, MaxCollections: 2, MaxDocumentsPerCollection: 4, Refuse: seed%2 == 0},
			"t2":   {StorageBytes: 300, MaxDocumentsPerCollection: 3},
		})})
		mustApply(t, db, sm, indexOp("a", "n"), putOp("a", "d0", `{"n":[1,"x"],"s":"y"}`))
		// Raw bytes straight into Apply.
		before := dump(t, db)
		var out []byte
		db.Update(func(tx *bolt.Tx) error { out = sm.Apply(tx, 1, in); return nil })
		res, err := DecodeResult(out)
		if err != nil {
			t.Fatalf("Apply returned an undecodable result: %v", err)
		}
		if res.Err != nil && dump(t, db) != before {
			t.Fatal("a failed raw command changed the database")
		}
		// Commands built from the input: each byte picks an operation.
		r := rand.New(rand.NewPCG(seed, uint64(len(in))))
		var ops []Op
		for i, c := range in {
			if len(ops) == 8 || i > 64 {
				break
			}
			op := Op{Tenant: []string{"acme", "t2", ""}[int(c)%3], Collection: []string{"a", "b", "_store"}[int(c>>2)%3],
				ID: fmt.Sprintf("d%d", c%5), Field: []string{"n", "s", "a.b", ""}[int(c>>4)%4], Time: int64(c)}
			op.Kind = OpKind(1 + int(c>>5)%5)
			if c%7 == 0 {
				op.IfVersion = uint64(c % 3)
			}
			op.IfAbsent = c%11 == 0
			if op.Kind == OpPut {
				data, _ := json.Marshal(randDoc(r))
				if c%13 == 0 {
					data = in
				}
				op.Data = data
			}
			ops = append(ops, op)
		}
		if len(ops) == 0 {
			return
		}
		before = dump(t, db)
		res = applyOps(t, db, sm, ops...)
		if res.Err != nil && dump(t, db) != before {
			t.Fatalf("failed command (%v) changed the database", res.Err)
		}
		if res.Err == nil && len(res.Docs) != len(ops) {
			t.Fatalf("%d results for %d ops", len(res.Docs), len(ops))
		}
		checkInvariants(t, db)
	})
}

func TestValidName(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	for _, s := range []string{"", "a", "_", ".a", "-a", "a.b-c_D9", "a b", "a/b", "é", strings.Repeat("x", 128), strings.Repeat("x", 129), "a\n", "0"} {
		if got, want := validName(s), re.MatchString(s); got != want {
			t.Errorf("validName(%q) = %v, want %v", s, got, want)
		}
	}
}
