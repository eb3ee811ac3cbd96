package jsonapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/aerolithdb/aerolith/internal/apierr"
	"github.com/aerolithdb/aerolith/store"
)

// Error is an error with its HTTP answer decided. A handler returns one to
// answer with a specific status; any other error goes through a
// Classifier.
type Error struct {
	Status  int
	Code    string
	Message string
	// RetryAfter, when positive, is sent as Retry-After (seconds, rounded
	// up).
	RetryAfter time.Duration
	// Quota marks a refusal by a tenant's quota (Classifier.QuotaHint),
	// which the agent never meters.
	Quota bool
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error of status and code with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a 400 invalid_argument.
func Invalid(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, CodeInvalidArgument, format, args...)
}

// NotFound returns a 404 not_found.
func NotFound(format string, args ...any) *Error {
	return Errorf(http.StatusNotFound, CodeNotFound, format, args...)
}

// Forbidden returns a 403 permission_denied.
func Forbidden(format string, args ...any) *Error {
	return Errorf(http.StatusForbidden, CodePermissionDenied, format, args...)
}

// Classifier maps any error a handler returns to the answer the client
// sees, for one API: an *Error as it is; a request body over its limit
// 413; the API's authentication sentinels 401 and 403; a state machine's
// *apierr.Error its code with the status internal/apierr gives it; the
// store's errors 413 or 503 with the API's wording; anything else 500 with
// a generic message.
type Classifier struct {
	// Unauthenticated and PermissionDenied are the API's sentinels,
	// answered 401 and 403 with their message.
	Unauthenticated, PermissionDenied error
	// Special, when set, answers the API's own errors (nil: not one),
	// asked after authentication and before the state machines' errors.
	Special func(error) *Error
	// QuotaHint, when set, is appended to the message of a state-machine
	// error of a quota code (apierr.CodeQuotaExceeded,
	// CodeStorageQuotaExceeded), which is marked Quota.
	QuotaHint string
	// The 503 messages: no leader; a forwarded write the leader did not
	// answer in time (empty: LeadershipLost's); a leader change while
	// committing; the node or replica shutting down; a timeout.
	NoLeader, NotAnswered, LeadershipLost, Closed, Timeout string
}

// Classify returns the answer to err. internal is true when err is a
// fault the API does not know: the answer then says "internal error" and
// the caller logs err, which is never sent to a client.
func (c Classifier) Classify(err error) (e *Error, internal bool) {
	if errors.As(err, &e) {
		return e, false
	}
	unavailable := func(msg string) (*Error, bool) {
		return Errorf(http.StatusServiceUnavailable, CodeUnavailable, "%s", msg), false
	}
	var se *apierr.Error
	status, public := 0, false
	if errors.As(err, &se) {
		status, public = apierr.Status(se.Code)
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body exceeds %d bytes", mbe.Limit), false
	case c.Unauthenticated != nil && errors.Is(err, c.Unauthenticated):
		return Errorf(http.StatusUnauthorized, CodeUnauthenticated, "%s", err.Error()), false
	case c.PermissionDenied != nil && errors.Is(err, c.PermissionDenied):
		return Errorf(http.StatusForbidden, CodePermissionDenied, "%s", err.Error()), false
	}
	if c.Special != nil {
		if e := c.Special(err); e != nil {
			return e, false
		}
	}
	switch {
	case public:
		e := Errorf(status, se.Code, "%s", stateMessage(err, se))
		if c.QuotaHint != "" && (se.Code == apierr.CodeStorageQuotaExceeded || se.Code == apierr.CodeQuotaExceeded) {
			e.Message += "; " + c.QuotaHint
			e.Quota = true
		}
		return e, false
	case errors.Is(err, store.ErrTooLarge):
		return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request too large to replicate"), false
	case errors.Is(err, store.ErrNoLeader), errors.Is(err, store.ErrNotLeader):
		return unavailable(c.NoLeader)
	case errors.Is(err, store.ErrNotReady):
		return unavailable("the new leader is not ready to serve consistent reads yet; retry shortly")
	case errors.Is(err, store.ErrClosed):
		return unavailable(c.Closed)
	case c.NotAnswered != "" && errors.Is(err, store.ErrLeadershipLost) && errors.Is(err, context.DeadlineExceeded):
		return unavailable(c.NotAnswered)
	case errors.Is(err, store.ErrLeadershipLost):
		return unavailable(c.LeadershipLost)
	case errors.Is(err, context.DeadlineExceeded):
		return unavailable(c.Timeout)
	case errors.Is(err, context.Canceled):
		return unavailable("request canceled")
	}
	return Errorf(http.StatusInternalServerError, CodeInternal, "internal error"), true
}

// stateMessage returns the message of se, the state-machine error in
// err's chain.
func stateMessage(err error, se *apierr.Error) string {
	if se.Message != "" {
		return se.Message
	}
	return err.Error()
}

// WriteError answers with e in the ErrorBody shape, adding the headers
// its status calls for (see Write) and e.RetryAfter.
func (ew ErrorWriter) WriteError(w http.ResponseWriter, e *Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	ew.Write(w, e.Status, e.Code, e.Message)
}

// Fail answers err on w as c classifies it, written by ew, and returns
// the answer. An internal fault is logged with the request's method and
// route, never sent.
func (c Classifier) Fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, ew ErrorWriter, err error) *Error {
	e, internal := c.Classify(err)
	if internal {
		log.Error("request failed", "method", r.Method, "route", RouteOf(r), "err", err)
	}
	ew.WriteError(w, e)
	return e
}
