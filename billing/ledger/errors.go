package ledger

import "github.com/aerolithdb/aerolith/internal/apierr"

// Error codes: the state machines' codes (internal/apierr), which the HTTP
// layer maps to statuses.
const (
	CodeNotFound  = apierr.CodeNotFound  // 404
	CodeConflict  = apierr.CodeConflict  // 409
	CodeInvalid   = apierr.CodeInvalid   // 400
	CodeForbidden = apierr.CodeForbidden // 403
	CodeState     = apierr.CodeState     // 409: the entity is in the wrong state
	CodeTooLarge  = apierr.CodeTooLarge  // 413: a request body over its limit
	CodeInternal  = apierr.CodeInternal  // 500: undecodable command, storage fault
)

// Error is a ledger failure, the state machines' one error type
// (internal/apierr). It travels inside an encoded Result from the node that
// applied a command back to the proposer, so callers match it by code:
// errors.Is(err, ErrNotFound) holds for every *Error whose Code is
// CodeNotFound, whether it came from a read function or a decoded Result.
// Its Message says what was wrong and names the field or entity, e.g.
// `tier: unknown tier "gold" (want free, starter, professional or enterprise)`.
type Error = apierr.Error

// Sentinel errors, one per code; compare with errors.Is.
var (
	// ErrNotFound: the tenant, cluster, invoice, payment or billing API key
	// does not exist (a key of another tenant is not found either).
	ErrNotFound = apierr.Sentinel(CodeNotFound, "not found")
	// ErrConflict: an id, token, API key hash or external payment reference
	// already in use, or a billing period that overlaps an existing invoice.
	ErrConflict = apierr.Sentinel(CodeConflict, "conflict")
	// ErrInvalid: bad input; the message names the field.
	ErrInvalid = apierr.Sentinel(CodeInvalid, "invalid argument")
	// ErrForbidden: a cluster reporting usage for a tenant it is not
	// assigned to.
	ErrForbidden = apierr.Sentinel(CodeForbidden, "permission denied")
	// ErrState: the operation is not allowed in the entity's current state,
	// e.g. finalizing a void invoice, resuming an active tenant or creating
	// an API key for a deleted tenant or beyond MaxActiveAPIKeys.
	ErrState = apierr.Sentinel(CodeState, "failed precondition")
	// ErrTooLarge: a request body above its size limit.
	ErrTooLarge = apierr.Sentinel(CodeTooLarge, "request too large")
	// ErrInternal: an undecodable command or stored record.
	ErrInternal = apierr.Sentinel(CodeInternal, "internal error")
)

func errorf(code, format string, args ...any) *Error { return apierr.Errorf(code, format, args...) }

func notFoundf(format string, args ...any) *Error  { return errorf(CodeNotFound, format, args...) }
func conflictf(format string, args ...any) *Error  { return errorf(CodeConflict, format, args...) }
func invalidf(format string, args ...any) *Error   { return errorf(CodeInvalid, format, args...) }
func forbiddenf(format string, args ...any) *Error { return errorf(CodeForbidden, format, args...) }
func statef(format string, args ...any) *Error     { return errorf(CodeState, format, args...) }
func internalf(format string, args ...any) *Error  { return errorf(CodeInternal, format, args...) }
