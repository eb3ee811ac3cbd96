// Package jsontext checks JSON text for what encoding/json accepts
// silently: strings that are not valid Unicode and objects with a key
// twice. The agent's API refuses both in every request body, and the CLI
// in every record it imports, so a stored document is always valid JSON
// with one value per key.
package jsontext

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Error is a problem Check found: Path is the JSON path of the offending
// value ("" for the top level), Message says what is wrong.
type Error struct {
	Path    string
	Message string
}

// Error returns "path: message", or the message alone at the top level.
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// Within returns "path: message", or "top: message" at the top level,
// where top names the whole text for the reader ("body").
func (e *Error) Within(top string) string {
	if e.Path == "" {
		return top + ": " + e.Message
	}
	return e.Path + ": " + e.Message
}

// Check walks one JSON text whose syntax encoding/json has accepted and
// refuses what encoding/json lets through silently:
//   - a string (value or key) that is not valid Unicode: invalid UTF-8
//     bytes, which would be stored as they are and make every later answer
//     that contains them invalid JSON, or an unpaired surrogate escape
//     ("\ud800"), which no UTF-8 text can hold;
//   - an object with the same key twice ({"a":1,"a":2}), of which
//     encoding/json keeps the last one and a stored document keeps both.
//
// The error is an *Error naming the JSON path of the offending value:
// "data.a", "operations[2].data.tags[0]", `filter["a b"]`. Text that is
// not valid JSON gets an error too, but encoding/json's is the better one.
func Check(b []byte) error {
	c := checker{b: b}
	c.value()
	c.space()
	if c.err == nil && c.i < len(c.b) {
		c.fail("more data after the JSON value at offset %d", c.i)
	}
	if c.err == nil {
		return nil
	}
	return c.err
}

// maxCheckDepth bounds the walk's recursion; encoding/json has refused
// anything deeper (its limit is 10000) before Check runs.
const maxCheckDepth = 10001

// smallObject is how many keys an object may have before duplicates are
// looked up in a map rather than by comparing with each key seen.
const smallObject = 16

type checker struct {
	b   []byte
	i   int
	err *Error
	// path is where the walk is: one step per enclosing member or element,
	// turned into text only for an error.
	path []step
}

// step is one level of the path: an object member (key) or an array
// element (index, when isIndex).
type step struct {
	key     []byte
	index   int
	isIndex bool
}

func (c *checker) fail(format string, args ...any) {
	if c.err != nil {
		return
	}
	var sb strings.Builder
	for _, st := range c.path {
		switch {
		case st.isIndex:
			sb.WriteString("[" + strconv.Itoa(st.index) + "]")
		case plainKey(string(st.key)):
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			sb.Write(st.key)
		default:
			key := string(st.key)
			if len(key) > 64 {
				key = key[:64] + "..."
			}
			sb.WriteString("[" + strconv.Quote(key) + "]")
		}
	}
	c.err = &Error{Path: sb.String(), Message: fmt.Sprintf(format, args...)}
}

