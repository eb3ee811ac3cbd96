package tenancy

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/document"
)

// Key string layout: KeyPrefix, IDLen lowercase hex digits, '_', SecretLen
// base64url characters (no padding).
const (
	// KeyPrefix starts every tenant api key string.
	KeyPrefix = "ak_"
	// IDLen is the length of a key id: 16 lowercase hex digits (64 random
	// bits).
	IDLen = 16
	// SecretLen is the length of a key secret: 43 base64url characters
	// (256 random bits).
	SecretLen = 43
	// KeyLen is the length of a whole key string.
	KeyLen = len(KeyPrefix) + IDLen + 1 + SecretLen
	// MaxNameBytes bounds a key's name.
	MaxNameBytes = 128

	idBytes     = IDLen / 2
	secretBytes = 32
)

// ErrMalformedKey is wrapped by ParseKey's errors.
var ErrMalformedKey = errors.New("malformed api key")

// APIKey is a tenant api key as stored: everything but the secret, of
// which only the SHA-256 is kept. Its JSON form leaves Hash out.
type APIKey struct {
	// ID is the key's public identifier (IDLen lowercase hex digits); it
	// is safe to log and show.
	ID string `json:"id"`
	// Tenant is the only tenant whose data the key reaches.
	Tenant string `json:"tenant"`
	// Role is "read", "readwrite" or "admin".
	Role string `json:"role"`
	// Name is a free label (at most MaxNameBytes of printable UTF-8).
	Name string `json:"name"`
	// Hash is SHA-256 of the secret (HashSecret).
	Hash [sha256.Size]byte `json:"-"`
	// CreatedAt is when the key was made (UTC).
	CreatedAt time.Time `json:"created_at"`
	// Revoked is set once the key was revoked through raft (RevokeKey).
	Revoked bool `json:"revoked"`
	// RevokedAt is when it was first revoked (zero while not revoked).
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// NewKey makes a key for tenant with role ("read", "readwrite" or "admin";
// the aliases auth.ParseRole accepts are stored under their canonical name)
// and name, created at now. It returns the key to store (CreateKey) and the
// key string "ak_<id>_<secret>" to hand to its user, once: it cannot be
// recovered later. Id and secret come from crypto/rand.
func NewKey(tenant, role, name string, now time.Time) (APIKey, string, error) {
	if err := document.ValidateTenant(tenant); err != nil {
		return APIKey{}, "", asInvalid(err)
	}
	r, err := auth.ParseRole(role)
	if err != nil {
		return APIKey{}, "", invalidf("%v", err)
	}
	if e := validateName(name); e != nil {
		return APIKey{}, "", e
	}
	if now.IsZero() {
		return APIKey{}, "", invalidf("missing key creation time")
	}
	var raw [idBytes + secretBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return APIKey{}, "", fmt.Errorf("generate api key: %w", err)
	}
	id := hex.EncodeToString(raw[:idBytes])
	secret := base64.RawURLEncoding.EncodeToString(raw[idBytes:])
	k := APIKey{
		ID:        id,
		Tenant:    tenant,
		Role:      r.String(),
		Name:      name,
		Hash:      HashSecret(secret),
		CreatedAt: now.UTC(),
	}
	return k, KeyPrefix + id + "_" + secret, nil
}

// HashSecret returns what is stored of a secret: SHA-256 of its text.
func HashSecret(secret string) [sha256.Size]byte {
	// Through a stack buffer: the conversion of a secret longer than 32
	// bytes would otherwise allocate on every request.
	var buf [64]byte
	return sha256.Sum256(append(buf[:0], secret...))
}

// strictBase64 decodes only the canonical base64url form of a secret.
var strictBase64 = base64.RawURLEncoding.Strict()

// ParseKey splits a key string into its id and secret. It is strict: the
// prefix, the lengths, the alphabets and the secret's canonical base64url
// form are all checked. Errors wrap ErrMalformedKey, say what is wrong and
// never echo the key.
func ParseKey(s string) (id, secret string, err error) {
	switch {
	case len(s) < len(KeyPrefix) || s[:len(KeyPrefix)] != KeyPrefix:
		return "", "", fmt.Errorf("%w: does not start with %q", ErrMalformedKey, KeyPrefix)
	case len(s) != KeyLen:
		return "", "", fmt.Errorf("%w: %d characters, want %d", ErrMalformedKey, len(s), KeyLen)
	}
	id = s[len(KeyPrefix) : len(KeyPrefix)+IDLen]
	if !ValidID(id) {
		return "", "", fmt.Errorf("%w: the id must be %d lowercase hex digits", ErrMalformedKey, IDLen)
	}
	if s[len(KeyPrefix)+IDLen] != '_' {
		return "", "", fmt.Errorf("%w: no '_' after the id", ErrMalformedKey)
	}
	secret = s[len(KeyPrefix)+IDLen+1:]
	for i := 0; i < len(secret); i++ {
		if !isBase64URL(secret[i]) {
			return "", "", fmt.Errorf("%w: the secret must be base64url characters", ErrMalformedKey)
		}
	}
	ok := len(secret) == strictBase64.EncodedLen(secretBytes)
	if ok {
		var raw, src [64]byte // on the stack: no allocation per request
		n, err := strictBase64.Decode(raw[:], append(src[:0], secret...))
		ok = err == nil && n == secretBytes
	}
	if !ok {
		return "", "", fmt.Errorf("%w: the secret is not %d bytes of canonical base64url", ErrMalformedKey, secretBytes)
	}
	return id, secret, nil
}

// ValidID reports whether id has the form of a key id: IDLen lowercase
// hex digits.
func ValidID(id string) bool {
	if len(id) != IDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// validRole reports whether role is one of the canonical role names stored
// in keys.
func validRole(role string) bool {
	return role == "read" || role == "readwrite" || role == "admin"
}

// validateName checks a key name: at most MaxNameBytes of UTF-8 without
// control characters (empty is allowed).
func validateName(name string) *Error {
	if len(name) > MaxNameBytes {
		return invalidf("key name is %d bytes, more than %d", len(name), MaxNameBytes)
	}
	if !utf8.ValidString(name) {
		return invalidf("key name is not valid UTF-8")
	}
	for _, r := range name {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return invalidf("key name contains a control character")
		}
	}
	return nil
}

// validateKey checks a key about to be created.
func validateKey(k *APIKey) *Error {
	if !ValidID(k.ID) {
		return invalidf("invalid api key id %q: want %d lowercase hex digits", clip(k.ID), IDLen)
	}
	if err := document.ValidateTenant(k.Tenant); err != nil {
		return asInvalid(err)
	}
	if !validRole(k.Role) {
		return invalidf("invalid role %q: want read, readwrite or admin", clip(k.Role))
	}
	if e := validateName(k.Name); e != nil {
		return e
	}
	if k.Hash == ([sha256.Size]byte{}) {
		return invalidf("api key %s has no secret hash", k.ID)
	}
	if k.CreatedAt.IsZero() {
		return invalidf("api key %s has no creation time", k.ID)
	}
	if k.Revoked || !k.RevokedAt.IsZero() {
		return invalidf("api key %s: a new key cannot be revoked", k.ID)
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
