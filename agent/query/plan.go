package query

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// PredicateKind says what an indexable predicate asks of a field.
type PredicateKind int

const (
	// PredEq asks for a value equal to Values[0].
	PredEq PredicateKind = iota + 1
	// PredIn asks for a value equal to one of Values (none: matches nothing).
	PredIn
	// PredRange asks for a value of the bounds' type class within Lower and
	// Upper (either may be nil for an open end).
	PredRange
)

// Bound is one end of a range predicate.
type Bound struct {
	Value     any
	Inclusive bool
}

// Predicate is a condition from the top-level AND of a filter that an index
// on Path can serve: every document the filter matches has an index key
// (see IndexKeys) inside the predicate's KeyRanges. Null equality and
// null-bounded ranges are never indexable because they also match documents
// where the field is missing, which have no index key.
type Predicate struct {
	Path   string
	Kind   PredicateKind
	Values []any  // PredEq: one value; PredIn: distinct values in Compare order
	Lower  *Bound // PredRange
	Upper  *Bound // PredRange
}

// KeyRange is a half-open range [Start, End) of index keys.
type KeyRange struct {
	Start, End []byte
}

// IndexablePredicates returns the predicates of the filter's top-level AND
// (nested $and included) that an index can serve: equalities, $in lists
// and ranges, with all $gt/$gte/$lt/$lte bounds on one field merged into a
// single range. The result is ordered by path then kind, and is empty for a
// filter with nothing indexable (for example a top-level $or).
func (f *Filter) IndexablePredicates() []Predicate {
	if f == nil || f.root == nil {
		return nil
	}
	var fields []*fieldNode
	collectAnd(f.root, &fields)
	var preds []Predicate
	lower := map[string]*Bound{}
	upper := map[string]*Bound{}
	var rangePaths []string
	for _, fn := range fields {
		for _, o := range fn.ops {
			switch o.kind {
			case opEq:
				if o.value != nil {
					preds = append(preds, Predicate{Path: fn.path, Kind: PredEq, Values: []any{o.value}})
				}
			case opIn:
				if vals, ok := inValues(o.values); ok {
					preds = append(preds, Predicate{Path: fn.path, Kind: PredIn, Values: vals})
				}
			case opGt, opGte, opLt, opLte:
				if o.value == nil {
					continue
				}
				if lower[fn.path] == nil && upper[fn.path] == nil {
					rangePaths = append(rangePaths, fn.path)
				}
				b := &Bound{Value: o.value, Inclusive: o.kind == opGte || o.kind == opLte}
				if o.kind == opGt || o.kind == opGte {
					lower[fn.path] = tighter(lower[fn.path], b, 1)
				} else {
					upper[fn.path] = tighter(upper[fn.path], b, -1)
				}
			}
		}
	}
	for _, p := range rangePaths {
		preds = append(preds, Predicate{Path: p, Kind: PredRange, Lower: lower[p], Upper: upper[p]})
	}
	sort.SliceStable(preds, func(i, j int) bool {
		if preds[i].Path != preds[j].Path {
			return preds[i].Path < preds[j].Path
		}
		return preds[i].Kind < preds[j].Kind
	})
	return preds
}

func collectAnd(n node, out *[]*fieldNode) {
	switch x := n.(type) {
	case andNode:
		for _, c := range x {
			collectAnd(c, out)
		}
	case *fieldNode:
		*out = append(*out, x)
	}
}

// inValues returns the distinct values of an $in list in Compare order, or
// false when the list contains null (not indexable).
func inValues(vals []any) ([]any, bool) {
	out := make([]any, 0, len(vals))
	for _, v := range vals {
		if v == nil {
			return nil, false
		}
		out = append(out, v)
	}
	sortValues(out)
	dedup := out[:0]
	for _, v := range out {
		if len(dedup) == 0 || Compare(dedup[len(dedup)-1], v) != 0 {
			dedup = append(dedup, v)
		}
	}
	return dedup, true
}

// tighter returns the more restrictive of two bounds: the larger for
// dir=1 (lower bounds), the smaller for dir=-1; an exclusive bound beats an
// inclusive one at the same value.
func tighter(cur, b *Bound, dir int) *Bound {
	if cur == nil {
		return b
	}
	c := Compare(b.Value, cur.Value) * dir
	if c > 0 || (c == 0 && !b.Inclusive) {
		return b
	}
	return cur
}

// KeyRanges returns the index key ranges holding every key that can satisfy
// the predicate, in ascending order; no ranges means no document can match.
// singleKey says that no document has more than one key in the index: only
// then may both ends of a range be used together, because with multikey
// documents MongoDB semantics let different elements satisfy each bound
// ({"a": {"$gt": 1, "$lt": 5}} matches a: [0, 10]), so only the lower end
// bounds the scan.
func (p Predicate) KeyRanges(singleKey bool) []KeyRange {
	switch p.Kind {
	case PredEq, PredIn:
		out := make([]KeyRange, 0, len(p.Values))
		for _, v := range p.Values {
			k := EncodeKey(v)
			out = append(out, KeyRange{Start: k, End: prefixEnd(k)})
		}
		sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Start, out[j].Start) < 0 })
		return out
	case PredRange:
		lo, hi := p.Lower, p.Upper
		if lo != nil && hi != nil && !singleKey {
			hi = nil
		}
		var r KeyRange
		switch {
		case lo != nil && hi != nil:
			if classOf(lo.Value) != classOf(hi.Value) {
				return nil // one value cannot be in two type classes
			}
			r = KeyRange{Start: lowerStart(lo), End: upperEnd(hi)}
		case lo != nil:
			r = KeyRange{Start: lowerStart(lo), End: []byte{classTags[classOf(lo.Value)] + 1}}
		case hi != nil:
			r = KeyRange{Start: []byte{classTags[classOf(hi.Value)]}, End: upperEnd(hi)}
		default:
			return nil
		}
		if bytes.Compare(r.Start, r.End) >= 0 {
			return nil
		}
		return []KeyRange{r}
	}
	return nil
}

func lowerStart(b *Bound) []byte {
	k := EncodeKey(b.Value)
	if b.Inclusive {
		return k
	}
	return prefixEnd(k)
}

func upperEnd(b *Bound) []byte {
	k := EncodeKey(b.Value)
	if b.Inclusive {
		return prefixEnd(k)
	}
	return k
}

// String renders the predicate for query plans, e.g. `age in (5, 10]`.
func (p Predicate) String() string {
	var sb strings.Builder
	sb.WriteString(p.Path)
	switch p.Kind {
	case PredEq:
		sb.WriteString(" = ")
		sb.WriteString(render(p.Values[0]))
	case PredIn:
		sb.WriteString(" in {")
		for i, v := range p.Values {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(render(v))
		}
		sb.WriteString("}")
	case PredRange:
		sb.WriteString(" in ")
		switch {
		case p.Lower == nil:
			sb.WriteString("(-inf")
		case p.Lower.Inclusive:
			sb.WriteString("[" + render(p.Lower.Value))
		default:
			sb.WriteString("(" + render(p.Lower.Value))
		}
		sb.WriteString(", ")
		switch {
		case p.Upper == nil:
			sb.WriteString("+inf)")
		case p.Upper.Inclusive:
			sb.WriteString(render(p.Upper.Value) + "]")
		default:
			sb.WriteString(render(p.Upper.Value) + ")")
		}
	}
	return sb.String()
}

func render(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}
