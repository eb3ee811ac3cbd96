package query

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
)

// Type classes in MongoDB's BSON comparison order. Values of different
// classes compare by class; range operators only match within a class.
const (
	classUnsupported = iota // Go values that are not JSON (never produced by decoding)
	classNull
	classNumber
	classString
	classObject
	classArray
	classBool
)

// classOf returns the type class of a decoded JSON value.
func classOf(v any) int {
	switch v.(type) {
	case nil:
		return classNull
	case json.Number, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return classNumber
	case string:
		return classString
	case map[string]any:
		return classObject
	case []any:
		return classArray
	case bool:
		return classBool
	}
	return classUnsupported
}

// Compare orders two decoded JSON values the way MongoDB sorts them: first by
// type class (null < numbers < strings < objects < arrays < booleans), then
// within the class. Numbers compare exactly by value whatever their spelling
// ("1", "1.0" and "1e0" are equal; integers beyond 2^53 keep every digit).
// Strings compare bytewise. Objects compare pair by pair in key order (keys
// bytewise, then values), arrays element by element; a prefix sorts first.
// false < true. It returns -1, 0 or +1.
//
// Values are what encoding/json produces (preferably with UseNumber); Go
// integer and float types are accepted as numbers. Compare agrees with
// EncodeKey: sign(Compare(a, b)) == sign(bytes.Compare(EncodeKey(a), EncodeKey(b))).
func Compare(a, b any) int {
	ca, cb := classOf(a), classOf(b)
	if ca != cb {
		return cmpInt(ca, cb)
	}
	switch ca {
	case classNumber:
		return compareDecimal(toDecimal(a), toDecimal(b))
	case classString:
		return cmpString(a.(string), b.(string))
	case classObject:
		return compareObjects(a.(map[string]any), b.(map[string]any))
	case classArray:
		x, y := a.([]any), b.([]any)
		for i := 0; i < len(x) && i < len(y); i++ {
			if c := Compare(x[i], y[i]); c != 0 {
				return c
			}
		}
		return cmpInt(len(x), len(y))
	case classBool:
		x, y := a.(bool), b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	}
	return 0 // null == null; unsupported values are all equal
}

func compareObjects(x, y map[string]any) int {
	kx, ky := sortedKeys(x), sortedKeys(y)
	for i := 0; i < len(kx) && i < len(ky); i++ {
		if c := cmpString(kx[i], ky[i]); c != 0 {
			return c
		}
		if c := Compare(x[kx[i]], y[ky[i]]); c != 0 {
			return c
		}
	}
	return cmpInt(len(kx), len(ky))
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// decimal is the exact, normalised form of a number:
// value = sign × 0.digits × 10^exp, digits without leading or trailing zeros.
type decimal struct {
	kind   int8 // kindNaN, kindNeg, kindZero or kindPos
	exp    int32
	digits string
}

const (
	kindNaN int8 = iota // unparsable numbers and float NaN: below every other number
	kindNeg
	kindZero
	kindPos
)

// Exponents are clamped to this range; numbers beyond it (their JSON text
// would need an exponent of more than nine digits) compare by their clamped
// value.
const (
	maxExp = math.MaxInt32
	minExp = math.MinInt32 + 1
)

// toDecimal converts a number of any supported Go type to its decimal form.
func toDecimal(v any) decimal {
	switch n := v.(type) {
	case json.Number:
		return parseDecimal(string(n))
	case float64:
		return floatDecimal(n)
	case float32:
		return floatDecimal(float64(n))
	case int:
		return parseDecimal(strconv.FormatInt(int64(n), 10))
	case int8:
		return parseDecimal(strconv.FormatInt(int64(n), 10))
	case int16:
		return parseDecimal(strconv.FormatInt(int64(n), 10))
	case int32:
		return parseDecimal(strconv.FormatInt(int64(n), 10))
	case int64:
		return parseDecimal(strconv.FormatInt(n, 10))
	case uint:
		return parseDecimal(strconv.FormatUint(uint64(n), 10))
	case uint8:
		return parseDecimal(strconv.FormatUint(uint64(n), 10))
	case uint16:
		return parseDecimal(strconv.FormatUint(uint64(n), 10))
	case uint32:
		return parseDecimal(strconv.FormatUint(uint64(n), 10))
	case uint64:
		return parseDecimal(strconv.FormatUint(n, 10))
	}
	return decimal{kind: kindNaN}
}

func floatDecimal(f float64) decimal {
	switch {
	case math.IsNaN(f):
		return decimal{kind: kindNaN}
	case math.IsInf(f, 1):
		return decimal{kind: kindPos, exp: maxExp, digits: "1"}
	case math.IsInf(f, -1):
		return decimal{kind: kindNeg, exp: maxExp, digits: "1"}
	}
	return parseDecimal(strconv.FormatFloat(f, 'e', -1, 64))
}

// parseDecimal parses a JSON number (leniently: a leading '+' and a missing
// integer part are tolerated) into its exact normalised form. Text that is not
// a number yields kindNaN. It does not allocate unless the significant digits
// straddle a decimal point.
func parseDecimal(s string) decimal {
	neg := false
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	point := -1           // index of '.' in s
	first, last := -1, -1 // indexes of the first and last non-zero digits
	sawDigit := false
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			sawDigit = true
			if c != '0' {
				if first < 0 {
					first = i
				}
				last = i
			}
			continue
		}
		if c == '.' && point < 0 {
			point = i
			continue
		}
		break
	}
	if !sawDigit {
		return decimal{kind: kindNaN}
	}
	if point < 0 {
		point = i
	}
	var e10 int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			eneg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return decimal{kind: kindNaN}
		}
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return decimal{kind: kindNaN}
			}
			if e10 < 1<<40 { // saturate: anything this large is clamped below
				e10 = e10*10 + int64(c-'0')
			}
		}
		if eneg {
			e10 = -e10
		}
	}
	if i != len(s) {
		return decimal{kind: kindNaN}
	}
	if first < 0 {
		return decimal{kind: kindZero}
	}
	// value = 0.d1d2... × 10^exp, exp counting the digits from the first
	// significant one to the point.
	var exp int64
	if first < point {
		exp = int64(point - first)
	} else {
		exp = -int64(first - point - 1)
	}
	exp += e10
	digits := s[first : last+1]
	if point > first && point < last {
		digits = s[first:point] + s[point+1:last+1]
	}
	if exp > maxExp {
		exp = maxExp
	}
	if exp < minExp {
		exp = minExp
	}
	d := decimal{kind: kindPos, exp: int32(exp), digits: digits}
	if neg {
		d.kind = kindNeg
	}
	return d
}

func compareDecimal(a, b decimal) int {
	if a.kind != b.kind {
		return cmpInt(int(a.kind), int(b.kind))
	}
	if a.kind == kindNaN || a.kind == kindZero {
		return 0
	}
	c := cmpInt(int(a.exp), int(b.exp))
	if c == 0 {
		c = cmpString(a.digits, b.digits)
	}
	if a.kind == kindNeg {
		c = -c
	}
	return c
}
