package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/apierr"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/store"
)

// Error codes of the {"error":{"code","message"}} body. The ledger's codes
// (internal/apierr's: not_found, conflict, invalid_argument,
// permission_denied, failed_precondition, too_large) pass through
// unchanged.
const (
	CodeInvalidArgument    = apierr.CodeInvalid
	CodeUnauthenticated    = "unauthenticated"
	CodePermissionDenied   = apierr.CodeForbidden
	CodeNotFound           = apierr.CodeNotFound
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeConflict           = apierr.CodeConflict
	CodeFailedPrecondition = apierr.CodeState
	CodeTooLarge           = apierr.CodeTooLarge
	CodeUnavailable        = "unavailable"
	CodeInternal           = apierr.CodeInternal
)

// Sentinel errors of authentication; the HTTP layer maps them to 401 and
// 403.
var (
	// ErrUnauthenticated: the request carries no credential, or one that no
	// admin key, tenant key or enrollment token matches.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied: the credential is valid but may not do this.
	ErrPermissionDenied = errors.New("permission denied")
)

// apiError is an error with its HTTP status and code decided.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, CodeInvalidArgument, format, args...)
}

func notFound(format string, args ...any) *apiError {
	return newError(http.StatusNotFound, CodeNotFound, format, args...)
}

func forbidden(format string, args ...any) *apiError {
	return newError(http.StatusForbidden, CodePermissionDenied, format, args...)
}

// errorBody is the JSON shape of every error answer.
type errorBody = jsonapi.ErrorBody

// classify maps any error to the answer the client sees. Unknown errors
// become 500 with a generic message; internal is then true so the caller
// logs the real error.
func classify(err error) (e *apiError, internal bool) {
	if errors.As(err, &e) {
		return e, false
	}
	var le *ledger.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return newError(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body exceeds %d bytes", mbe.Limit), false
	case errors.Is(err, ErrUnauthenticated):
		return newError(http.StatusUnauthorized, CodeUnauthenticated, "%s", err.Error()), false
	case errors.Is(err, ErrPermissionDenied):
		return newError(http.StatusForbidden, CodePermissionDenied, "%s", err.Error()), false
	case errors.As(err, &le):
		// A ledger error: its code and the status internal/apierr gives
		// it; an internal or unknown code is a fault.
		status, ok := apierr.Status(le.Code)
		if !ok {
			return newError(http.StatusInternalServerError, CodeInternal, "internal error"), true
		}
		return newError(status, le.Code, "%s", le.Message), false
	case errors.Is(err, store.ErrTooLarge):
		return newError(http.StatusRequestEntityTooLarge, CodeTooLarge, "request too large to replicate"), false
	case errors.Is(err, store.ErrNoLeader), errors.Is(err, store.ErrNotLeader):
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "no billing leader available; retry shortly"), false
	case errors.Is(err, store.ErrLeadershipLost):
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "leadership changed while committing; the outcome is unknown, retry (usage and invoice operations are idempotent)"), false
	case errors.Is(err, store.ErrNotReady):
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "the new leader is not ready to serve consistent reads yet; retry shortly"), false
	case errors.Is(err, store.ErrClosed):
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "replica is shutting down; retry on another replica"), false
	case errors.Is(err, context.DeadlineExceeded):
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "timed out waiting for the replicas; retry shortly"), false
	case errors.Is(err, context.Canceled):
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "request canceled"), false
	}
	return newError(http.StatusInternalServerError, CodeInternal, "internal error"), true
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) { jsonapi.WriteJSON(w, status, v) }

// errorWriter writes this API's error answers.
func errorWriter() jsonapi.ErrorWriter { return jsonapi.ErrorWriter{Realm: "aerolith-billing"} }

// writeAPIError answers with e in the standard error shape, adding the
// headers its status calls for.
func writeAPIError(w http.ResponseWriter, e *apiError) {
	errorWriter().Write(w, e.status, e.code, e.message)
}
