package jsontext

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		in       string
		wantPath string
		wantMsg  string // substring; "" means accepted
	}{
		{`{"a":1,"b":[true,null,"x",{"c":"ü"}],"d":{}}`, "", ""},
		{`{"e":"\ud83d\ude00","f":"\u00e9\"\\\/\b\f\n\r\t","g":-1.5e3}`, "", ""},
		{` [ 1 , "a" ] `, "", ""},
		{`"\uFFFD"`, "", ""},
		{"{\"a\":\"\xff\"}", "a", "not valid UTF-8: byte 0xff at offset 6"},
		{"{\"a\":{\"b\":[\"ok\",\"x\xc3\"]}}", "a.b[1]", `not valid UTF-8: byte 0xc3 at offset 18 after "x"`},
		{"{\"k\xe2\x82\":1}", "", "not valid UTF-8"},
		{"\"\xed\xa0\x80\"", "", "not valid UTF-8"}, // a surrogate encoded as UTF-8
		{`{"a":"\ud800"}`, "a", `unpaired surrogate escape \ud800 at offset 6`},
		{`{"a":"\ud800\u0041"}`, "a", "unpaired surrogate"},
		{`{"a":"\udc00"}`, "a", "unpaired surrogate"},
		{`{"a":"x\ud83d"}`, "a", "unpaired surrogate"},
		{`{"a":1,"a":2}`, "a", `duplicate key "a"`},
		{`{"a":1,"\u0061":2}`, "a", `duplicate key "a"`},
		{`{"x":[{"y":{"z":1,"z":1}}]}`, "x[0].y.z", `duplicate key "z"`},
		{`{"a b":1,"a b":2}`, `["a b"]`, `duplicate key "a b"`},
		{`{"$in":1,"$in":2}`, "$in", "duplicate key"},
		{`{"":1,"":2}`, `[""]`, "duplicate key"},
		{`{"a":1} x`, "", "more data after the JSON value"},
	}
	for _, tt := range tests {
		err := Check([]byte(tt.in))
		if tt.wantMsg == "" {
			if err != nil {
				t.Errorf("Check(%q) = %v, want nil", tt.in, err)
			}
			continue
		}
		var je *Error
		if !errors.As(err, &je) {
			t.Errorf("Check(%q) = %v, want an *Error", tt.in, err)
			continue
		}
		if je.Path != tt.wantPath || !strings.Contains(je.Message, tt.wantMsg) {
			t.Errorf("Check(%q) = path %q message %q, want path %q message containing %q", tt.in, je.Path, je.Message, tt.wantPath, tt.wantMsg)
		}
		if !utf8.ValidString(je.Error()) {
			t.Errorf("Check(%q) error %q is not valid UTF-8", tt.in, je.Error())
		}
	}
}

// FuzzCheck holds Check to an oracle that walks encoding/json's tokens: text
// Check accepts is valid UTF-8 without duplicate keys or strings that
// decode to U+FFFD without spelling it; text it refuses breaks one of
// those rules.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[true,null,"x",{"c":"ü"}]}`, `{"a":1,"a":2}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"a":{"b":1,"\u0062":2}}`,
		`"\ud83d\ude00"`, `[{"":1},{"":1}]`, `{"x":"\uFFFD"}`, `{"a":"\udc00\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			_ = Check(b) // must not panic
			return
		}
		err := Check(b)
		clean := oracle(b)
		if clean && err != nil && strings.Contains(err.Error(), "unpaired surrogate") && bytes.ContainsRune(b, utf8.RuneError) {
			return // the oracle cannot tell an unpaired surrogate from a U+FFFD the text spells
		}
		if (err == nil) != clean {
			t.Fatalf("Check(%q) = %v, oracle says clean = %v", b, err, clean)
		}
		var je *Error
		if err != nil && (!errors.As(err, &je) || je.Message == "" || !utf8.ValidString(je.Error())) {
			t.Fatalf("Check(%q) = %#v, want an *Error with a valid UTF-8 message", b, err)
		}
	})
}

// oracle reports whether b (valid JSON) is valid UTF-8, has no object with
// a key twice and no string that decodes to U+FFFD unless the text has one
// (spelled or escaped): encoding/json decodes an unpaired surrogate escape
// to U+FFFD.
func oracle(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	hasFFFD := bytes.ContainsRune(b, utf8.RuneError) || strings.Contains(strings.ToLower(string(b)), `\ufffd`)
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool
	}
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top != nil && top.object {
					top.key = true
				}
				stack = append(stack, &frame{object: d == '{', keys: map[string]bool{}, key: d == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if s, ok := tok.(string); ok {
			if !hasFFFD && strings.ContainsRune(s, utf8.RuneError) {
				return false
			}
			if top != nil && top.object && top.key {
				if top.keys[s] {
					return false
				}
				top.keys[s] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.object {
			top.key = true
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	doc := []byte(`{"data":{"name":"Ada Lovelace","email":"ada@example.com","age":36,"tags":["math","engines","poetry"],` +
		`"address":{"city":"London","street":"St James's Square","zip":"SW1Y"},"bio":"Wrote the first program for the Analytical Engine \u00e9\ud83d\ude00",` +
		`"scores":[1,2,3,4,5,6,7,8,9,10],"active":true,"ratio":0.75,"notes":null}}`)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Check(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalForComparison(b *testing.B) {
	doc := []byte(`{"data":{"name":"Ada Lovelace","email":"ada@example.com","age":36,"tags":["math","engines","poetry"],` +
		`"address":{"city":"London","street":"St James's Square","zip":"SW1Y"},"bio":"Wrote the first program for the Analytical Engine \u00e9\ud83d\ude00",` +
		`"scores":[1,2,3,4,5,6,7,8,9,10],"active":true,"ratio":0.75,"notes":null}}`)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		var v struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(doc, &v); err != nil {
			b.Fatal(err)
		}
	}
}
