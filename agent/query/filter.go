// Package query implements Aerolith's MongoDB-style filter language, value
// ordering, sorting and the order-preserving key encoding that secondary
// indexes are built from.
//
// Filters are JSON objects: fields are ANDed; a field maps either to a literal
// (equality) or to an operator object using $eq $ne $gt $gte $lt $lte $in $nin
// $exists $not; $and $or $nor combine sub-filters. Dot paths ("a.b.0.c") walk
// objects and arrays the way MongoDB does: at an array, a numeric segment
// indexes it and other segments are looked up in each element that is an
// object. A condition on a path holds when any value the path reaches, or any
// element of such a value that is an array, satisfies it ("tags": "x" matches
// tags ["x","y"]); $ne and $nin hold when none does. Equality with null also
// matches a missing field. Range operators only match values of the bound's
// type class (numbers compare numerically, strings bytewise). See Compare for
// the order across types.
//
// Sorting (Sort) orders whole values by Compare: a missing field sorts as
// null, and an array sorts as an array (after objects, before booleans),
// not by its smallest or largest element as MongoDB does.
//
// Indexes: IndexKeys gives a document's keys for a field and EncodeKey the
// order-preserving encoding they use; IndexablePredicates and KeyRanges turn
// a filter into key ranges that hold every matching document's keys.
//
// Everything here is pure and safe for concurrent use.
package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Filter is a parsed filter. The zero Filter (and a nil *Filter) matches
// every document. A Filter is immutable and safe for concurrent use.
type Filter struct {
	root node // nil matches everything
}

type node interface {
	match(doc map[string]any) bool
}

type andNode []node
type orNode []node
type norNode []node

func (n andNode) match(doc map[string]any) bool {
	for _, c := range n {
		if !c.match(doc) {
			return false
		}
	}
	return true
}

func (n orNode) match(doc map[string]any) bool {
	for _, c := range n {
		if c.match(doc) {
			return true
		}
	}
	return false
}

func (n norNode) match(doc map[string]any) bool {
	return !orNode(n).match(doc)
}

type opKind int

const (
	opEq opKind = iota
	opNe
	opGt
	opGte
	opLt
	opLte
	opIn
	opNin
	opExists
	opNot
)

var opNames = map[string]opKind{
	"$eq": opEq, "$ne": opNe, "$gt": opGt, "$gte": opGte, "$lt": opLt, "$lte": opLte,
	"$in": opIn, "$nin": opNin, "$exists": opExists, "$not": opNot,
}

// op is one condition on a field's values.
type op struct {
	kind   opKind
	value  any   // eq, ne, gt, gte, lt, lte
	values []any // in, nin
	exists bool  // exists
	not    []op  // not: negation of the conjunction
}

// fieldNode holds when every op holds on the values its path reaches.
type fieldNode struct {
	path string
	segs []string
	ops  []op
}

func (n *fieldNode) match(doc map[string]any) bool {
	vals := resolve(doc, n.segs, nil)
	for i := range n.ops {
		if !evalOp(&n.ops[i], vals) {
			return false
		}
	}
	return true
}

func evalOp(o *op, vals []any) bool {
	switch o.kind {
	case opEq:
		return matchEq(vals, o.value)
	case opNe:
		return !matchEq(vals, o.value)
	case opGt, opGte, opLt, opLte:
		return matchRange(vals, o.kind, o.value)
	case opIn:
		return matchIn(vals, o.values)
	case opNin:
		return !matchIn(vals, o.values)
	case opExists:
		return (len(vals) > 0) == o.exists
	case opNot:
		for i := range o.not {
			if !evalOp(&o.not[i], vals) {
				return true
			}
		}
		return false
	}
	return false
}

// each calls f on every value and on every element of every array value,
// stopping at the first true.
func each(vals []any, f func(any) bool) bool {
	for _, v := range vals {
		if f(v) {
			return true
		}
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				if f(e) {
					return true
				}
			}
		}
	}
	return false
}

func matchEq(vals []any, want any) bool {
	if want == nil {
		return len(vals) == 0 || each(vals, func(v any) bool { return v == nil })
	}
	return each(vals, func(v any) bool { return Compare(v, want) == 0 })
}

func matchIn(vals []any, set []any) bool {
	for _, want := range set {
		if matchEq(vals, want) {
			return true
		}
	}
	return false
}

func matchRange(vals []any, kind opKind, bound any) bool {
	if bound == nil {
		// Only null is in null's class: $gte/$lte null mean "is null or
		// missing", $gt/$lt null match nothing.
		if kind == opGte || kind == opLte {
			return matchEq(vals, nil)
		}
		return false
	}
	class := classOf(bound)
	return each(vals, func(v any) bool {
		if classOf(v) != class {
			return false
		}
		c := Compare(v, bound)
		switch kind {
		case opGt:
			return c > 0
		case opGte:
			return c >= 0
		case opLt:
			return c < 0
		}
		return c <= 0
	})
}

// Match reports whether doc (decoded with encoding/json, numbers preferably as
// json.Number) satisfies the filter.
func (f *Filter) Match(doc map[string]any) bool {
	if f == nil || f.root == nil {
		return true
	}
	return f.root.match(doc)
}

