package jsonapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseDecodeError(t *testing.T) {
	type body struct {
		N int `json:"n"`
		A struct {
			B bool `json:"b"`
		} `json:"a"`
	}
	tests := []struct {
		in   string
		want DecodeFailure
	}{
		{"", DecodeFailure{Kind: DecodeEmpty, Detail: "EOF"}},
		{`{"n":`, DecodeFailure{Kind: DecodeTruncated, Detail: "unexpected EOF"}},
		{`{"n":}`, DecodeFailure{Kind: DecodeSyntax, Offset: 6, Detail: "invalid character '}' looking for beginning of value"}},
		{`{"n":"x"}`, DecodeFailure{Kind: DecodeType, Field: "n", Want: "an integer", Got: "string", Detail: "cannot unmarshal string into Go struct field body.n of type int"}},
		{`{"a":{"b":1}}`, DecodeFailure{Kind: DecodeType, Field: "a.b", Want: "a boolean", Got: "number", Detail: "cannot unmarshal number into Go struct field .a.b of type bool"}},
		{`[]`, DecodeFailure{Kind: DecodeType, Want: "an object", Got: "array", Detail: "cannot unmarshal array into Go value of type jsonapi.body"}},
		{`{"zz":1}`, DecodeFailure{Kind: DecodeUnknownField, Field: `"zz"`, Detail: `unknown field "zz"`}},
	}
	for _, tt := range tests {
		dec := json.NewDecoder(strings.NewReader(tt.in))
		dec.DisallowUnknownFields()
		var b body
		err := dec.Decode(&b)
		if got := ParseDecodeError(err); got != tt.want {
			t.Errorf("ParseDecodeError(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	if got := ParseDecodeError(errors.New("read: connection reset")); got.Kind != DecodeNotJSON {
		t.Errorf("reader error: kind %v, want DecodeNotJSON", got.Kind)
	}
	if got := ParseDecodeError(errors.New("json: cannot unmarshal into raw")); got.Kind != DecodeOther || got.Detail != "cannot unmarshal into raw" {
		t.Errorf("other json error = %+v", got)
	}
}

func TestCheckText(t *testing.T) {
	tests := []struct {
		in, top string
		want    string // "" for no error
	}{
		{`{"a":"é","b":[{"c":1}]}`, "body", ""},
		{`{"a":1,"a":2}`, "body", `a: duplicate key "a" in one object; each key may appear once`},
		{`{"a":[{"c":1,"c":2}]}`, "body", `a[0].c: duplicate key "c"`},
		{"{\"a\":\"\xff\"}", "body", "a: string is not valid UTF-8: byte 0xff"},
		{`{"a":"\udc00"}`, "body", `a: string has an unpaired surrogate escape \udc00`},
		{"\"\xff\"", "invalid request body", "invalid request body: string is not valid UTF-8"},
	}
	for _, tt := range tests {
		err := CheckText([]byte(tt.in), tt.top)
		if tt.want == "" {
			if err != nil {
				t.Errorf("CheckText(%q) = %v, want nil", tt.in, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != 400 || !strings.HasPrefix(e.Message, tt.want) {
			t.Errorf("CheckText(%q, %q) = %v, want a 400 starting %q", tt.in, tt.top, err, tt.want)
		}
	}
}
