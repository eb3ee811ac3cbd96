package query

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxPathBytes bounds the length of a field path in filters, sorts and index
// declarations.
const MaxPathBytes = 256

// ValidatePath checks a dot path such as "a.b.0.c": 1..MaxPathBytes bytes of
// UTF-8 without control characters, no empty segment, no segment starting
// with '$'. Numeric segments index arrays.
func ValidatePath(path string) error {
	switch {
	case path == "":
		return fmt.Errorf("empty field path")
	case len(path) > MaxPathBytes:
		return fmt.Errorf("field path %q is %d bytes, more than %d", truncate(path), len(path), MaxPathBytes)
	case !utf8.ValidString(path):
		return fmt.Errorf("field path %q is not valid UTF-8", truncate(path))
	}
	for _, r := range path {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("field path %q contains a control character", truncate(path))
		}
	}
	for _, seg := range strings.Split(path, ".") {
		if seg == "" {
			return fmt.Errorf("field path %q has an empty segment", path)
		}
		if seg[0] == '$' {
			return fmt.Errorf("field path %q has a segment starting with '$'", path)
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// arrayIndex reports whether seg is a canonical array index ("0", "12"; no
// sign, no leading zeros) and returns it.
func arrayIndex(seg string) (int, bool) {
	if seg == "" || len(seg) > 9 || (len(seg) > 1 && seg[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// resolve appends to out every value that the path segs reaches from v, the
// way MongoDB walks dot paths: a field of an object is followed; at an array,
// a numeric segment indexes the array and, in addition, every element that
// is an object is followed by the segment as a field name. Arrays nested
// directly in arrays are not walked into. A missing field reaches nothing.
func resolve(v any, segs []string, out []any) []any {
	if len(segs) == 0 {
		return append(out, v)
	}
	switch x := v.(type) {
	case map[string]any:
		if child, ok := x[segs[0]]; ok {
			return resolve(child, segs[1:], out)
		}
	case []any:
		if i, ok := arrayIndex(segs[0]); ok && i < len(x) {
			out = resolve(x[i], segs[1:], out)
		}
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				if child, ok := m[segs[0]]; ok {
					out = resolve(child, segs[1:], out)
				}
			}
		}
	}
	return out
}

func splitPath(path string) []string { return strings.Split(path, ".") }

// Values returns the values a dot path reaches in doc (see the package
// documentation for how arrays are walked). A missing field yields none.
func Values(doc map[string]any, path string) []any {
	return resolve(doc, splitPath(path), nil)
}

// IndexKeys returns the distinct index keys of doc for the field path, in
// ascending order: EncodeKey of every value the path reaches and, for each
// value that is an array, of each of its elements (a multikey index). A
// document where the path reaches nothing has no key. Filters match exactly
// the documents that have a key in the ranges of their indexable predicates,
// which is what lets an index serve a query.
func IndexKeys(doc map[string]any, path string) [][]byte {
	vals := Values(doc, path)
	if len(vals) == 0 {
		return nil
	}
	var keys [][]byte
	for _, v := range vals {
		keys = append(keys, EncodeKey(v))
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				keys = append(keys, EncodeKey(e))
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	out := keys[:1]
	for _, k := range keys[1:] {
		if !bytes.Equal(k, out[len(out)-1]) {
			out = append(out, k)
		}
	}
	return out
}
