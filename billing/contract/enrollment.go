package contract

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

// EnrollmentTokenPrefix starts every cluster enrollment token.
const EnrollmentTokenPrefix = "aet_"

// enrollmentTokenBytes is the randomness of a token: 32 bytes, base64url
// without padding after the prefix.
const enrollmentTokenBytes = 32

// NewEnrollmentToken returns a fresh enrollment token: the prefix and 32
// random bytes (crypto/rand), base64url. Billing makes one for every
// registration that does not bring its own; a client that may have to
// repeat a registration (a create killed before it saved billing's answer)
// makes it itself, keeps it, and registers with it (POST /api/v1/clusters
// "enrollment_token"), so the repeat is recognised and registers nothing
// new.
func NewEnrollmentToken() (string, error) {
	b := make([]byte, enrollmentTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("enrollment token: %w", err)
	}
	return EnrollmentTokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// CheckEnrollmentToken refuses a token that is not of NewEnrollmentToken's
// form, so that a client-chosen token is as long and as random in form as
// billing's own.
func CheckEnrollmentToken(token string) error {
	rest, ok := strings.CutPrefix(token, EnrollmentTokenPrefix)
	if b, err := base64.RawURLEncoding.Strict().DecodeString(rest); !ok || err != nil || len(b) != enrollmentTokenBytes {
		return errBadEnrollmentToken
	}
	return nil
}

var errBadEnrollmentToken = fmt.Errorf("want %s followed by %d random bytes in base64url (%d characters)",
	EnrollmentTokenPrefix, enrollmentTokenBytes, base64.RawURLEncoding.EncodedLen(enrollmentTokenBytes))
