package tenancy

import (
	"fmt"

	"github.com/aerolithdb/aerolith/internal/apierr"
)

// Error codes: the state machines' codes (internal/apierr), which the HTTP
// layer maps to statuses.
const (
	CodeNotFound = apierr.CodeNotFound // 404: no such api key
	CodeConflict = apierr.CodeConflict // 409: an api key id already exists
	CodeInvalid  = apierr.CodeInvalid  // 400: a bad tenant, role, name, id, time or policy
	CodeInternal = apierr.CodeInternal // 500: a storage fault or a malformed command
)

// Error is a tenancy-command failure, the state machines' one error type
// (internal/apierr), so it is matched by code: errors.Is(err, ErrNotFound)
// holds for any *Error whose Code is CodeNotFound, and so does
// errors.Is(err, document.ErrNotFound): callers that translate document
// errors translate these too.
type Error = apierr.Error

// Sentinel errors, one per code; compare with errors.Is.
var (
	// ErrNotFound: the api key does not exist.
	ErrNotFound = apierr.Sentinel(CodeNotFound, "not found")
	// ErrConflict: creating an api key whose id exists.
	ErrConflict = apierr.Sentinel(CodeConflict, "conflict")
	// ErrInvalid: a bad argument; the message names it.
	ErrInvalid = apierr.Sentinel(CodeInvalid, "invalid argument")
	// ErrInternal: a storage fault or a command that cannot be decoded.
	ErrInternal = apierr.Sentinel(CodeInternal, "internal error")
)

func errorf(code, format string, args ...any) *Error { return apierr.Errorf(code, format, args...) }

func invalidf(format string, args ...any) *Error  { return errorf(CodeInvalid, format, args...) }
func notFoundf(format string, args ...any) *Error { return errorf(CodeNotFound, format, args...) }
func internalf(format string, args ...any) *Error { return errorf(CodeInternal, format, args...) }

// asInvalid turns a validation error of agent/document into an *Error with
// CodeInvalid, keeping its message.
func asInvalid(err error) *Error {
	if err == nil {
		return nil
	}
	return &Error{Code: CodeInvalid, Message: err.Error()}
}

// wrapf prefixes err with what was being done, as fmt.Errorf("...: %w")
// would. An *Error gets the prefix in its Message instead, so the API
// boundary, which answers with the Message of the *Error in a chain, shows
// the whole text.
func wrapf(err error, format string, args ...any) error {
	prefix := fmt.Sprintf(format, args...)
	if e, ok := err.(*Error); ok {
		return &Error{Code: e.Code, Message: prefix + ": " + e.Message, OpIndex: e.OpIndex}
	}
	return fmt.Errorf("%s: %w", prefix, err)
}
