package query

import (
	"encoding/binary"
)

// Type tags, the first byte of every encoded value, in BSON order. Inside
// arrays and objects 0x00 ends the container and 0x01 starts an object pair,
// so every tag is above 0x01.
const (
	tagUnsupported byte = 0x02
	tagNull        byte = 0x05
	tagNumber      byte = 0x10
	tagString      byte = 0x20
	tagObject      byte = 0x30
	tagArray       byte = 0x40
	tagBool        byte = 0x50
)

var classTags = [...]byte{
	classUnsupported: tagUnsupported,
	classNull:        tagNull,
	classNumber:      tagNumber,
	classString:      tagString,
	classObject:      tagObject,
	classArray:       tagArray,
	classBool:        tagBool,
}

// EncodeKey returns an order-preserving, self-delimiting byte encoding of a
// decoded JSON value: bytes.Compare of two encodings has the sign of Compare
// of the values, and equal values (by Compare) encode identically. No
// encoding is a proper prefix of another, so index keys may append anything
// (such as a document id) after it and still sort by value first.
//
// Layout: a type tag in BSON order, then
//   - numbers: a sign byte, then for non-zero numbers the decimal exponent
//     (4 bytes, order-preserving) and the significant decimal digits ended by
//     a terminator, all bit-inverted for negative numbers. This is exact for
//     any JSON number, big integers and long fractions included.
//   - strings: the bytes with 0x00 escaped as 0x00 0xFF, ended by 0x00 0x01.
//   - objects: pairs in key order, each 0x01 + escaped key + encoded value,
//     ended by 0x00; arrays: encoded elements ended by 0x00.
//   - booleans: 0x00 or 0x01; null: the tag alone.
func EncodeKey(v any) []byte {
	return appendKey(nil, v)
}

func appendKey(b []byte, v any) []byte {
	c := classOf(v)
	b = append(b, classTags[c])
	switch c {
	case classNumber:
		b = appendDecimal(b, toDecimal(v))
	case classString:
		b = appendString(b, v.(string))
	case classObject:
		m := v.(map[string]any)
		for _, k := range sortedKeys(m) {
			b = append(b, 0x01)
			b = appendString(b, k)
			b = appendKey(b, m[k])
		}
		b = append(b, 0x00)
	case classArray:
		for _, e := range v.([]any) {
			b = appendKey(b, e)
		}
		b = append(b, 0x00)
	case classBool:
		if v.(bool) {
			b = append(b, 0x01)
		} else {
			b = append(b, 0x00)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0x00 {
			b = append(b, 0x00, 0xFF)
			continue
		}
		b = append(b, s[i])
	}
	return append(b, 0x00, 0x01)
}

func appendDecimal(b []byte, d decimal) []byte {
	switch d.kind {
	case kindNaN:
		return append(b, 0x00)
	case kindZero:
		return append(b, 0x02)
	}
	var e [4]byte
	binary.BigEndian.PutUint32(e[:], uint32(d.exp)^0x80000000)
	if d.kind == kindPos {
		b = append(b, 0x03)
		b = append(b, e[:]...)
		b = append(b, d.digits...)
		return append(b, 0x00)
	}
	// Negative: a larger magnitude must sort first, so invert everything and
	// end with 0xFF (above any inverted digit) so that a longer digit string
	// (larger magnitude, same prefix) sorts before a shorter one.
	b = append(b, 0x01)
	for _, x := range e {
		b = append(b, ^x)
	}
	for i := 0; i < len(d.digits); i++ {
		b = append(b, ^d.digits[i])
	}
	return append(b, 0xFF)
}

// prefixEnd returns the smallest byte string greater than every string that
// starts with p, or nil when there is none (p is all 0xFF).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
