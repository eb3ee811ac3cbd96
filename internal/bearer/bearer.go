// Package bearer reads the credential of an "Authorization: Bearer
// <token>" header, for the agent's and billing's authentication.
package bearer

import (
	"fmt"
	"net/http"
	"strings"
)

// Token extracts the token of r's "Authorization: Bearer <token>" header.
// The scheme is case-insensitive. Errors wrap unauthenticated (the
// caller's sentinel) and say what is wrong with the header, never echoing
// the token.
func Token(r *http.Request, unauthenticated error) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", fmt.Errorf("%w: missing Authorization header; send Authorization: Bearer <key>", unauthenticated)
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: Authorization header must use the Bearer scheme", unauthenticated)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", fmt.Errorf("%w: empty bearer token", unauthenticated)
	}
	return token, nil
}
