package document

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aerolithdb/aerolith/agent/query"
)

// MaxIDBytes bounds a document id.
const MaxIDBytes = 256

// validName reports whether s matches ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 128 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// reservedPrefixes may not start a collection name: "_store" is the store's
// own namespace, "_aerolith" is kept for the system's future collections.
var reservedPrefixes = []string{"_store", "_aerolith"}

// ValidateCollection checks a collection name: 1 to 128 characters of
// [A-Za-z0-9_.-], not starting with '.' or '-' nor with a reserved prefix
// ("_store", "_aerolith"). The error wraps ErrInvalid.
func ValidateCollection(name string) error {
	if !validName(name) {
		return invalidf("invalid collection name %q: use 1 to 128 characters of A-Z a-z 0-9 _ . - not starting with . or -", clip(name))
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(name, p) {
			return invalidf("invalid collection name %q: the prefix %q is reserved", name, p)
		}
	}
	return nil
}

// ValidateTenant checks a tenant name: like a collection name (reserved
// prefixes allowed). The error wraps ErrInvalid.
func ValidateTenant(name string) error {
	if name == "" {
		return invalidf("missing tenant")
	}
	if !validName(name) {
		return invalidf("invalid tenant %q: use 1 to 128 characters of A-Z a-z 0-9 _ . - not starting with . or -", clip(name))
	}
	return nil
}

// ValidateID checks a document id: 1 to MaxIDBytes bytes of UTF-8 without
// control characters or '/'. The error wraps ErrInvalid.
func ValidateID(id string) error {
	switch {
	case id == "":
		return invalidf("missing document id")
	case len(id) > MaxIDBytes:
		return invalidf("document id %q is %d bytes, more than %d", clip(id), len(id), MaxIDBytes)
	case !utf8.ValidString(id):
		return invalidf("document id %q is not valid UTF-8", clip(id))
	}
	for _, r := range id {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return invalidf("document id %q contains a control character", clip(id))
		}
		if r == '/' {
			return invalidf("document id %q contains '/'", clip(id))
		}
	}
	return nil
}

// ValidateRequestID checks an id that arrives in a request (a URL path or
// a body): ValidateID, and not "." or "..". A URL path cannot carry those
// two: clients, proxies and Go's ServeMux resolve them as dot segments, so
// /collections/c/documents/.. names the collection c. A document stored
// with such an id could never be read, replaced or deleted by its path, so
// the API refuses them everywhere. Apply does not call it: log entries
// written before it existed must apply as they did (see
// Unaddressable for the documents they created).
func ValidateRequestID(id string) error {
	if id == "." || id == ".." {
		return invalidf("document id %q cannot be used: \".\" and \"..\" are resolved away in URL paths, so the document could not be addressed; use another id", id)
	}
	return ValidateID(id)
}

// ValidateField checks an index field: a dot path (see query.ValidatePath).
// The error wraps ErrInvalid.
func ValidateField(field string) error {
	if err := query.ValidatePath(field); err != nil {
		return invalidf("invalid index field: %v", err)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// idAlphabet is URL-safe and in ASCII order, so ids sort by creation time.
const idAlphabet = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

// idClockMark is set in the 48-bit clock field of every new id. Unix
// milliseconds stay below 2^42 until the year 2109, so without it the first
// character would always be '-', and a CLI reads an argument starting with
// '-' as a flag (`aerolith doc get users -P7N...` fails). With it the first
// character is a letter ('V' until 2109). Ids keep sorting by time, and after
// ids made without the mark (which start with '-').
const idClockMark = 1 << 47

// NewID returns a new document id: 20 URL-safe characters encoding 48 bits
// of Unix milliseconds (with idClockMark set, so an id never starts with
// '-') followed by 72 random bits, so ids sort (bytewise) by creation time
// and do not collide in practice. Proposers call it; Apply never does (it
// must be deterministic).
func NewID() string {
	var b [15]byte
	ms := uint64(time.Now().UnixMilli()) | idClockMark
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], ms)
	copy(b[:6], ts[2:])
	if _, err := rand.Read(b[6:]); err != nil {
		panic("docs: crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	// 120 bits → 20 characters of 6 bits.
	var out [20]byte
	for i := 0; i < 5; i++ {
		chunk := uint32(b[3*i])<<16 | uint32(b[3*i+1])<<8 | uint32(b[3*i+2])
		out[4*i] = idAlphabet[chunk>>18&63]
		out[4*i+1] = idAlphabet[chunk>>12&63]
		out[4*i+2] = idAlphabet[chunk>>6&63]
		out[4*i+3] = idAlphabet[chunk&63]
	}
	return string(out[:])
}
