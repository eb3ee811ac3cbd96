package main

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/internal/jsontext"
)

// FuzzRecordReaders feeds arbitrary input to the JSONL and CSV import
// readers: they must not panic, and every record they accept must hold a
// JSON object of valid UTF-8 without duplicate keys, and a positive line
// number.
func FuzzRecordReaders(f *testing.F) {
	f.Add(usersJSONL, "id")
	f.Add("id,a,b.c\nx,1,\"[1,2]\"\ny,null,true\n", "id")
	f.Add("a,a.b\n1,2\n", "")
	f.Add(`{"id":12,"a":{"b":[1,{"c":null}]}}`+"\n\n"+`{"x":"\u00e9"}`, "id")
	f.Add("{\"id\":\"a\",\"x\":\"\xff\"}\n{\"a\":1,\"a\":2}\n", "id")
	f.Add("id,a\nx,\"{\"\"k\"\":1,\"\"k\"\":2}\"\ny,\xfe\n", "id")
	f.Fuzz(func(t *testing.T, input, idField string) {
		for _, format := range []string{formatJSONL, formatCSV} {
			rr, err := newRecordReader(format, strings.NewReader(input), idField)
			if err != nil {
				continue
			}
			for range 1000 {
				rec, err := rr.Next()
				if err != nil {
					if !errors.Is(err, io.EOF) && !strings.HasPrefix(err.Error(), "line ") {
						t.Fatalf("%s: error %q does not name a line", format, err)
					}
					break
				}
				var obj map[string]any
				if err := json.Unmarshal(rec.data, &obj); err != nil {
					t.Fatalf("%s: record data %q is not a JSON object: %v", format, rec.data, err)
				}
				if err := jsontext.Check(rec.data); err != nil {
					t.Fatalf("%s: record data %q: %v", format, rec.data, err)
				}
				if rec.line < 1 {
					t.Fatalf("%s: record line %d", format, rec.line)
				}
			}
		}
	})
}

// FuzzIsJSONNumber checks that what import types as a number is one.
func FuzzIsJSONNumber(f *testing.F) {
	for _, s := range []string{"0", "-1.5e+10", "007", "1.", ".5", "1e", "-", "12a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if isJSONNumber(s) {
			var n json.Number
			if err := json.Unmarshal([]byte(s), &n); err != nil {
				t.Fatalf("isJSONNumber(%q) = true but it is not a JSON number: %v", s, err)
			}
		}
	})
}