// plainKey reports whether a key can follow a dot in a path.
func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for _, r := range key {
		if !(r == '_' || r == '$' || r == '-' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

func (c *checker) space() {
	for c.i < len(c.b) {
		switch c.b[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

func (c *checker) value() {
	if c.err != nil {
		return
	}
	c.space()
	if c.i >= len(c.b) {
		c.fail("JSON ends early")
		return
	}
	switch c.b[c.i] {
	case '{':
		c.object()
	case '[':
		c.array()
	case '"':
		c.str(false)
	default:
		// A number, true, false or null: syntax was checked already.
		start := c.i
		for c.i < len(c.b) && !strings.ContainsRune(",]} \t\n\r", rune(c.b[c.i])) {
			c.i++
		}
		if c.i == start {
			c.fail("malformed JSON at offset %d", c.i)
		}
	}
}

// next skips the separator after a member or element: it reports whether
// a ',' (consumed) or the closing byte (left for the loop) follows.
func (c *checker) next(closing byte) bool {
	c.space()
	if c.i < len(c.b) && c.b[c.i] == ',' {
		c.i++
		return true
	}
	return c.i < len(c.b) && c.b[c.i] == closing
}

func (c *checker) enter() bool {
	if len(c.path) >= maxCheckDepth {
		c.fail("nested more than %d levels", maxCheckDepth-1)
		return false
	}
	return true
}

func (c *checker) object() {
	if !c.enter() {
		return
	}
	c.i++ // {
	var keys [][]byte
	var seen map[string]bool
	for c.err == nil {
		c.space()
		if c.i < len(c.b) && c.b[c.i] == '}' {
			c.i++
			return
		}
		if c.i >= len(c.b) || c.b[c.i] != '"' {
			c.fail("malformed object at offset %d", c.i)
			return
		}
		key, ok := c.str(true)
		if !ok {
			return
		}
		dup := false
		if seen == nil {
			for _, k := range keys {
				dup = dup || bytes.Equal(k, key)
			}
			keys = append(keys, key)
			if len(keys) > smallObject {
				seen = make(map[string]bool, 2*len(keys))
				for _, k := range keys {
					seen[string(k)] = true
				}
			}
		} else {
			dup = seen[string(key)]
			seen[string(key)] = true
		}
		c.path = append(c.path, step{key: key})
		if dup {
			c.fail("duplicate key %q in one object; each key may appear once", key)
			return
		}
		c.space()
		if c.i >= len(c.b) || c.b[c.i] != ':' {
			c.path = c.path[:len(c.path)-1]
			c.fail("malformed object at offset %d", c.i)
			return
		}
		c.i++
		c.value()
		if c.err != nil {
			return
		}
		c.path = c.path[:len(c.path)-1]
		if !c.next('}') {
			c.fail("malformed object at offset %d", c.i)
		}
	}
}

func (c *checker) array() {
	if !c.enter() {
		return
	}
	c.i++ // [
	for n := 0; c.err == nil; n++ {
		c.space()
		if c.i < len(c.b) && c.b[c.i] == ']' {
			c.i++
			return
		}
		if c.i >= len(c.b) {
			c.fail("JSON ends early")
			return
		}
		c.path = append(c.path, step{index: n, isIndex: true})
		c.value()
		if c.err != nil {
			return
		}
		c.path = c.path[:len(c.path)-1]
		if !c.next(']') {
			c.fail("malformed array at offset %d", c.i)
		}
	}
}

// str checks the string at c.i (its opening quote) and moves past it.
// With want it returns the string unescaped (a key: a slice of the text
// unless it has escapes); the error of a key names the enclosing object.
func (c *checker) str(want bool) ([]byte, bool) {
	start := c.i
	c.i++ // "
	escaped := false
	for c.i < len(c.b) {
		ch := c.b[c.i]
		switch {
		case ch == '"':
			c.i++
			if !want {
				return nil, true
			}
			if !escaped {
				return c.b[start+1 : c.i-1], true
			}
			var s string
			if err := json.Unmarshal(c.b[start:c.i], &s); err != nil {
				c.fail("malformed string at offset %d", start)
				return nil, false
			}
			return []byte(s), true
		case ch == '\\':
			escaped = true
			if c.i+1 >= len(c.b) {
				c.fail("JSON ends early")
				return nil, false
			}
			if c.b[c.i+1] != 'u' {
				c.i += 2
				continue
			}
			r, ok := c.hex4(c.i + 2)
			if !ok {
				c.fail("malformed \\u escape in string at byte %d", c.i)
				return nil, false
			}
			c.i += 6
			if utf16.IsSurrogate(r) {
				lo, ok := rune(0), false
				if r < 0xdc00 && c.i+1 < len(c.b) && c.b[c.i] == '\\' && c.b[c.i+1] == 'u' {
					lo, ok = c.hex4(c.i + 2)
				}
				if !ok || lo < 0xdc00 || lo > 0xdfff {
					c.fail("string has an unpaired surrogate escape \\u%04x at offset %d: not valid Unicode", r, c.i-6)
					return nil, false
				}
				c.i += 6
			}
		case ch < utf8.RuneSelf:
			c.i++
		default:
			r, n := utf8.DecodeRune(c.b[c.i:])
			if r == utf8.RuneError && n <= 1 {
				after := ""
				if c.i > start+1 {
					after = " after " + clipRaw(c.b[start+1:c.i])
				}
				c.fail("string is not valid UTF-8: byte 0x%02x at offset %d%s", ch, c.i, after)
				return nil, false
			}
			c.i += n
		}
	}
	c.fail("JSON ends early")
	return nil, false
}

func (c *checker) hex4(at int) (rune, bool) {
	if at+4 > len(c.b) {
		return 0, false
	}
	var r rune
	for _, h := range c.b[at : at+4] {
		switch {
		case '0' <= h && h <= '9':
			r = r<<4 | rune(h-'0')
		case 'a' <= h && h <= 'f':
			r = r<<4 | rune(h-'a'+10)
		case 'A' <= h && h <= 'F':
			r = r<<4 | rune(h-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// clipRaw shows the end of a raw JSON string for a message, quoted (so
// invalid bytes are escaped), at most 40 bytes.
func clipRaw(b []byte) string {
	if len(b) > 40 {
		b = b[len(b)-40:]
	}
	return strconv.Quote(string(b))
}
