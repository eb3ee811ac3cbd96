package api

import (
	"fmt"
	"net/http"

	"github.com/aerolithdb/aerolith/internal/apierr"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// The payment endpoints' refusals are apierr errors, the state machines'
// type, which the API answers with their code's status (400, 404, 409,
// 403) and message, like the ledger's own.
func payErr(code, format string, args ...any) error {
	return &apierr.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func payInvalid(format string, args ...any) error { return payErr(apierr.CodeInvalid, format, args...) }
func payNotFound(format string, args ...any) error {
	return payErr(apierr.CodeNotFound, format, args...)
}
func payConflict(format string, args ...any) error {
	return payErr(apierr.CodeConflict, format, args...)
}
func payState(format string, args ...any) error { return payErr(apierr.CodeState, format, args...) }
func payForbidden(format string, args ...any) error {
	return payErr(apierr.CodeForbidden, format, args...)
}

// chainFailure answers 502: a chain (or the price source) could not be
// read; nothing was changed, try again. Written here because no state
// machine code means "upstream failed".
func chainFailure(w http.ResponseWriter, format string, args ...any) error {
	errorWriter().Write(w, http.StatusBadGateway, jsonapi.CodeUnavailable, fmt.Sprintf(format, args...))
	return nil
}
