package jsonapi

import (
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/aerolithdb/aerolith/internal/jsontext"
)

// DecodeKind sorts what encoding/json said of a request body.
type DecodeKind int

// What went wrong decoding a body.
const (
	// DecodeNotJSON: not an encoding/json error (a reader failure such as
	// *http.MaxBytesError, or an error a json.Unmarshaler returned).
	DecodeNotJSON      DecodeKind = iota
	DecodeEmpty                   // no value at all (io.EOF)
	DecodeTruncated               // the value ends early (io.ErrUnexpectedEOF)
	DecodeSyntax                  // malformed JSON at Offset
	DecodeType                    // a value of the wrong JSON type for Field
	DecodeUnknownField            // Field is not a field of the body
	DecodeOther                   // another "json: ..." error, Detail says which
)

// DecodeFailure is an encoding/json error taken apart, so that each API
// words its 400 its own way with the same facts.
type DecodeFailure struct {
	Kind DecodeKind
	// Offset is the byte of a syntax error.
	Offset int64
	// Field is the dotted path of a DecodeType error ("" when the whole
	// body has the wrong type) or, quoted as encoding/json gives it, the
	// unknown field.
	Field string
	// Want (e.g. "an integer") and Got (e.g. "string") describe a
	// DecodeType error.
	Want, Got string
	// Detail is the error's text without its "json: " prefix.
	Detail string
}

// ParseDecodeError takes apart err, returned by a json.Decoder's Decode.
func ParseDecodeError(err error) DecodeFailure {
	f := DecodeFailure{Detail: strings.TrimPrefix(err.Error(), "json: ")}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		f.Kind = DecodeEmpty
	case errors.Is(err, io.ErrUnexpectedEOF):
		f.Kind = DecodeTruncated
	case errors.As(err, &se):
		f.Kind, f.Offset = DecodeSyntax, se.Offset
		f.Detail = strings.TrimPrefix(se.Error(), "json: ")
	case errors.As(err, &te):
		f.Kind, f.Field, f.Got = DecodeType, te.Field, te.Value
		f.Want = jsonKind(te.Type.Kind().String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f.Kind, f.Field = DecodeUnknownField, strings.TrimPrefix(err.Error(), "json: unknown field ")
	case strings.HasPrefix(err.Error(), "json: "):
		f.Kind = DecodeOther
	}
	return f
}

// jsonKind names a Go kind the way a JSON user thinks of it.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return k
}

// CheckText refuses a request body, which encoding/json has decoded, whose
// strings are not valid Unicode or whose objects have a key twice: what
// encoding/json lets through silently (it keeps the last of two keys and
// turns bytes that are not UTF-8 into U+FFFD; see jsontext.Check). The
// error is a 400 naming the JSON path of the offending value, or starting
// with top ("body", "invalid request body") when it is the body itself.
func CheckText(body []byte, top string) error {
	err := jsontext.Check(body)
	var je *jsontext.Error
	if !errors.As(err, &je) {
		return err
	}
	return Invalid("%s", je.Within(top))
}
