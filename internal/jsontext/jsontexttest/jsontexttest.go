// Package jsontexttest checks, for the fuzz targets of the strict JSON
// decoders, what jsontext.Check promises of the text they accept.
package jsontexttest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// Clean fails t unless raw has what jsontext.Check guarantees of the text
// it accepts, found by another route than Check, so that the fuzz targets
// of the decoders that use Check test them against it: the text is valid
// UTF-8, no object has a key twice, and no string holds an unpaired
// surrogate escape (decoding it yields U+FFFD, which the raw text then
// lacks).
func Clean(t testing.TB, raw []byte) {
	t.Helper()
	if !utf8.Valid(raw) {
		t.Fatalf("accepted invalid UTF-8: %q", raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next token of an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				if top != nil && top.object {
					top.key = true
				}
				stack = append(stack, &frame{object: true, keys: map[string]bool{}, key: true})
			case '[':
				if top != nil && top.object {
					top.key = true
				}
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if strings.ContainsRune(v, utf8.RuneError) && !strings.Contains(strings.ToLower(string(raw)), `\ufffd`) && !strings.ContainsRune(string(raw), utf8.RuneError) {
				t.Fatalf("accepted a string that decodes to U+FFFD without containing it: %q", raw)
			}
			if top != nil && top.object && top.key {
				if top.keys[v] {
					t.Fatalf("accepted duplicate key %q: %q", v, raw)
				}
				top.keys[v] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.object {
			top.key = true
		}
	}
}
