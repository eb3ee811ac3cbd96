// Package jsontext checks JSON text for what encoding/json accepts
// silently: strings that are not valid Unicode and objects with a key
// twice. The agent's API refuses both in every request body, and the CLI
// in every record it imports, so a stored document is always valid JSON
// with one value per key.
package jsontext

import (
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
	c.value("")
	c.space()
	if c.err == nil && c.i < len(c.b) {
		c.fail("", "more data after the JSON value at offset %d", c.i)
	}
	if c.err == nil {
		return nil
	}
	return c.err
}

// maxCheckDepth bounds the walk's recursion; encoding/json has refused
// anything deeper (its limit is 10000) before Check runs.
const maxCheckDepth = 10001

type checker struct {
	b     []byte
	i     int
	depth int
	err   *Error
}

func (c *checker) fail(path, format string, args ...any) {
	if c.err != nil {
		return
	}
	c.err = &Error{Path: path, Message: fmt.Sprintf(format, args...)}
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

func (c *checker) value(path string) {
	if c.err != nil {
		return
	}
	c.space()
	if c.i >= len(c.b) {
		c.fail(path, "JSON ends early")
		return
	}
	switch c.b[c.i] {
	case '{':
		c.object(path)
	case '[':
		c.array(path)
	case '"':
		if _, ok := c.str(path); !ok {
			return
		}
	default:
		// A number, true, false or null: syntax was checked already.
		start := c.i
		for c.i < len(c.b) && !strings.ContainsRune(",]} \t\n\r", rune(c.b[c.i])) {
			c.i++
		}
		if c.i == start {
			c.fail(path, "malformed JSON at offset %d", c.i)
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

func (c *checker) enter(path string) bool {
	c.depth++
	if c.depth > maxCheckDepth {
		c.fail(path, "nested more than %d levels", maxCheckDepth-1)
		return false
	}
	return true
}

func (c *checker) object(path string) {
	if !c.enter(path) {
		return
	}
	defer func() { c.depth-- }()
	c.i++ // {
	seen := map[string]bool{}
	for c.err == nil {
		c.space()
		if c.i < len(c.b) && c.b[c.i] == '}' {
			c.i++
			return
		}
		if c.i >= len(c.b) || c.b[c.i] != '"' {
			c.fail(path, "malformed object")
			return
		}
		key, ok := c.str(path)
		if !ok {
			return
		}
		kp := memberPath(path, key)
		if seen[key] {
			c.fail(kp, "duplicate key %q in one object; each key may appear once", key)
			return
		}
		seen[key] = true
		c.space()
		if c.i >= len(c.b) || c.b[c.i] != ':' {
			c.fail(path, "malformed object")
			return
		}
		c.i++
		c.value(kp)
		if !c.next('}') {
			c.fail(path, "malformed object at offset %d", c.i)
		}
	}
}

func (c *checker) array(path string) {
	if !c.enter(path) {
		return
	}
	defer func() { c.depth-- }()
	c.i++ // [
	for n := 0; c.err == nil; n++ {
		c.space()
		if c.i < len(c.b) && c.b[c.i] == ']' {
			c.i++
			return
		}
		if c.i >= len(c.b) {
			c.fail(path, "JSON ends early")
			return
		}
		c.value(path + "[" + strconv.Itoa(n) + "]")
		if !c.next(']') {
			c.fail(path, "malformed array at offset %d", c.i)
		}
	}
}

// str reads a string at c.i (its opening quote) and returns it unescaped.
// path names the value for errors; for a key it is the enclosing object's.
func (c *checker) str(path string) (string, bool) {
	start := c.i
	c.i++ // "
	var sb strings.Builder
	for c.i < len(c.b) {
		ch := c.b[c.i]
		switch {
		case ch == '"':
			c.i++
			return sb.String(), true
		case ch == '\\':
			if c.i+1 >= len(c.b) {
				c.fail(path, "JSON ends early")
				return "", false
			}
			if c.b[c.i+1] != 'u' {
				sb.WriteByte(unescapeByte(c.b[c.i+1]))
				c.i += 2
				continue
			}
			r, ok := c.hex4(c.i + 2)
			if !ok {
				c.fail(path, "malformed \\u escape in string at byte %d", c.i)
				return "", false
			}
			c.i += 6
			if utf16.IsSurrogate(r) {
				lo, ok := rune(0), false
				if r < 0xdc00 && c.i+1 < len(c.b) && c.b[c.i] == '\\' && c.b[c.i+1] == 'u' {
					lo, ok = c.hex4(c.i + 2)
				}
				if !ok || lo < 0xdc00 || lo > 0xdfff {
					c.fail(path, "string has an unpaired surrogate escape \\u%04x at offset %d: not valid Unicode", r, c.i-6)
					return "", false
				}
				c.i += 6
				r = utf16.DecodeRune(r, lo)
			}
			sb.WriteRune(r)
		case ch < utf8.RuneSelf:
			sb.WriteByte(ch)
			c.i++
		default:
			r, n := utf8.DecodeRune(c.b[c.i:])
			if r == utf8.RuneError && n <= 1 {
				after := ""
				if c.i > start+1 {
					after = " after " + clipRaw(c.b[start+1:c.i])
				}
				c.fail(path, "string is not valid UTF-8: byte 0x%02x at offset %d%s", ch, c.i, after)
				return "", false
			}
			sb.Write(c.b[c.i : c.i+n])
			c.i += n
		}
	}
	c.fail(path, "JSON ends early")
	return "", false
}

func (c *checker) hex4(at int) (rune, bool) {
	if at+4 > len(c.b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(c.b[at:at+4]), 16, 32)
	return rune(n), err == nil
}

func unescapeByte(ch byte) byte {
	switch ch {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return ch // " \ /
}

// memberPath appends key to path: .key for a plain name, ["key"] otherwise.
func memberPath(path, key string) string {
	plain := key != ""
	for _, r := range key {
		if !(r == '_' || r == '$' || r == '-' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			plain = false
			break
		}
	}
	if !plain {
		if len(key) > 64 {
			key = key[:64] + "..."
		}
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// clipRaw shows the end of a raw JSON string for a message, quoted (so
// invalid bytes are escaped), at most 40 bytes.
func clipRaw(b []byte) string {
	if len(b) > 40 {
		b = b[len(b)-40:]
	}
	return strconv.Quote(string(b))
}
