package document

import "fmt"

// Error codes, stable strings that callers map to HTTP statuses.
const (
	CodeNotFound     = "not_found"           // 404
	CodeConflict     = "conflict"            // 409
	CodePrecondition = "precondition_failed" // 412
	CodeInvalid      = "invalid_argument"    // 400
	CodeTooLarge     = "too_large"           // 413
	CodeInternal     = "internal"            // 500: storage faults, malformed commands
	// CodeStorageQuotaExceeded: a write would pass Limits.StorageBytes (507).
	CodeStorageQuotaExceeded = "storage_quota_exceeded"
	// CodeQuotaExceeded: a write would pass Limits.MaxCollections or
	// Limits.MaxDocumentsPerCollection (429).
	CodeQuotaExceeded = "quota_exceeded"
)

// Error is a document-layer failure. It travels inside a Result from the
// node that applied a command back to the proposer, so callers match it by
// code: errors.Is(err, ErrNotFound) holds for any *Error whose Code is
// CodeNotFound, whether it came from a read function or a decoded Result.
type Error struct {
	// Code is one of the Code* constants.
	Code string
	// Message says what was wrong, naming the field, document or operation.
	Message string
	// OpIndex is the index in Command.Ops of the operation that failed (0
	// for read functions).
	OpIndex int

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
	// ErrNotFound: the document, collection or index does not exist.
	ErrNotFound = &Error{Code: CodeNotFound, Message: "not found", sentinel: true}
	// ErrConflict: creating something that already exists (a document with
	// IfAbsent, an index).
	ErrConflict = &Error{Code: CodeConflict, Message: "conflict", sentinel: true}
	// ErrPrecondition: IfVersion does not match the current version (or the
	// document does not exist).
	ErrPrecondition = &Error{Code: CodePrecondition, Message: "precondition failed", sentinel: true}
	// ErrInvalid: a bad name, id, field, document body, filter, sort or
	// paging argument; the message names it.
	ErrInvalid = &Error{Code: CodeInvalid, Message: "invalid argument", sentinel: true}
	// ErrTooLarge: a document above Config.MaxDocumentBytes, or a value too
	// large to index.
	ErrTooLarge = &Error{Code: CodeTooLarge, Message: "too large", sentinel: true}
	// ErrInternal: a storage fault or a command that cannot be decoded.
	ErrInternal = &Error{Code: CodeInternal, Message: "internal error", sentinel: true}
	// ErrStorageQuotaExceeded: the command would take the tenant's stored
	// bytes past Limits.StorageBytes (with Limits.Refuse); nothing was
	// applied.
	ErrStorageQuotaExceeded = &Error{Code: CodeStorageQuotaExceeded, Message: "storage quota exceeded", sentinel: true}
	// ErrQuotaExceeded: the command would take the tenant's collections
	// past Limits.MaxCollections or a collection's documents past
	// Limits.MaxDocumentsPerCollection (with Limits.Refuse); nothing was
	// applied.
	ErrQuotaExceeded = &Error{Code: CodeQuotaExceeded, Message: "quota exceeded", sentinel: true}
)

func errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func notFoundf(format string, args ...any) *Error { return errorf(CodeNotFound, format, args...) }
func invalidf(format string, args ...any) *Error  { return errorf(CodeInvalid, format, args...) }
