// Package apierr is the one error type of Aerolith's replicated state
// machines (agent/document, agent/tenancy, billing/ledger): a stable code,
// a message that names what was wrong, and the HTTP status each code
// answers with at the API boundary. It imports no net/http, so the state
// machines stay free of HTTP while the status table lives next to the
// codes instead of in a switch per API.
package apierr

import "fmt"

// Codes, stable strings sent as the code of the {"error":{"code","message"}}
// body. Their statuses are in Status.
const (
	CodeNotFound     = "not_found"           // 404
	CodeConflict     = "conflict"            // 409: exists already
	CodePrecondition = "precondition_failed" // 412: an IfVersion that does not match
	CodeInvalid      = "invalid_argument"    // 400
	CodeForbidden    = "permission_denied"   // 403
	CodeState        = "failed_precondition" // 409: the entity is in the wrong state
	CodeTooLarge     = "too_large"           // 413
	CodeInternal     = "internal"            // 500: storage faults, undecodable commands
	// CodeStorageQuotaExceeded: a write would pass a tenant's storage
	// limit (507).
	CodeStorageQuotaExceeded = "storage_quota_exceeded"
	// CodeQuotaExceeded: a write would pass a tenant's collection or
	// document count limit (429).
	CodeQuotaExceeded = "quota_exceeded"
)

// statuses maps each code to its HTTP status (the numbers of net/http's
// Status constants, written out so this package does not import it).
var statuses = map[string]int{
	CodeNotFound:             404,
	CodeConflict:             409,
	CodePrecondition:         412,
	CodeInvalid:              400,
	CodeForbidden:            403,
	CodeState:                409,
	CodeTooLarge:             413,
	CodeInternal:             500,
	CodeStorageQuotaExceeded: 507,
	CodeQuotaExceeded:        429,
}

// Status returns the HTTP status of code and true, or 500 and false for
// CodeInternal and codes this package does not define: such an error is a
// fault, answered with a generic 500 and logged, never shown to a client
// as it is.
func Status(code string) (int, bool) {
	s, ok := statuses[code]
	if !ok || code == CodeInternal {
		return 500, false
	}
	return s, true
}

// Error is a state-machine failure. It travels inside a Result from the
// node that applied a command back to the proposer, so callers match it by
// code: errors.Is(err, s) holds for any *Error whose Code is that of the
// sentinel s (made with Sentinel), whichever package declared s.
type Error struct {
	// Code is one of the Code* constants.
	Code string
	// Message says what was wrong, naming the field, entity or operation.
	Message string
	// OpIndex is the index of the failing operation in a command of
	// several (agent/document's Command.Ops); 0 otherwise.
	OpIndex int

	sentinel bool
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Is reports whether target is a sentinel of e's code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.sentinel && t.Code == e.Code
}

// Sentinel returns a sentinel of code, for errors.Is; message is what its
// Error method says when it is returned as it is.
func Sentinel(code, message string) *Error {
	return &Error{Code: code, Message: message, sentinel: true}
}

// Errorf returns an *Error of code with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
