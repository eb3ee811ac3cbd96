package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestIndexablePredicates(t *testing.T) {
	tests := []struct {
		filter string
		want   []string
	}{
		{`{}`, nil},
		{`{"a":1}`, []string{`a = 1`}},
		{`{"a":null}`, nil},
		{`{"a":{"$eq":"x"},"b":{"$ne":1}}`, []string{`a = "x"`}},
		{`{"a":{"$in":[3,1,1.0,2]}}`, []string{`a in {1, 2, 3}`}},
		{`{"a":{"$in":[1,null]}}`, nil},
		{`{"a":{"$in":[]}}`, []string{`a in {}`}},
		{`{"a":{"$gt":1,"$lte":5}}`, []string{`a in (1, 5]`}},
		{`{"a":{"$gte":1},"$and":[{"a":{"$gt":1}},{"a":{"$lt":9}},{"a":{"$lt":10}}]}`, []string{`a in (1, 9)`}},
		{`{"a":{"$gte":3},"$and":[{"a":{"$gt":2}}]}`, []string{`a in [3, +inf)`}},
		{`{"a":{"$lt":"m"}}`, []string{`a in (-inf, "m")`}},
		{`{"a":{"$gt":null}}`, nil},
		{`{"a":{"$not":{"$gt":1}}}`, nil},
		{`{"a":{"$exists":true},"b":{"$nin":[1]}}`, nil},
		{`{"$or":[{"a":1},{"b":2}]}`, nil},
		{`{"$nor":[{"a":1}]}`, nil},
		{`{"b":2,"a":{"$gt":0},"c.d":{"$in":["x"]},"$and":[{"a":3}]}`, []string{`a = 3`, `a in (0, +inf)`, `b = 2`, `c.d in {"x"}`}},
	}
	for _, tt := range tests {
		f, err := Parse([]byte(tt.filter))
		if err != nil {
			t.Fatalf("Parse(%s): %v", tt.filter, err)
		}
		var got []string
		for _, p := range f.IndexablePredicates() {
			got = append(got, p.String())
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%s).IndexablePredicates() = %q, want %q", tt.filter, got, tt.want)
		}
	}
}

func inRanges(keys [][]byte, ranges []KeyRange) bool {
	for _, k := range keys {
		// An index key is the value's key followed by a document id.
		k = append(append([]byte(nil), k...), "some-id"...)
		for _, r := range ranges {
			if bytes.Compare(k, r.Start) >= 0 && bytes.Compare(k, r.End) < 0 {
				return true
			}
		}
	}
	return false
}

// randDoc builds a document with fields a and b (scalars, arrays, objects,
// sometimes missing) and c (an array of objects with an x field).
func randDoc(r *rand.Rand) map[string]any {
	doc := map[string]any{}
	for _, f := range []string{"a", "b"} {
		if r.IntN(5) > 0 {
			doc[f] = randValue(r, 2)
		}
	}
	if r.IntN(2) == 0 {
		arr := make([]any, r.IntN(3))
		for i := range arr {
			arr[i] = map[string]any{"x": randValue(r, 1)}
		}
		doc["c"] = arr
	}
	return doc
}

func randCondition(r *rand.Rand) string {
	v := func() string { b, _ := json.Marshal(randValue(r, 1)); return string(b) }
	ops := []string{"$gt", "$gte", "$lt", "$lte"}
	switch r.IntN(5) {
	case 0:
		return v()
	case 1:
		return fmt.Sprintf(`{"$in":[%s,%s]}`, v(), v())
	case 2:
		return fmt.Sprintf(`{%q:%s}`, ops[r.IntN(4)], v())
	case 3:
		n := randNumber(r)
		return fmt.Sprintf(`{%q:%s,%q:%s}`, ops[r.IntN(2)], n, ops[2+r.IntN(2)], randNumber(r))
	}
	return fmt.Sprintf(`{%q:%s,%q:%s}`, ops[r.IntN(2)], v(), ops[2+r.IntN(2)], v())
}

// TestKeyRangesCoverMatches checks the contract the docs package relies on:
// a document matching a filter has an index key inside the ranges of each of
// the filter's indexable predicates, with both range ends used only when the
// document has a single key.
func TestKeyRangesCoverMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	paths := []string{"a", "b", "c.x", "a.0", "a.a"}
	exact := 0
	for range 20000 {
		path := paths[r.IntN(len(paths))]
		text := fmt.Sprintf(`{%q:%s}`, path, randCondition(r))
		f, err := Parse([]byte(text))
		if err != nil {
			t.Fatalf("Parse(%s): %v", text, err)
		}
		doc := randDoc(r)
		keys := IndexKeys(doc, path)
		match := f.Match(doc)
		for _, p := range f.IndexablePredicates() {
			for _, single := range []bool{false, len(keys) <= 1} {
				in := inRanges(keys, p.KeyRanges(single))
				if match && !in {
					t.Fatalf("filter %s matches %s but no key of %q is in the ranges of %v (singleKey=%v)",
						text, render(doc), path, p, single)
				}
				// Null bounds are dropped from range predicates, so those are
				// only a superset.
				exactRange := single && len(keys) <= 1 && !strings.Contains(text, "null")
				if (p.Kind != PredRange || exactRange) && in != match {
					t.Fatalf("filter %s: Match(%s) = %v but a key is in the ranges of %v", text, render(doc), match, p)
				}
				if in && match {
					exact++
				}
			}
		}
	}
	if exact < 300 {
		t.Errorf("only %d matching cases generated; the generator is too sparse to test anything", exact)
	}
}

func TestIndexKeys(t *testing.T) {
	doc := mustJSON(t, `{"a":[1,[2],1.0,{"b":3}],"c":{"d":"x"},"e":[{"f":1},{"f":[2,3]},{"g":1}]}`).(map[string]any)
	tests := []struct {
		path string
		want []any
	}{
		{"a", []any{num("1"), map[string]any{"b": num("3")}, []any{num("1"), []any{num("2")}, num("1"), map[string]any{"b": num("3")}}, []any{num("2")}}},
		{"a.b", []any{num("3")}},
		{"a.1", []any{num("2"), []any{num("2")}}},
		{"c.d", []any{"x"}},
		{"e.f", []any{num("1"), num("2"), num("3"), []any{num("2"), num("3")}}},
		{"e.g", []any{num("1")}},
		{"missing", nil},
	}
	for _, tt := range tests {
		var want [][]byte
		for _, v := range tt.want {
			want = append(want, EncodeKey(v))
		}
		got := IndexKeys(doc, tt.path)
		if len(got) != len(want) {
			t.Errorf("IndexKeys(%q) has %d keys, want %d", tt.path, len(got), len(want))
			continue
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Errorf("IndexKeys(%q)[%d] = %x, want %x", tt.path, i, got[i], want[i])
			}
		}
	}
}
