package client

import (
	"net/http"

	"github.com/aerolithdb/aerolith/internal/apiclient"
)

// Error codes the data API answers with, in the "code" field of its error body.
const (
	CodeInvalidArgument    = "invalid_argument"
	CodeUnauthenticated    = "unauthenticated"
	CodePermissionDenied   = "permission_denied"
	CodeNotFound           = "not_found"
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeConflict           = "conflict"
	CodePreconditionFailed = "precondition_failed"
	CodeTooLarge           = "too_large"
	CodeUnavailable        = "unavailable"
	CodeInternal           = "internal"
)

// Error is a non-2xx answer from an agent. Status is the HTTP status; Code
// and Message come from the `{"error":{"code","message"}}` body (or are
// derived from the status when the body has another shape, e.g. a proxy's).
type Error = apiclient.Error

// IsNotFound reports whether err is an API error with status 404.
func IsNotFound(err error) bool { return apiclient.IsNotFound(err) }

// IsConflict reports whether err is an API error with status 409 (for
// example a create with an id that exists, or an index that exists).
func IsConflict(err error) bool { return apiclient.IsConflict(err) }

// IsPreconditionFailed reports whether err is an API error with status 412:
// an If-Match version did not match the stored document.
func IsPreconditionFailed(err error) bool { return apiclient.IsPreconditionFailed(err) }

// IsUnauthenticated reports whether err is an API error with status 401.
func IsUnauthenticated(err error) bool { return apiclient.IsUnauthenticated(err) }

// IsPermissionDenied reports whether err is an API error with status 403.
func IsPermissionDenied(err error) bool { return apiclient.IsPermissionDenied(err) }

// IsInvalidArgument reports whether err is an API error with status 400.
func IsInvalidArgument(err error) bool { return apiclient.IsInvalidArgument(err) }

// IsTooLarge reports whether err is an API error with status 413.
func IsTooLarge(err error) bool { return apiclient.IsTooLarge(err) }

// IsUnavailable reports whether err is an API error with status 503 (no
// leader, node not ready). It is returned only after retries ran out.
func IsUnavailable(err error) bool { return apiclient.IsUnavailable(err) }

// decodeError builds an *Error from a non-2xx response body.
func decodeError(status int, header http.Header, body []byte) *Error {
	return apiclient.DecodeError(status, header, body, codeForStatus)
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeInvalidArgument
	case http.StatusUnauthorized:
		return CodeUnauthenticated
	case http.StatusForbidden:
		return CodePermissionDenied
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusMethodNotAllowed:
		return CodeMethodNotAllowed
	case http.StatusConflict:
		return CodeConflict
	case http.StatusPreconditionFailed:
		return CodePreconditionFailed
	case http.StatusRequestEntityTooLarge:
		return CodeTooLarge
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	}
	return CodeInternal
}
