package document

import "github.com/aerolithdb/aerolith/internal/apierr"

// Error codes, stable strings; internal/apierr maps them to HTTP statuses.
const (
	CodeNotFound     = apierr.CodeNotFound     // 404
	CodeConflict     = apierr.CodeConflict     // 409
	CodePrecondition = apierr.CodePrecondition // 412
	CodeInvalid      = apierr.CodeInvalid      // 400
	CodeTooLarge     = apierr.CodeTooLarge     // 413
	CodeInternal     = apierr.CodeInternal     // 500: storage faults, malformed commands
	// CodeStorageQuotaExceeded: a write would pass Limits.StorageBytes (507).
	CodeStorageQuotaExceeded = apierr.CodeStorageQuotaExceeded
	// CodeQuotaExceeded: a write would pass Limits.MaxCollections or
	// Limits.MaxDocumentsPerCollection (429).
	CodeQuotaExceeded = apierr.CodeQuotaExceeded
)

// Error is a document-layer failure, the state machines' one error type
// (internal/apierr): errors.Is(err, ErrNotFound) holds for any *Error whose
// Code is CodeNotFound, whether it came from a read function or a decoded
// Result. OpIndex is the index in Command.Ops of the operation that failed
// (0 for read functions).
type Error = apierr.Error

// Sentinel errors, one per code; compare with errors.Is.
var (
	// ErrNotFound: the document, collection or index does not exist.
	ErrNotFound = apierr.Sentinel(CodeNotFound, "not found")
	// ErrConflict: creating something that already exists (a document with
	// IfAbsent, an index).
	ErrConflict = apierr.Sentinel(CodeConflict, "conflict")
	// ErrPrecondition: IfVersion does not match the current version (or the
	// document does not exist).
	ErrPrecondition = apierr.Sentinel(CodePrecondition, "precondition failed")
	// ErrInvalid: a bad name, id, field, document body, filter, sort or
	// paging argument; the message names it.
	ErrInvalid = apierr.Sentinel(CodeInvalid, "invalid argument")
	// ErrTooLarge: a document above Config.MaxDocumentBytes, or a value too
	// large to index.
	ErrTooLarge = apierr.Sentinel(CodeTooLarge, "too large")
	// ErrInternal: a storage fault or a command that cannot be decoded.
	ErrInternal = apierr.Sentinel(CodeInternal, "internal error")
	// ErrStorageQuotaExceeded: the command would take the tenant's stored
	// bytes past Limits.StorageBytes (with Limits.Refuse); nothing was
	// applied.
	ErrStorageQuotaExceeded = apierr.Sentinel(CodeStorageQuotaExceeded, "storage quota exceeded")
	// ErrQuotaExceeded: the command would take the tenant's collections
	// past Limits.MaxCollections or a collection's documents past
	// Limits.MaxDocumentsPerCollection (with Limits.Refuse); nothing was
	// applied.
	ErrQuotaExceeded = apierr.Sentinel(CodeQuotaExceeded, "quota exceeded")
)

func errorf(code, format string, args ...any) *Error { return apierr.Errorf(code, format, args...) }

func notFoundf(format string, args ...any) *Error { return errorf(CodeNotFound, format, args...) }
func invalidf(format string, args ...any) *Error  { return errorf(CodeInvalid, format, args...) }
