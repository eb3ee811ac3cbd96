package query

import (
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestParseSort(t *testing.T) {
	tests := []struct {
		raw  string
		want Sort
	}{
		{``, nil},
		{`null`, nil},
		{`{}`, nil},
		{`{"b":1,"a":-1}`, Sort{{Path: "b"}, {Path: "a", Desc: true}}},
		{`{"z.y":-1,"a":1,"m":"desc","n":"asc"}`, Sort{{Path: "z.y", Desc: true}, {Path: "a"}, {Path: "m", Desc: true}, {Path: "n"}}},
		{`{"a":1.0}`, Sort{{Path: "a"}}},
	}
	for _, tt := range tests {
		got, err := ParseSort([]byte(tt.raw))
		if err != nil {
			t.Errorf("ParseSort(%s): %v", tt.raw, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseSort(%s) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

func TestParseSortErrors(t *testing.T) {
	tests := []struct{ raw, want string }{
		{`[1]`, "must be a JSON object"},
		{`{"a":2}`, `sort field "a": direction must be 1 (ascending) or -1 (descending), got 2`},
		{`{"a":"up"}`, `sort field "a": direction must be`},
		{`{"a":1,"a":-1}`, `sort field "a" appears twice`},
		{`{"a..b":1}`, "empty segment"},
		{`{"a":1`, "not valid JSON"},
		{`{"a":1}x`, "not valid JSON"},
		{`{"a":{}}`, "direction must be"},
	}
	for _, tt := range tests {
		_, err := ParseSort([]byte(tt.raw))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSort(%s) error = %v, want it to contain %q", tt.raw, err, tt.want)
		}
	}
}

func TestSortOrder(t *testing.T) {
	docs := []string{
		`{"id":"1","a":2,"b":"x"}`,
		`{"id":"2","a":1,"b":"y"}`,
		`{"id":"3","b":"z"}`,
		`{"id":"4","a":null,"b":"w"}`,
		`{"id":"5","a":"s","b":"x"}`,
		`{"id":"6","a":2,"b":"a"}`,
		`{"id":"7","a":[0,5],"b":"a"}`,
		`{"id":"8","a":true,"b":"a"}`,
		`{"id":"9","a":2.0,"b":"y"}`,
	}
	tests := []struct {
		sort string
		want string // ids in order; ties keep the input order (stable)
	}{
		{`{"a":1}`, "342169578"},
		{`{"a":-1}`, "875169234"},
		{`{"a":1,"b":-1}`, "342916578"},
		{`{"a":-1,"b":1}`, "875619243"},
		{`{"b":1,"a":-1}`, "876451923"},
	}
	for _, tt := range tests {
		s, err := ParseSort([]byte(tt.sort))
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			id   string
			keys []any
		}
		var rows []row
		for _, d := range docs {
			m := mustJSON(t, d).(map[string]any)
			rows = append(rows, row{m["id"].(string), s.Keys(m)})
		}
		sort.SliceStable(rows, func(i, j int) bool { return s.CompareKeys(rows[i].keys, rows[j].keys) < 0 })
		var got strings.Builder
		for _, r := range rows {
			got.WriteString(r.id)
		}
		if got.String() != tt.want {
			t.Errorf("sort %s = %s, want %s", tt.sort, got.String(), tt.want)
		}
	}
}

func TestSortString(t *testing.T) {
	s := Sort{{Path: "b"}, {Path: "a.c", Desc: true}}
	if got, want := s.String(), `{"b":1,"a.c":-1}`; got != want {
		t.Errorf("Sort.String() = %s, want %s", got, want)
	}
}