// Parse parses a JSON filter. An empty or null raw message is the filter
// that matches everything. Errors name the offending field or operator.
func Parse(raw json.RawMessage) (*Filter, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return &Filter{}, nil
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("filter is not valid JSON: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("filter must be a JSON object, got %s", typeName(v))
	}
	root, err := parseDoc(m)
	if err != nil {
		return nil, err
	}
	return &Filter{root: root}, nil
}

// decodeJSON decodes exactly one JSON value with numbers as json.Number.
func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

func typeName(v any) string {
	switch classOf(v) {
	case classNull:
		return "null"
	case classNumber:
		return "a number"
	case classString:
		return "a string"
	case classObject:
		return "an object"
	case classArray:
		return "an array"
	case classBool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// parseDoc parses a filter object: an implicit AND of its entries.
func parseDoc(m map[string]any) (node, error) {
	var and andNode
	for _, key := range sortedKeys(m) {
		val := m[key]
		if strings.HasPrefix(key, "$") {
			n, err := parseLogical(key, val)
			if err != nil {
				return nil, err
			}
			and = append(and, n)
			continue
		}
		if err := ValidatePath(key); err != nil {
			return nil, fmt.Errorf("field %q: %w", truncate(key), err)
		}
		ops, err := parseFieldValue(key, val)
		if err != nil {
			return nil, err
		}
		and = append(and, &fieldNode{path: key, segs: splitPath(key), ops: ops})
	}
	if len(and) == 1 {
		return and[0], nil
	}
	return and, nil
}

func parseLogical(key string, val any) (node, error) {
	switch key {
	case "$and", "$or", "$nor":
	case "$not":
		return nil, fmt.Errorf(`"$not" is not allowed at the top level of a filter: negate a field's condition, as in {"age": {"$not": {"$gt": 5}}}, or use "$nor"`)
	default:
		if _, isFieldOp := opNames[key]; isFieldOp {
			return nil, fmt.Errorf("operator %q needs a field, as in {\"field\": {%q: ...}}", key, key)
		}
		return nil, fmt.Errorf("unknown top-level operator %q", key)
	}
	arr, ok := val.([]any)
	if !ok {
		return nil, fmt.Errorf("%q needs an array of filter objects, got %s", key, typeName(val))
	}
	if len(arr) == 0 {
		return nil, fmt.Errorf("%q needs a non-empty array of filter objects", key)
	}
	children := make([]node, 0, len(arr))
	for i, e := range arr {
		sub, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q element %d must be a filter object, got %s", key, i, typeName(e))
		}
		n, err := parseDoc(sub)
		if err != nil {
			return nil, err
		}
		children = append(children, n)
	}
	switch key {
	case "$and":
		return andNode(children), nil
	case "$or":
		return orNode(children), nil
	}
	return norNode(children), nil
}

// parseFieldValue parses what a field maps to: an operator object or a
// literal to compare for equality.
func parseFieldValue(path string, val any) ([]op, error) {
	m, ok := val.(map[string]any)
	if !ok || !hasOperator(m) {
		return []op{{kind: opEq, value: val}}, nil
	}
	return parseOps(path, m)
}

func hasOperator(m map[string]any) bool {
	for k := range m {
		if strings.HasPrefix(k, "$") {
			return true
		}
	}
	return false
}

func parseOps(path string, m map[string]any) ([]op, error) {
	keys := sortedKeys(m)
	ops := make([]op, 0, len(keys))
	for _, k := range keys {
		if !strings.HasPrefix(k, "$") {
			return nil, fmt.Errorf("field %q: cannot mix operators and literal fields (%q) in one object", path, truncate(k))
		}
	}
	for _, k := range keys {
		kind, ok := opNames[k]
		if !ok {
			return nil, fmt.Errorf("unknown operator %q at %q", truncate(k), path)
		}
		val := m[k]
		o := op{kind: kind}
		switch kind {
		case opEq, opNe, opGt, opGte, opLt, opLte:
			o.value = val
		case opIn, opNin:
			arr, ok := val.([]any)
			if !ok {
				return nil, fmt.Errorf("%q at %q needs an array, got %s", k, path, typeName(val))
			}
			o.values = arr
		case opExists:
			switch x := val.(type) {
			case bool:
				o.exists = x
			case json.Number:
				o.exists = toDecimal(x).kind != kindZero
			default:
				return nil, fmt.Errorf("%q at %q needs true or false, got %s", k, path, typeName(val))
			}
		case opNot:
			sub, ok := val.(map[string]any)
			if !ok || len(sub) == 0 || !hasOperator(sub) {
				return nil, fmt.Errorf(`"$not" at %q needs an operator object such as {"$gt": 5}, got %s`, path, typeName(val))
			}
			inner, err := parseOps(path, sub)
			if err != nil {
				return nil, err
			}
			o.not = inner
		}
		ops = append(ops, o)
	}
	return ops, nil
}

// sortValues orders values by Compare (used to make plans deterministic).
func sortValues(vals []any) {
	sort.SliceStable(vals, func(i, j int) bool { return Compare(vals[i], vals[j]) < 0 })
}
