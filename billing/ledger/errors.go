package ledger

import "fmt"

// Error codes: stable strings the HTTP layer maps to statuses.
const (
	CodeNotFound  = "not_found"           // 404
	CodeConflict  = "conflict"            // 409
	CodeInvalid   = "invalid_argument"    // 400
	CodeForbidden = "permission_denied"   // 403
	CodeState     = "failed_precondition" // 409: the entity is in the wrong state
	CodeTooLarge  = "too_large"           // 413: a request body over its limit
	CodeInternal  = "internal"            // 500: undecodable command, storage fault
)

// Error is a ledger failure. It travels inside an encoded Result from the
// node that applied a command back to the proposer, so callers match it by
// code: errors.Is(err, ErrNotFound) holds for every *Error whose Code is
// CodeNotFound, whether it came from a read function or a decoded Result.
type Error struct {
	// Code is one of the Code* constants.
	Code string
	// Message says what was wrong and names the field or entity, e.g.
	// `tier: unknown tier "gold" (want free, starter, professional or enterprise)`.
	Message string

	sentinel bool
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.sentinel && t.Code == e.Code
}

// Sentinel errors, one per code; compare with errors.Is.
var (
	// ErrNotFound: the tenant, cluster, invoice, payment or billing API key
	// does not exist (a key of another tenant is not found either).
	ErrNotFound = &Error{Code: CodeNotFound, Message: "not found", sentinel: true}
	// ErrConflict: an id, token, API key hash or external payment reference
	// already in use, or a billing period that overlaps an existing invoice.
	ErrConflict = &Error{Code: CodeConflict, Message: "conflict", sentinel: true}
	// ErrInvalid: bad input; the message names the field.
	ErrInvalid = &Error{Code: CodeInvalid, Message: "invalid argument", sentinel: true}
	// ErrForbidden: a cluster reporting usage for a tenant it is not
	// assigned to.
	ErrForbidden = &Error{Code: CodeForbidden, Message: "permission denied", sentinel: true}
	// ErrState: the operation is not allowed in the entity's current state,
	// e.g. finalizing a void invoice, resuming an active tenant or creating
	// an API key for a deleted tenant or beyond MaxActiveAPIKeys.
	ErrState = &Error{Code: CodeState, Message: "failed precondition", sentinel: true}
	// ErrTooLarge: a request body above its size limit.
	ErrTooLarge = &Error{Code: CodeTooLarge, Message: "request too large", sentinel: true}
	// ErrInternal: an undecodable command or stored record.
	ErrInternal = &Error{Code: CodeInternal, Message: "internal error", sentinel: true}
)

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func notFoundf(format string, args ...any) *Error  { return errorf(CodeNotFound, format, args...) }
func conflictf(format string, args ...any) *Error  { return errorf(CodeConflict, format, args...) }
func invalidf(format string, args ...any) *Error   { return errorf(CodeInvalid, format, args...) }
func forbiddenf(format string, args ...any) *Error { return errorf(CodeForbidden, format, args...) }
func statef(format string, args ...any) *Error     { return errorf(CodeState, format, args...) }
func internalf(format string, args ...any) *Error  { return errorf(CodeInternal, format, args...) }
