package query

import (
	"bytes"
	"encoding/json"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":{"$gt":1,"$lt":"x"}}`, `{"$or":[{"a":null},{"b.c":{"$in":[1,2]}}]}`,
		`{"a":{"$not":{"$exists":true}}}`, `{"$nor":[{"a.0":[1]}]}`, `{"a":{"$nin":[{"b":1}]}}`,
		`{"$not":{}}`, `[`, `{"a":{"$foo":1}}`, `{"t":{"$gte":9007199254740993}}`,
	} {
		f.Add([]byte(s), []byte(testDoc))
	}
	f.Fuzz(func(t *testing.T, filter, doc []byte) {
		flt, err := Parse(filter)
		if err != nil {
			if flt != nil {
				t.Fatalf("Parse(%q) returned a filter with error %v", filter, err)
			}
			return
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(doc))
		d.UseNumber()
		if d.Decode(&m) != nil {
			m = map[string]any{"a": json.Number("1"), "b": []any{"x", nil, map[string]any{"c": true}}}
		}
		flt.Match(m)
		for _, p := range flt.IndexablePredicates() {
			_ = p.String()
			for _, single := range []bool{true, false} {
				for _, r := range p.KeyRanges(single) {
					if bytes.Compare(r.Start, r.End) >= 0 {
						t.Fatalf("empty key range %x..%x from %v", r.Start, r.End, p)
					}
				}
			}
		}
		if _, err := ParseSort(filter); err == nil {
			_ = err
		}
	})
}

func FuzzEncodeKey(f *testing.F) {
	seeds := [][2]string{
		{"1", "1.0"}, {"-1", "-10"}, {"9007199254740993", "9007199254740992"}, {`"a\u0000"`, `"a"`},
		{`[1,2]`, `[1]`}, {`{"a":1}`, `{"a":1,"b":2}`}, {"0.001", "1e-3"}, {"-0.5", "-0.50001"},
		{"true", "null"}, {`"x"`, "12"},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, x, y []byte) {
		a, err := decodeJSON(x)
		if err != nil {
			// Not JSON: compare the raw texts as strings and as numbers.
			a = string(x)
		}
		b, err := decodeJSON(y)
		if err != nil {
			b = string(y)
		}
		checkKeyOrder(t, a, b)
		checkKeyOrder(t, json.Number(x), json.Number(y))
		checkKeyOrder(t, []any{a, b}, []any{b, a})
	})
}
