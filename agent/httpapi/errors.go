package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/internal/apierr"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/store"
)

// Error codes of the {"error":{"code","message"}} body; those the state
// machines also return are internal/apierr's.
const (
	CodeInvalidArgument    = apierr.CodeInvalid
	CodeUnauthenticated    = "unauthenticated"
	CodePermissionDenied   = apierr.CodeForbidden
	CodeNotFound           = apierr.CodeNotFound
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeConflict           = apierr.CodeConflict
	CodePreconditionFailed = apierr.CodePrecondition
	CodeTooLarge           = apierr.CodeTooLarge
	CodeUnavailable        = "unavailable"
	CodeInternal           = apierr.CodeInternal

	// CodeQuotaExceeded: a rate, concurrency or count limit of the
	// tenant's tier (429).
	CodeQuotaExceeded = apierr.CodeQuotaExceeded
	// CodeStorageQuotaExceeded: the tenant's storage limit (507).
	CodeStorageQuotaExceeded = apierr.CodeStorageQuotaExceeded
	// CodePaymentRequired: a write of a suspended tenant (402).
	CodePaymentRequired = "payment_required"
	// CodeQueryTimeout: a query cancelled at the tier's max query
	// duration (408).
	CodeQueryTimeout = "query_timeout"
	// CodeNoPolicy: a write of a tenant whose policy this node has never
	// obtained from billing (503).
	CodeNoPolicy = "no_policy"
	// CodeNotManaged: a key route on an agent without key management (404).
	CodeNotManaged = "not_managed"
	// CodeNotReady: a key creation on a managed agent that has not
	// enrolled with billing yet (503, Retry-After).
	CodeNotReady = "not_ready"
)

// apiError is an error with its HTTP status and code decided. Handlers
// return one to answer with a specific status; other errors go through
// classify.
type apiError struct {
	status  int
	code    string
	message string
	// retryAfter, when positive, is sent as Retry-After (seconds, rounded
	// up).
	retryAfter time.Duration
	// quota marks a quota refusal: never metered.
	quota bool
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

// errorBody is the JSON shape of every error answer.
type errorBody = jsonapi.ErrorBody

// classify maps any error to the answer the client sees. Errors the API
// does not know become 500 with a generic message; internal is then true so
// the caller logs the real error (never sent to the client).
func classify(err error) (e *apiError, internal bool) {
	if errors.As(err, &e) {
		return e, false
	}
	var se *apierr.Error
	status, public := 0, false
	if errors.As(err, &se) {
		status, public = apierr.Status(se.Code)
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return newError(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body exceeds %d bytes", mbe.Limit), false
	case errors.Is(err, auth.ErrUnauthenticated):
		return newError(http.StatusUnauthorized, CodeUnauthenticated, "%s", err.Error()), false
	case errors.Is(err, auth.ErrPermissionDenied):
		return newError(http.StatusForbidden, CodePermissionDenied, "%s", err.Error()), false
	case errors.Is(err, ErrNotEnrolled):
		e := newError(http.StatusServiceUnavailable, CodeNotReady, "%s", ErrNotEnrolled.Error())
		e.retryAfter = notEnrolledRetry
		return e, false
	case public:
		// A state-machine error (agent/document, agent/tenancy): its code
		// and the status internal/apierr gives it.
		e := newError(status, se.Code, "%s", stateMessage(err, se))
		if se.Code == CodeStorageQuotaExceeded || se.Code == CodeQuotaExceeded {
			e.message += "; waiting will not help: delete data or move the tenant to a larger tier"
			e.quota = true
		}
		return e, false
	case errors.Is(err, store.ErrTooLarge):
		return newError(http.StatusRequestEntityTooLarge, CodeTooLarge, "request too large to replicate"), false
	case errors.Is(err, store.ErrNodeHasState):
		return newError(http.StatusConflict, CodeConflict, "%s", err.Error()), false
	case errors.Is(err, store.ErrRemoved):
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "this node was removed from the cluster and serves nothing; send requests to another member (to make it a member again, wipe its data directory and join it)"), false
	case errors.Is(err, store.ErrNoLeader), errors.Is(err, store.ErrNotLeader):
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "no cluster leader available; retry shortly"), false
	case errors.Is(err, store.ErrNotReady):
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "the new leader is not ready to serve consistent reads yet; retry shortly"), false
	case errors.Is(err, store.ErrClosed):
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "node is shutting down; retry on another node"), false
	case errors.Is(err, store.ErrLeadershipLost) && errors.Is(err, context.DeadlineExceeded):
		// A forwarded write the leader never answered (paused or
		// partitioned): it may still commit.
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "the leader did not answer in time: the write may or may not have been applied; read it back before retrying"), false
	case errors.Is(err, store.ErrLeadershipLost):
		// A leader change during commit, not a fault of this node: 503,
		// but the client must know the write may have been applied.
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "the leader changed while the write was committing: it may or may not have been applied; read it back before retrying"), false
	case errors.Is(err, context.DeadlineExceeded):
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "timed out waiting for the cluster; retry shortly"), false
	case errors.Is(err, context.Canceled):
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "request canceled"), false
	}
	return newError(http.StatusInternalServerError, CodeInternal, "internal error"), true
}

// stateMessage returns the message of se, the state-machine error in
// err's chain.
func stateMessage(err error, se *apierr.Error) string {
	if se.Message != "" {
		return se.Message
	}
	return err.Error()
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) { jsonapi.WriteJSON(w, status, v) }

// errorWriter writes this API's error answers.
func errorWriter() jsonapi.ErrorWriter { return jsonapi.ErrorWriter{Realm: "aerolith"} }

// writeAPIError answers with e in the standard error shape, adding the
// headers its status calls for.
func writeAPIError(w http.ResponseWriter, e *apiError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((e.retryAfter+time.Second-1)/time.Second), 10))
	}
	errorWriter().Write(w, e.status, e.code, e.message)
}
