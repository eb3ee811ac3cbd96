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
