package tenancy

import (
	"fmt"

	"github.com/aerolithdb/aerolith/agent/document"
)

// Error codes: the same strings as agent/document, so the HTTP layer maps them
// to the same statuses.
const (
	CodeNotFound = document.CodeNotFound // 404: no such api key
	CodeConflict = document.CodeConflict // 409: an api key id already exists
	CodeInvalid  = document.CodeInvalid  // 400: a bad tenant, role, name, id, time or policy
	CodeInternal = document.CodeInternal // 500: a storage fault or a malformed command
)

// Error is a tenancy-command failure. It travels inside a Result from the
// node that applied a command back to the proposer, so it is matched by
// code: errors.Is(err, ErrNotFound) holds for any *Error whose Code is
// CodeNotFound. It also matches the agent/document sentinel of the same code
// (errors.Is(err, document.ErrNotFound)), so callers that already translate
// document errors translate these too.
type Error struct {
	// Code is one of the Code* constants.
	Code string
	// Message says what was wrong, naming the field, key id or tenant.
	Message string

	sentinel bool
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Is reports whether target is the sentinel of e's code, in this package or
// in agent/document.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case *Error:
		return t.sentinel && t.Code == e.Code
	case *document.Error:
		return target == docsSentinel(e.Code)
	}
	return false
}

func docsSentinel(code string) *document.Error {
	switch code {
	case CodeNotFound:
		return document.ErrNotFound
	case CodeConflict:
		return document.ErrConflict
	case CodeInvalid:
		return document.ErrInvalid
	case CodeInternal:
		return document.ErrInternal
	}
	return nil
}

// Sentinel errors, one per code; compare with errors.Is.
var (
	// ErrNotFound: the api key does not exist.
	ErrNotFound = &Error{Code: CodeNotFound, Message: "not found", sentinel: true}
	// ErrConflict: creating an api key whose id exists.
	ErrConflict = &Error{Code: CodeConflict, Message: "conflict", sentinel: true}
	// ErrInvalid: a bad argument; the message names it.
	ErrInvalid = &Error{Code: CodeInvalid, Message: "invalid argument", sentinel: true}
	// ErrInternal: a storage fault or a command that cannot be decoded.
	ErrInternal = &Error{Code: CodeInternal, Message: "internal error", sentinel: true}
)

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

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
