package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// GenesisPrev is the prev of the first record of a log: 64 zeros.
const GenesisPrev = "0000000000000000000000000000000000000000000000000000000000000000"

// Actions the audit package writes itself.
const (
	// ActionRotated starts every file but the first; its detail names the
	// previous file ("previous_file") and its last line hash ("previous_hash").
	ActionRotated = "audit.rotated"
	// ActionRecovered follows a torn last line found on open; its detail says
	// what was repaired or cut ("repair", "bytes", "dropped_sha256").
	ActionRecovered = "audit.recovered"
)

// Limits on what one record may carry, so a record stays small: longer
// strings are cut (marked with a trailing "…"); detail entries past the
// limit are dropped and their keys listed in detail "dropped"; the keys
// "redacted" and "dropped" are the writer's own.
const (
	// MaxDetailEntries is the most entries a record's detail holds.
	MaxDetailEntries = 16
	maxKeyLen        = 64
	maxValueLen      = 256
	maxFieldLen      = 256
)

// Outcome says how the audited operation ended.
type Outcome string

// The three outcomes.
const (
	OutcomeOK     Outcome = "ok"
	OutcomeDenied Outcome = "denied"
	OutcomeError  Outcome = "error"
)

// OutcomeOf maps an HTTP status to an outcome: below 400 ok; 401, 402,
// 403, 429 and 507 (authentication, payment, permission and quota
// refusals) denied; any other error status error.
func OutcomeOf(status int) Outcome {
	switch {
	case status < 400:
		return OutcomeOK
	case status == 401 || status == 402 || status == 403 || status == 429 || status == 507:
		return OutcomeDenied
	}
	return OutcomeError
}

func (o Outcome) valid() bool { return o == OutcomeOK || o == OutcomeDenied || o == OutcomeError }

// Actor is who did something. It identifies a credential by its id, never
// by its secret.
type Actor struct {
	// Kind is the kind of principal: "admin", "tenant_key", "billing_key",
	// "agent", "node", "anonymous", "system", …
	Kind string `json:"kind"`
	// Tenant is the tenant the principal acts for, if any.
	Tenant string `json:"tenant,omitempty"`
	// KeyID identifies the credential used (never the key itself).
	KeyID string `json:"key_id,omitempty"`
	// Node is a node id when the actor is a node or an agent.
	Node string `json:"node,omitempty"`
	// Addr is the remote address of the request, if known.
	Addr string `json:"addr,omitempty"`
}

// Event is what a component asks to have recorded. The writer adds the
// sequence number, time and chain fields.
type Event struct {
	Actor   Actor
	Action  string // dotted verb, e.g. "key.create", "auth.failed"
	Target  string // what was acted on, e.g. "tenant:t1", "node:n2"
	Outcome Outcome
	Detail  map[string]string // small, no secrets, no document contents
}

// Record is one line of the log.
type Record struct {
	Seq     uint64            `json:"seq"`
	Time    string            `json:"time"`
	Actor   Actor             `json:"actor"`
	Action  string            `json:"action"`
	Target  string            `json:"target"`
	Outcome Outcome           `json:"outcome"`
	Detail  map[string]string `json:"detail,omitempty"`
	Prev    string            `json:"prev"`
	Hash    string            `json:"hash,omitempty"`
}

// Auditor records events. *Writer implements it; Nop discards them.
// Append returns an error when the event could not be made durable; the
// caller decides whether that fails its operation.
type Auditor interface {
	Append(ctx context.Context, e Event) error
}

// Nop is an Auditor that records nothing (audit logging switched off).
type Nop struct{}

// Append does nothing and returns nil.
func (Nop) Append(context.Context, Event) error { return nil }

var (
	_ Auditor = Nop{}
	_ Auditor = (*Writer)(nil)
)

// hasher computes record hashes: SHA-256, or HMAC-SHA256 under key.
type hasher struct{ key []byte }

func (h hasher) recordHash(unhashed []byte) string {
	if len(h.key) == 0 {
		s := sha256.Sum256(unhashed)
		return hex.EncodeToString(s[:])
	}
	m := hmac.New(sha256.New, h.key)
	m.Write(unhashed)
	return hex.EncodeToString(m.Sum(nil))
}

// lineHash is what the next record's prev holds: the SHA-256 of a line's
// bytes without its newline.
func lineHash(line []byte) string {
	s := sha256.Sum256(line)
	return hex.EncodeToString(s[:])
}

