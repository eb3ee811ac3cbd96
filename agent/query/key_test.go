package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"
)

// randValue returns a random JSON value (as decoded with UseNumber) of at
// most the given nesting depth, drawn from a small domain so that equal and
// close values are frequent.
func randValue(r *rand.Rand, depth int) any {
	n := 7
	if depth <= 0 {
		n = 5
	}
	switch r.IntN(n) {
	case 0:
		return nil
	case 1:
		return randNumber(r)
	case 2:
		strs := []string{"", "a", "ab", "b", "a\x00", "a\x00b", "\x00", "\xff", "é", "Z"}
		return strs[r.IntN(len(strs))]
	case 3:
		return r.IntN(2) == 0
	case 4:
		return randNumber(r)
	case 5:
		arr := make([]any, r.IntN(4))
		for i := range arr {
			arr[i] = randValue(r, depth-1)
		}
		return arr
	default:
		m := map[string]any{}
		keys := []string{"a", "b", "ab", "", "a\x00"}
		for range r.IntN(4) {
			m[keys[r.IntN(len(keys))]] = randValue(r, depth-1)
		}
		return m
	}
}

func randNumber(r *rand.Rand) json.Number {
	switch r.IntN(6) {
	case 0:
		return json.Number(strconv.Itoa(r.IntN(21) - 10))
	case 1:
		return json.Number(strconv.FormatFloat(float64(r.IntN(41)-20)/4, 'f', -1, 64))
	case 2:
		return json.Number(fmt.Sprintf("%de%d", r.IntN(21)-10, r.IntN(7)-3))
	case 3:
		base := []string{"9007199254740992", "9007199254740993", "-9007199254740993", "18446744073709551616"}
		return json.Number(base[r.IntN(len(base))])
	case 4:
		return json.Number(fmt.Sprintf("%d.%03d", r.IntN(5)-2, r.IntN(1000)))
	}
	return json.Number(strconv.FormatFloat(r.NormFloat64()*1e6, 'g', -1, 64))
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

func checkKeyOrder(t *testing.T, a, b any) {
	t.Helper()
	ka, kb := EncodeKey(a), EncodeKey(b)
	if c, k := Compare(a, b), sign(bytes.Compare(ka, kb)); c != k {
		t.Fatalf("Compare(%s, %s) = %d but keys compare %d (%x vs %x)", render(a), render(b), c, k, ka, kb)
	}
	// Self-delimiting: neither encoding is a proper prefix of the other.
	if len(ka) != len(kb) && (bytes.HasPrefix(ka, kb) || bytes.HasPrefix(kb, ka)) {
		t.Fatalf("EncodeKey(%s) = %x and EncodeKey(%s) = %x: one is a prefix of the other", render(a), ka, render(b), kb)
	}
}

func TestEncodeKeyOrderRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		checkKeyOrder(t, randValue(r, 3), randValue(r, 3))
	}
}

func TestEncodeKeySortsLikeCompare(t *testing.T) {
	texts := []string{
		"null", "-1e400", "-18446744073709551617", "-9007199254740993", "-9007199254740992",
		"-100", "-12.5", "-12", "-1.5", "-1", "-0.001", "0", "1e-400", "0.001", "0.1", "1",
		"1.5", "12", "12.5", "100", "9007199254740992", "9007199254740993", "1e400",
		`""`, `"\u0000"`, `"a"`, `"a\u0000"`, `"a\u0000b"`, `"ab"`, `"b"`,
		`{}`, `{"":null}`, `{"a":1}`, `{"a":1,"b":2}`, `{"a":2}`, `{"b":0}`,
		`[]`, `[null]`, `[1]`, `[1,2]`, `[1,"a"]`, `[2]`, `[[]]`, `[true]`,
		"false", "true",
	}
	vals := make([]any, len(texts))
	keys := make([][]byte, len(texts))
	for i, s := range texts {
		vals[i] = mustJSON(t, s)
		keys[i] = EncodeKey(vals[i])
	}
	for i := 1; i < len(vals); i++ {
		if Compare(vals[i-1], vals[i]) >= 0 {
			t.Errorf("Compare(%s, %s) >= 0, want < 0", texts[i-1], texts[i])
		}
	}
	sorted := append([][]byte(nil), keys...)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i], sorted[j]) < 0 })
	for i := range keys {
		if !bytes.Equal(sorted[i], keys[i]) {
			t.Fatalf("keys not in value order at %d (%s)", i, texts[i])
		}
	}
}

func TestEncodeKeyEqualSpellings(t *testing.T) {
	groups := [][]string{
		{"1", "1.0", "1e0", "10e-1", "0.1e1"},
		{"0", "-0", "0.0e10"},
		{`{"a":1,"b":[2]}`, `{"b":[2.0],"a":1e0}`},
	}
	for _, g := range groups {
		want := EncodeKey(mustJSON(t, g[0]))
		for _, s := range g[1:] {
			if got := EncodeKey(mustJSON(t, s)); !bytes.Equal(got, want) {
				t.Errorf("EncodeKey(%s) = %x, want %x (as %s)", s, got, want, g[0])
			}
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct{ in, want []byte }{
		{[]byte{1, 2}, []byte{1, 3}},
		{[]byte{1, 0xFF}, []byte{2}},
		{[]byte{0xFF}, nil},
	}
	for _, tt := range tests {
		if got := prefixEnd(tt.in); !bytes.Equal(got, tt.want) {
			t.Errorf("prefixEnd(%x) = %x, want %x", tt.in, got, tt.want)
		}
	}
}
