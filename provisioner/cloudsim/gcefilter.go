package cloudsim

import (
	"regexp"
	"strconv"
	"strings"
)

// gceFilter is a parsed list filter of the Compute API: comparisons
// `FIELD = VALUE`, `FIELD != VALUE` (VALUE may hold * wildcards) and
// `FIELD eq RE2`, `FIELD ne RE2`, combined with AND, OR and parentheses
// (adjacent parenthesized expressions are ANDed). Values are bare words
// or double-quoted strings.
type gceFilter struct {
	op          string // "and", "or", "cmp"; "" matches everything
	left, right *gceFilter
	field, cmp  string
	value       string
	re          *regexp.Regexp
}

func (f *gceFilter) match(get func(field string) (string, bool)) bool {
	switch f.op {
	case "":
		return true
	case "and":
		return f.left.match(get) && f.right.match(get)
	case "or":
		return f.left.match(get) || f.right.match(get)
	}
	v, has := get(f.field)
	switch f.cmp {
	case "=":
		return has && wildcard(f.value, v)
	case "!=":
		return !has || !wildcard(f.value, v)
	case "eq":
		return has && f.re.MatchString(v)
	default: // ne
		return !has || !f.re.MatchString(v)
	}
}

var gceFilterFieldRE = regexp.MustCompile(`^(name|status|id|labels\.[a-z][a-z0-9_-]{0,62})$`)

func badFilter(expr, why string) *gceErr {
	return gceInvalid("Invalid value for field 'filter': '%s'. Invalid list filter expression: %s.", clip(expr), why)
}

// parseGCEFilter parses expr ("" matches everything).
func parseGCEFilter(expr string) (*gceFilter, *gceErr) {
	if len(expr) > 4096 {
		return nil, badFilter(expr, "longer than 4096 characters")
	}
	toks, e := gceTokens(expr)
	if e != nil {
		return nil, e
	}
	if len(toks) == 0 {
		return &gceFilter{}, nil
	}
	p := &filterParser{toks: toks, expr: expr}
	f, e := p.or(0)
	if e != nil {
		return nil, e
	}
	if p.pos != len(toks) {
		return nil, badFilter(expr, "unexpected "+strconv.Quote(clip(toks[p.pos].s)))
	}
	return f, nil
}

type filterTok struct {
	s      string
	quoted bool
}

func gceTokens(expr string) ([]filterTok, *gceErr) {
	var out []filterTok
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')':
			out = append(out, filterTok{s: string(c)})
			i++
		case c == '!' && i+1 < len(expr) && expr[i+1] == '=':
			out = append(out, filterTok{s: "!="})
			i += 2
		case c == '=':
			out = append(out, filterTok{s: "="})
			i++
		case c == '"':
			j := i + 1
			for j < len(expr) && expr[j] != '"' {
				if expr[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(expr) {
				return nil, badFilter(expr, "unterminated quote")
			}
			v, err := strconv.Unquote(expr[i : j+1])
			if err != nil {
				return nil, badFilter(expr, "bad quoted string")
			}
			out = append(out, filterTok{s: v, quoted: true})
			i = j + 1
		default:
			j := i
			for j < len(expr) && !strings.ContainsRune(" \t()=!\"", rune(expr[j])) {
				j++
			}
			if j == i {
				return nil, badFilter(expr, "unexpected "+strconv.Quote(string(c)))
			}
			out = append(out, filterTok{s: expr[i:j]})
			i = j
		}
	}
	return out, nil
}

type filterParser struct {
	toks []filterTok
	pos  int
	expr string
}

func (p *filterParser) peek() (filterTok, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return filterTok{}, false
}

func (p *filterParser) or(depth int) (*gceFilter, *gceErr) {
	left, e := p.and(depth)
	if e != nil {
		return nil, e
	}
	for {
		t, ok := p.peek()
		if !ok || t.quoted || t.s != "OR" {
			return left, nil
		}
		p.pos++
		right, e := p.and(depth)
		if e != nil {
			return nil, e
		}
		left = &gceFilter{op: "or", left: left, right: right}
	}
}

func (p *filterParser) and(depth int) (*gceFilter, *gceErr) {
	left, e := p.term(depth)
	if e != nil {
		return nil, e
	}
	for {
		t, ok := p.peek()
		if !ok || (!t.quoted && (t.s == ")" || t.s == "OR")) {
			return left, nil
		}
		if !t.quoted && t.s == "AND" {
			p.pos++
		}
		right, e := p.term(depth)
		if e != nil {
			return nil, e
		}
		left = &gceFilter{op: "and", left: left, right: right}
	}
}

func (p *filterParser) term(depth int) (*gceFilter, *gceErr) {
	if depth > 32 {
		return nil, badFilter(p.expr, "nested too deeply")
	}
	t, ok := p.peek()
	if !ok {
		return nil, badFilter(p.expr, "unexpected end")
	}
	if !t.quoted && t.s == "(" {
		p.pos++
		f, e := p.or(depth + 1)
		if e != nil {
			return nil, e
		}
		if t, ok := p.peek(); !ok || t.quoted || t.s != ")" {
			return nil, badFilter(p.expr, "missing ')'")
		}
		p.pos++
		return f, nil
	}
	if t.quoted || !gceFilterFieldRE.MatchString(t.s) {
		return nil, badFilter(p.expr, "unknown field "+strconv.Quote(clip(t.s))+" (known: name, status, id, labels.KEY)")
	}
	p.pos++
	op, ok := p.peek()
	if !ok || op.quoted || (op.s != "=" && op.s != "!=" && op.s != "eq" && op.s != "ne") {
		return nil, badFilter(p.expr, "want =, !=, eq or ne after "+t.s)
	}
	p.pos++
	v, ok := p.peek()
	if !ok || (!v.quoted && (v.s == "(" || v.s == ")" || v.s == "=" || v.s == "!=")) {
		return nil, badFilter(p.expr, "want a value after "+t.s+" "+op.s)
	}
	p.pos++
	f := &gceFilter{op: "cmp", field: t.s, cmp: op.s, value: v.s}
	if op.s == "eq" || op.s == "ne" {
		re, err := regexp.Compile("^(?:" + v.s + ")$")
		if err != nil {
			return nil, badFilter(p.expr, "bad regular expression")
		}
		f.re = re
	}
	return f, nil
}
