package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// SortField is one key of a sort specification.
type SortField struct {
	Path string
	Desc bool
}

// Sort is a multi-field sort specification, most significant field first.
// The zero Sort imposes no order.
type Sort []SortField

// ParseSort parses {"field": 1 | -1, ...} keeping the fields in the order
// they are written ("asc"/"desc" are accepted too). An empty or null raw
// message is the empty Sort. Errors name the offending field.
func ParseSort(raw json.RawMessage) (Sort, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("sort is not valid JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf(`sort must be a JSON object such as {"age": -1, "name": 1}`)
	}
	var s Sort
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("sort is not valid JSON: %w", err)
		}
		path := tok.(string) // object keys are always strings
		if err := ValidatePath(path); err != nil {
			return nil, fmt.Errorf("sort field %q: %w", truncate(path), err)
		}
		if seen[path] {
			return nil, fmt.Errorf("sort field %q appears twice", path)
		}
		seen[path] = true
		var dir any
		if err := dec.Decode(&dir); err != nil {
			return nil, fmt.Errorf("sort is not valid JSON: %w", err)
		}
		desc, err := parseDirection(dir)
		if err != nil {
			return nil, fmt.Errorf("sort field %q: %w", path, err)
		}
		s = append(s, SortField{Path: path, Desc: desc})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fmt.Errorf("sort is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("sort is not valid JSON: unexpected data after the object")
	}
	return s, nil
}

func parseDirection(v any) (desc bool, err error) {
	switch x := v.(type) {
	case json.Number:
		d := toDecimal(x)
		if d.digits == "1" && d.exp == 1 {
			return d.kind == kindNeg, nil
		}
	case string:
		switch x {
		case "asc", "ascending":
			return false, nil
		case "desc", "descending":
			return true, nil
		}
	}
	return false, fmt.Errorf("direction must be 1 (ascending) or -1 (descending), got %s", render(v))
}

// Keys extracts the sort key of doc: for each field, the value its path
// reaches, null when it reaches none (missing sorts with null, as in
// MongoDB), or an array of all of them when it reaches several.
func (s Sort) Keys(doc map[string]any) []any {
	keys := make([]any, len(s))
	for i, f := range s {
		vals := Values(doc, f.Path)
		switch len(vals) {
		case 0:
		case 1:
			keys[i] = vals[0]
		default:
			keys[i] = vals
		}
	}
	return keys
}

// CompareKeys orders two sort keys produced by Keys: -1, 0 or +1.
func (s Sort) CompareKeys(a, b []any) int {
	for i, f := range s {
		c := Compare(a[i], b[i])
		if f.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// String renders the sort as JSON with its field order kept.
func (s Sort) String() string {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.Path)
		b.Write(k)
		if f.Desc {
			b.WriteString(":-1")
		} else {
			b.WriteString(":1")
		}
	}
	b.WriteByte('}')
	return b.String()
}
