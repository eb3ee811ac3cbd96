package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// maxDepth matches encoding/json's nesting limit.
const maxDepth = 10000

// DecodeDocument decodes a JSON object into the form Match, IndexKeys and
// Compare work on: map[string]any, []any, string, json.Number, bool and nil.
// It gives exactly what encoding/json with UseNumber gives (later duplicate
// keys win, invalid UTF-8 becomes U+FFFD), several times faster, and fails
// on anything that is not a single valid JSON object.
func DecodeDocument(b []byte) (map[string]any, error) {
	p := decoder{b: b}
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return nil, errors.New("document is not a JSON object")
	}
	m, err := p.object(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, p.errorf("unexpected data after the object")
	}
	return m, nil
}

type decoder struct {
	b []byte
	i int
}

func (p *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *decoder) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *decoder) value(depth int) (any, error) {
	if p.i >= len(p.b) {
		return nil, p.errorf("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.string()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, p.errorf("unexpected character %q", p.b[p.i])
}

func (p *decoder) literal(word string) error {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return p.errorf("invalid literal")
	}
	p.i += len(word)
	return nil
}

func (p *decoder) object(depth int) (map[string]any, error) {
	if depth >= maxDepth {
		return nil, p.errorf("nested too deeply")
	}
	p.i++ // '{'
	m := map[string]any{}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.errorf("expected an object key")
		}
		k, err := p.string()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.errorf("expected ':'")
		}
		p.i++
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
		p.space()
		if p.i >= len(p.b) {
			return nil, p.errorf("unexpected end in object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return m, nil
		default:
			return nil, p.errorf("expected ',' or '}'")
		}
	}
}

func (p *decoder) array(depth int) ([]any, error) {
	if depth >= maxDepth {
		return nil, p.errorf("nested too deeply")
	}
	p.i++ // '['
	arr := []any{}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return arr, nil
	}
	for {
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		p.space()
		if p.i >= len(p.b) {
			return nil, p.errorf("unexpected end in array")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return arr, nil
		default:
			return nil, p.errorf("expected ',' or ']'")
		}
	}
}

// string decodes a string literal. Plain ASCII-or-valid-UTF-8 strings
// without escapes are sliced directly; anything else is handed to
// encoding/json so that escapes and invalid bytes decode identically.
func (p *decoder) string() (string, error) {
	start := p.i
	p.i++ // opening quote
	simple := true
	ascii := true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			body := p.b[start+1 : p.i-1]
			if simple && (ascii || utf8.Valid(body)) {
				return string(body), nil
			}
			var s string
			if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
				p.i = start
				return "", p.errorf("invalid string: %v", err)
			}
			return s, nil
		case c == '\\':
			simple = false
			p.i += 2
			continue
		case c < 0x20:
			return "", p.errorf("control character in string")
		case c >= 0x80:
			ascii = false
		}
		p.i++
	}
	return "", p.errorf("unterminated string")
}

// number checks the JSON number grammar and returns the literal.
func (p *decoder) number() (json.Number, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case digits() == 0:
		return "", p.errorf("invalid number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return "", p.errorf("invalid number")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return "", p.errorf("invalid number")
		}
	}
	return json.Number(p.b[start:p.i]), nil
}