// encode returns the canonical encoding of r (with its Hash field as is).
func encode(r *Record) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		// Only strings, maps of strings and integers: cannot fail.
		panic(fmt.Sprintf("audit: encode record: %v", err))
	}
	return b
}

// seal sets r.Hash and returns the record's line without newline.
func (h hasher) seal(r *Record) []byte {
	r.Hash = ""
	r.Hash = h.recordHash(encode(r))
	return encode(r)
}

// errMalformed and errNotCanonical classify DecodeLine errors for Verify.
var (
	errMalformed    = errors.New("malformed record")
	errNotCanonical = errors.New("not in canonical form")
)

// DecodeLine decodes one line (without its newline) into a record and checks
// its shape: a JSON object with every field valid, byte for byte in
// canonical form. It does not check the hash or the chain (Verify does).
func DecodeLine(line []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return Record{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if err := r.validate(); err != nil {
		return Record{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if !bytes.Equal(encode(&r), line) {
		return Record{}, errNotCanonical
	}
	return r, nil
}

func (r *Record) validate() error {
	switch {
	case r.Seq == 0:
		return errors.New("seq: must be at least 1")
	case !isHex64(r.Prev):
		return errors.New("prev: want 64 lowercase hex digits")
	case !isHex64(r.Hash):
		return errors.New("hash: want 64 lowercase hex digits")
	case r.Action == "":
		return errors.New("action: empty")
	case r.Actor.Kind == "":
		return errors.New("actor.kind: empty")
	case !r.Outcome.valid():
		return fmt.Errorf("outcome: %q is not ok, denied or error", r.Outcome)
	}
	t, err := time.Parse(time.RFC3339Nano, r.Time)
	if err != nil || t.Location() != time.UTC || t.Format(time.RFC3339Nano) != r.Time {
		return errors.New("time: want RFC 3339 with nanoseconds in UTC")
	}
	return nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// secretKeyWords are parts of detail key names that mark a secret.
var secretKeyWords = []string{"key", "token", "password", "passwd", "secret", "credential", "authorization", "cookie"}

// secretKey reports whether a detail key names a secret. Identifiers
// ("key_id", "token-id", "keyID") are allowed.
func secretKey(k string) bool {
	var b strings.Builder
	for _, c := range strings.ToLower(k) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		}
	}
	norm := b.String()
	if strings.HasSuffix(norm, "id") || strings.HasSuffix(norm, "ids") {
		return false
	}
	for _, w := range secretKeyWords {
		if strings.Contains(norm, w) {
			return true
		}
	}
	return false
}

// secretValue reports whether a value looks like an HTTP credential.
func secretValue(v string) bool {
	l := strings.ToLower(strings.TrimSpace(v))
	return strings.HasPrefix(l, "bearer ") || strings.HasPrefix(l, "basic ")
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// scrub replaces every known secret in s by "[redacted]".
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// sanitize returns the event's fields made safe and small: secrets removed,
// strings clipped, detail limited.
func sanitize(e Event, secrets []string) (Actor, string, string, map[string]string) {
	f := func(s string) string { return clip(scrub(s, secrets), maxFieldLen) }
	a := Actor{Kind: f(e.Actor.Kind), Tenant: f(e.Actor.Tenant), KeyID: f(e.Actor.KeyID), Node: f(e.Actor.Node), Addr: f(e.Actor.Addr)}
	if secretValue(a.KeyID) {
		a.KeyID = "[redacted]"
	}
	if len(e.Detail) == 0 {
		return a, f(e.Action), f(e.Target), nil
	}
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	detail := make(map[string]string, len(keys))
	var redacted, dropped []string
	for _, k := range keys {
		v := e.Detail[k]
		ck := clip(scrub(k, secrets), maxKeyLen)
		switch {
		case k == "redacted" || k == "dropped":
			// Reserved for the writer's own notes.
		case secretKey(k) || secretValue(v):
			redacted = append(redacted, ck)
		case len(detail) >= MaxDetailEntries-2: // two entries kept for the notes
			dropped = append(dropped, ck)
		default:
			detail[ck] = clip(scrub(v, secrets), maxValueLen)
		}
	}
	if len(redacted) > 0 {
		detail["redacted"] = clip(strings.Join(redacted, ","), maxValueLen)
	}
	if len(dropped) > 0 {
		detail["dropped"] = clip(strings.Join(dropped, ","), maxValueLen)
	}
	if len(detail) == 0 {
		detail = nil
	}
	return a, f(e.Action), f(e.Target), detail
}
