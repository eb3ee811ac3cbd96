package tier

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// quantityRE matches an optionally signed decimal number, digits optionally
// grouped with '_', and an optional unit suffix.
var quantityRE = regexp.MustCompile(`^(-?)([0-9](?:_?[0-9])*)(?:\.([0-9]+))? ?([A-Za-z]*)$`)

// quantitySuffixes maps each accepted suffix to its multiplier.
var quantitySuffixes = map[string]int64{
	"":    1,
	"k":   1e3,
	"K":   1e3,
	"M":   1e6,
	"G":   1e9,
	"T":   1e12,
	"B":   1,
	"kB":  1e3,
	"KB":  1e3,
	"MB":  1e6,
	"GB":  1e9,
	"TB":  1e12,
	"KiB": 1 << 10,
	"MiB": 1 << 20,
	"GiB": 1 << 30,
	"TiB": 1 << 40,
}

const quantityWant = "want an integer such as 1000000, 1_000_000 or 1M, optionally with a suffix k, M, G, T, KB, MB, GB, TB, KiB, MiB, GiB or TiB"

// ParseQuantity parses a count of base units as written in a tiers file: an
// integer ("1000000", "1_000_000") or a decimal with a suffix whose product is
// a whole number ("1M", "1.5GB", "100MiB"). Decimal suffixes (k, M, G, T, KB,
// MB, GB, TB) are powers of 1000, binary ones (KiB, MiB, GiB, TiB) powers of
// 1024. The result must fit in an int64.
func ParseQuantity(s string) (int64, error) {
	m := quantityRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid quantity %q (%s)", s, quantityWant)
	}
	mult, ok := quantitySuffixes[m[4]]
	if !ok {
		return 0, fmt.Errorf("invalid quantity %q: unknown suffix %q (%s)", s, m[4], quantityWant)
	}
	num := strings.ReplaceAll(m[2], "_", "")
	if m[3] != "" {
		num += "." + m[3]
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("invalid quantity %q (%s)", s, quantityWant)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if m[1] == "-" {
		r.Neg(r)
	}
	if !r.IsInt() {
		return 0, fmt.Errorf("invalid quantity %q: not a whole number of base units", s)
	}
	if !r.Num().IsInt64() {
		return 0, fmt.Errorf("invalid quantity %q: out of range", s)
	}
	return r.Num().Int64(), nil
}
