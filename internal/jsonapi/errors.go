// Package jsonapi is the server-side plumbing shared by Aerolith's JSON
// HTTP APIs (the agent's data API and the billing service's API): the
// {"error":{"code","message"}} answer shape, a mux that answers 405 with
// Allow and a catch-all 404, request metrics labelled by route pattern,
// and a middleware that records them and turns panics into 500s.
package jsonapi

import (
	"encoding/json"
	"net/http"

	"github.com/aerolithdb/aerolith/internal/apierr"
)

// Error codes of the {"error":{"code","message"}} body that both APIs
// answer with; those the state machines also return are internal/apierr's.
const (
	CodeInvalidArgument    = apierr.CodeInvalid
	CodeUnauthenticated    = "unauthenticated"
	CodePermissionDenied   = apierr.CodeForbidden
	CodeNotFound           = apierr.CodeNotFound
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeConflict           = apierr.CodeConflict
	CodePreconditionFailed = apierr.CodePrecondition
	CodeFailedPrecondition = apierr.CodeState
	CodeTooLarge           = apierr.CodeTooLarge
	CodeUnavailable        = "unavailable"
	CodeInternal           = apierr.CodeInternal
)

// RetryAfterSeconds is the Retry-After sent with 503 answers.
const RetryAfterSeconds = "1"

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WriteJSON answers with status and v as JSON (HTML characters unescaped).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client may be gone; nothing to do about it
}

// ErrorWriter writes error answers of one API.
type ErrorWriter struct {
	// Realm is sent in the WWW-Authenticate header of 401 answers.
	Realm string
}

// Write answers with status, code and message in the ErrorBody shape,
// adding the headers the status calls for: WWW-Authenticate on 401,
// Retry-After on 503.
func (ew ErrorWriter) Write(w http.ResponseWriter, status int, code, message string) {
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+ew.Realm+`"`)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", RetryAfterSeconds)
	}
	var body ErrorBody
	body.Error.Code = code
	body.Error.Message = message
	WriteJSON(w, status, body)
}
