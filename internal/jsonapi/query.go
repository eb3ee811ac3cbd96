package jsonapi

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ErrUnknownQuery is matched (errors.Is) by the error CheckQuery returns.
var ErrUnknownQuery = errors.New("unknown query parameter")

// UnknownQueryError names the query parameters a route does not take.
type UnknownQueryError struct {
	// Unknown are the parameters the route does not take, sorted.
	Unknown []string
	// Allowed are the parameters it takes, in the order given.
	Allowed []string
}

// Error says which parameters are unknown and which the route takes, and
// suggests the closest known name when one differs only in spelling, e.g.
// "unknown query parameter tenant (did you mean tenant_id?); this route
// takes tenant_id, status, consistency".
func (e *UnknownQueryError) Error() string {
	var b strings.Builder
	b.WriteString("unknown query parameter")
	if len(e.Unknown) > 1 {
		b.WriteString("s")
	}
	for i, n := range e.Unknown {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(" ")
		b.WriteString(strconv.Quote(clipName(n)))
		if s := suggest(n, e.Allowed); s != "" {
			b.WriteString(" (did you mean " + s + "?)")
		}
	}
	if len(e.Allowed) == 0 {
		b.WriteString("; this route takes no query parameters")
	} else {
		b.WriteString("; this route takes " + strings.Join(e.Allowed, ", "))
	}
	return b.String()
}

// Is makes errors.Is(err, ErrUnknownQuery) true.
func (e *UnknownQueryError) Is(target error) bool { return target == ErrUnknownQuery }

// CheckQuery returns an *UnknownQueryError naming every parameter of q
// that is not in allowed, or nil. A list route calls it first so that a
// misspelt filter (?tenant= for ?tenant_id=) is refused instead of
// silently ignored, which would answer more than the caller asked for.
func CheckQuery(q url.Values, allowed ...string) error {
	var unknown []string
	for name := range q {
		if !slices.Contains(allowed, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	const maxNamed = 5 // a long list of garbage names helps nobody
	if len(unknown) > maxNamed {
		unknown = unknown[:maxNamed]
	}
	return &UnknownQueryError{Unknown: unknown, Allowed: slices.Clone(allowed)}
}

// CheckRawQuery is CheckQuery on a raw query string (URL.RawQuery), which
// it parses itself: a malformed query (a bad %-escape, a ';' separator),
// which url.URL.Query silently drops, is an error too.
func CheckRawQuery(raw string, allowed ...string) error {
	if raw == "" {
		return nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return fmt.Errorf("malformed query string: %w", err)
	}
	return CheckQuery(q, allowed...)
}

// clipName bounds a parameter name echoed in a message.
func clipName(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// suggest returns the allowed name that n is a prefix, a suffix, a
// plural or a case-insensitive variant of, or "".
func suggest(n string, allowed []string) string {
	ln := strings.ToLower(n)
	if ln == "" {
		return ""
	}
	for _, a := range allowed {
		la := strings.ToLower(a)
		if la == ln || la+"s" == ln || la == ln+"s" || strings.HasPrefix(la, ln+"_") || strings.HasSuffix(la, "_"+ln) ||
			strings.ReplaceAll(la, "_", "") == strings.ReplaceAll(strings.ReplaceAll(ln, "-", ""), "_", "") {
			return a
		}
	}
	return ""
}
