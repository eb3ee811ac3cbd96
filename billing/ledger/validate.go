package ledger

import (
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/tier"
)

// Field limits.
const (
	maxIDLen    = 128
	maxTextLen  = 200
	maxEmailLen = 254
	maxNoteLen  = 1000
	// MaxClusterTenants bounds the tenants of one cluster.
	MaxClusterTenants = 1000
	// MaxBatchRecords bounds the records of one IngestUsage batch: the
	// API's limit, which agents size their batches by.
	MaxBatchRecords = contract.MaxBatchRecords
)

const idWant = "1 to 128 letters, digits, '_', '-', '.' or ':', starting with a letter or digit"

// checkID validates an identifier (tenant, cluster, node, payment, key):
// it appears in keys, so the character set is narrow and excludes the key
// separator.
func checkID(field, s string) *Error {
	if s == "" {
		return invalidf("%s: required (%s)", field, idWant)
	}
	if len(s) > maxIDLen || !isIDStart(s[0]) {
		return invalidf("%s: invalid id %q (want %s)", field, clip(s), idWant)
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isIDStart(c) && c != '_' && c != '-' && c != '.' && c != ':' {
			return invalidf("%s: invalid id %q (want %s)", field, clip(s), idWant)
		}
	}
	return nil
}

func isIDStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// checkText validates free text: valid UTF-8, no control characters, no
// surrounding spaces, at most max bytes.
func checkText(field, s string, max int, required bool) *Error {
	if s == "" {
		if required {
			return invalidf("%s: required", field)
		}
		return nil
	}
	if len(s) > max {
		return invalidf("%s: longer than %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return invalidf("%s: not valid UTF-8", field)
	}
	if strings.TrimSpace(s) != s {
		return invalidf("%s: leading or trailing spaces", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return invalidf("%s: contains a control character", field)
		}
	}
	return nil
}

// checkEmail accepts a bare address such as "billing@example.com".
func checkEmail(field, s string) *Error {
	if s == "" {
		return invalidf("%s: required", field)
	}
	if len(s) > maxEmailLen {
		return invalidf("%s: longer than %d bytes", field, maxEmailLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return invalidf("%s: invalid email address %q (want an address such as billing@example.com)", field, clip(s))
	}
	return nil
}

// checkTierName validates a tier reference against the catalog.
func checkTierName(field, name string, cat tier.Catalog) (tier.Tier, *Error) {
	if name == "" {
		return tier.Tier{}, invalidf("%s: required (want %s)", field, orList(cat.Names()))
	}
	t, ok := cat.Get(name)
	if !ok {
		return tier.Tier{}, invalidf("%s: unknown tier %q (want %s)", field, clip(name), orList(cat.Names()))
	}
	return t, nil
}

// orList writes "a, b or c".
func orList(names []string) string {
	switch len(names) {
	case 0:
		return "no tiers are defined"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// checkWholeSeconds validates a period bound.
func checkWholeSeconds(field string, nanos int64) *Error {
	if nanos <= 0 {
		return invalidf("%s: required (Unix nanoseconds, whole seconds)", field)
	}
	if nanos%1e9 != 0 {
		return invalidf("%s: %s is not a whole second", field, unixTime(nanos).Format("2006-01-02T15:04:05.999999999Z"))
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }
