package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func stdDecode(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return m, nil
}

var decodeCases = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":-0.5e+10,"b":[1,2,{"c":null}],"d":true,"e":false}`,
	`{"a":"x\"y\\z\/\b\f\n\r\t\u00e9\ud83d\ude00"}`, `{"a":"\ud800"}`, `{"a":"é日本"}`,
	"{\"a\":\"\xff\xfe\"}", `{"a":1,"a":2}`, `{"":[]}`, `{"a":[[],[[]],{}]}`, `{"n":9007199254740993}`,
	`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":+1}`, `{"a":tru}`, `{"a":nul}`,
	`{"a":"x`, `{"a" 1}`, `{"a":1,}`, `{,}`, `{"a":[1,]}`, `{"a":[1 2]}`, `[]`, `"x"`, ``, `{} x`, `{}{}`,
	"{\"a\":\"\x01\"}", `{"a":"\x"}`, `{"a":"\u12"}`, `{1:2}`, `{"a":1`, `{"a":[`, `  `,
}

func TestDecodeDocumentMatchesEncodingJSON(t *testing.T) {
	for _, s := range decodeCases {
		checkDecode(t, []byte(s))
	}
	deep := strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001)
	if _, err := DecodeDocument([]byte(deep)); err == nil {
		t.Error("DecodeDocument accepted nesting deeper than 10000")
	}
}

func checkDecode(t *testing.T, b []byte) {
	t.Helper()
	want, werr := stdDecode(b)
	got, gerr := DecodeDocument(b)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("DecodeDocument(%q) error = %v, encoding/json error = %v", b, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeDocument(%q) = %#v, encoding/json = %#v", b, got, want)
	}
}

func FuzzDecodeDocument(f *testing.F) {
	for _, s := range decodeCases {
		f.Add([]byte(s))
	}
	f.Add([]byte(testDoc))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, b)
	})
}

func BenchmarkDecodeDocument(b *testing.B) {
	doc := []byte(testDoc)
	b.Run("query", func(b *testing.B) {
		for range b.N {
			if _, err := DecodeDocument(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for range b.N {
			if _, err := stdDecode(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
