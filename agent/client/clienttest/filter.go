package clienttest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aerolithdb/aerolith/agent/client"
)

// filter is a parsed query filter: a predicate over a decoded document.
type filter func(doc map[string]any) bool

func (f filter) match(data json.RawMessage) (bool, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return false, err
	}
	return f(doc), nil
}

func parseFilter(raw json.RawMessage) (filter, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return func(map[string]any) bool { return true }, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("must be a JSON object")
	}
	return parseObject(obj)
}

// parseObject parses an implicit AND of field conditions and $and/$or/$not.
func parseObject(obj map[string]any) (filter, error) {
	var parts []filter
	for key, val := range obj {
		switch key {
		case "$and", "$or":
			list, ok := val.([]any)
			if !ok || len(list) == 0 {
				return nil, fmt.Errorf("%s: want a non-empty array", key)
			}
			var subs []filter
			for _, item := range list {
				o, ok := item.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s: items must be objects", key)
				}
				f, err := parseObject(o)
				if err != nil {
					return nil, err
				}
				subs = append(subs, f)
			}
			if key == "$and" {
				parts = append(parts, func(d map[string]any) bool {
					for _, f := range subs {
						if !f(d) {
							return false
						}
					}
					return true
				})
			} else {
				parts = append(parts, func(d map[string]any) bool {
					for _, f := range subs {
						if f(d) {
							return true
						}
					}
					return false
				})
			}
		case "$not":
			o, ok := val.(map[string]any)
			if !ok {
				return nil, errors.New("$not: want an object")
			}
			f, err := parseObject(o)
			if err != nil {
				return nil, err
			}
			parts = append(parts, func(d map[string]any) bool { return !f(d) })
		default:
			if strings.HasPrefix(key, "$") {
				return nil, fmt.Errorf("unknown operator %s", key)
			}
			f, err := parseField(key, val)
			if err != nil {
				return nil, err
			}
			parts = append(parts, f)
		}
	}
	return func(d map[string]any) bool {
		for _, f := range parts {
			if !f(d) {
				return false
			}
		}
		return true
	}, nil
}

func parseField(path string, cond any) (filter, error) {
	ops, isOps := cond.(map[string]any)
	if isOps {
		for k := range ops {
			if !strings.HasPrefix(k, "$") {
				isOps = false
			}
		}
	}
	if !isOps || len(ops) == 0 {
		return func(d map[string]any) bool {
			v, ok := lookup(d, path)
			return ok && equal(v, cond)
		}, nil
	}
	var preds []func(v any, present bool) bool
	for op, arg := range ops {
		switch op {
		case "$eq":
			preds = append(preds, func(v any, ok bool) bool { return ok && equal(v, arg) })
		case "$ne":
			preds = append(preds, func(v any, ok bool) bool { return !ok || !equal(v, arg) })
		case "$gt", "$gte", "$lt", "$lte":
			preds = append(preds, func(v any, ok bool) bool {
				c, comparable := compare(v, arg)
				if !ok || !comparable {
					return false
				}
				switch op {
				case "$gt":
					return c > 0
				case "$gte":
					return c >= 0
				case "$lt":
					return c < 0
				}
				return c <= 0
			})
		case "$in", "$nin":
			list, ok := arg.([]any)
			if !ok {
				return nil, fmt.Errorf("%s: %s: want an array", path, op)
			}
			in := op == "$in"
			preds = append(preds, func(v any, ok bool) bool {
				found := ok && slices.ContainsFunc(list, func(x any) bool { return equal(v, x) })
				return found == in
			})
		case "$exists":
			want, ok := arg.(bool)
			if !ok {
				return nil, fmt.Errorf("%s: $exists: want a boolean", path)
			}
			preds = append(preds, func(_ any, ok bool) bool { return ok == want })
		default:
			return nil, fmt.Errorf("%s: unknown operator %s", path, op)
		}
	}
	return func(d map[string]any) bool {
		v, ok := lookup(d, path)
		for _, p := range preds {
			if !p(v, ok) {
				return false
			}
		}
		return true
	}, nil
}

func lookup(d map[string]any, path string) (any, bool) {
	var cur any = d
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func equal(a, b any) bool {
	if c, ok := compare(a, b); ok {
		return c == 0
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// compare orders two numbers or two strings.
func compare(a, b any) (int, bool) {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return 0, false
		}
		fx, err1 := x.Float64()
		fy, err2 := y.Float64()
		if err1 != nil || err2 != nil {
			return 0, false
		}
		switch {
		case fx < fy:
			return -1, true
		case fx > fy:
			return 1, true
		}
		return 0, true
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(x, y), true
	}
	return 0, false
}

type sortKey struct {
	field string
	desc  bool
}

// parseSort reads {"field":1|-1,...} keeping key order.
func parseSort(raw json.RawMessage) ([]sortKey, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("must be a JSON object")
	}
	var keys []sortKey
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		field := tok.(string)
		var dir json.Number
		if err := dec.Decode(&dir); err != nil {
			return nil, fmt.Errorf("%s: want 1 or -1", field)
		}
		switch dir {
		case "1":
			keys = append(keys, sortKey{field: field})
		case "-1":
			keys = append(keys, sortKey{field: field, desc: true})
		default:
			return nil, fmt.Errorf("%s: want 1 or -1, got %s", field, dir)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("must be a single JSON object")
	}
	return keys, nil
}

// sortDocs sorts docs by keys; documents missing a field sort first.
func sortDocs(docs []*client.Document, keys []sortKey) {
	if len(keys) == 0 {
		return
	}
	decoded := make(map[*client.Document]map[string]any, len(docs))
	for _, d := range docs {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(d.Data))
		dec.UseNumber()
		_ = dec.Decode(&m)
		decoded[d] = m
	}
	slices.SortStableFunc(docs, func(a, b *client.Document) int {
		for _, k := range keys {
			va, oka := lookup(decoded[a], k.field)
			vb, okb := lookup(decoded[b], k.field)
			c := 0
			switch {
			case !oka && !okb:
			case !oka:
				c = -1
			case !okb:
				c = 1
			default:
				c, _ = compare(va, vb)
			}
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
}
