package jsonapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/apierr"
	"github.com/aerolithdb/aerolith/store"
)

func TestClassify(t *testing.T) {
	errUnauth := errors.New("no key")
	errDenied := errors.New("not yours")
	errSpecial := errors.New("special")
	c := Classifier{
		Unauthenticated:  errUnauth,
		PermissionDenied: errDenied,
		Special: func(err error) *Error {
			if errors.Is(err, errSpecial) {
				return Errorf(http.StatusTeapot, "teapot", "short and stout")
			}
			return nil
		},
		QuotaHint:      "upgrade",
		NoLeader:       "no leader",
		NotAnswered:    "not answered",
		LeadershipLost: "lost",
		Closed:         "closed",
		Timeout:        "timeout",
	}
	tests := []struct {
		name     string
		err      error
		status   int
		code     string
		msg      string
		quota    bool
		internal bool
	}{
		{name: "decided", err: fmt.Errorf("ctx: %w", Invalid("x: bad")), status: 400, code: CodeInvalidArgument, msg: "x: bad"},
		{name: "body too large", err: &http.MaxBytesError{Limit: 10}, status: 413, code: CodeTooLarge, msg: "request body exceeds 10 bytes"},
		{name: "unauthenticated", err: fmt.Errorf("%w: bad key", errUnauth), status: 401, code: CodeUnauthenticated, msg: "no key: bad key"},
		{name: "denied", err: errDenied, status: 403, code: CodePermissionDenied, msg: "not yours"},
		{name: "special", err: errSpecial, status: 418, code: "teapot", msg: "short and stout"},
		{name: "state machine", err: apierr.Errorf(apierr.CodeNotFound, "tenant %q not found", "t"), status: 404, code: CodeNotFound, msg: `tenant "t" not found`},
		{name: "quota", err: apierr.Errorf(apierr.CodeQuotaExceeded, "too many"), status: 429, code: apierr.CodeQuotaExceeded, msg: "too many; upgrade", quota: true},
		{name: "state machine fault", err: apierr.Errorf(apierr.CodeInternal, "disk"), status: 500, code: CodeInternal, msg: "internal error", internal: true},
		{name: "too large to replicate", err: store.ErrTooLarge, status: 413, code: CodeTooLarge, msg: "request too large to replicate"},
		{name: "no leader", err: store.ErrNotLeader, status: 503, code: CodeUnavailable, msg: "no leader"},
		{name: "not ready", err: store.ErrNotReady, status: 503, code: CodeUnavailable, msg: "the new leader is not ready to serve consistent reads yet; retry shortly"},
		{name: "closed", err: store.ErrClosed, status: 503, code: CodeUnavailable, msg: "closed"},
		{name: "not answered", err: fmt.Errorf("%w: %w", store.ErrLeadershipLost, context.DeadlineExceeded), status: 503, code: CodeUnavailable, msg: "not answered"},
		{name: "leadership lost", err: store.ErrLeadershipLost, status: 503, code: CodeUnavailable, msg: "lost"},
		{name: "timeout", err: context.DeadlineExceeded, status: 503, code: CodeUnavailable, msg: "timeout"},
		{name: "canceled", err: context.Canceled, status: 503, code: CodeUnavailable, msg: "request canceled"},
		{name: "unknown", err: errors.New("boom"), status: 500, code: CodeInternal, msg: "internal error", internal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, internal := c.Classify(tt.err)
			if e.Status != tt.status || e.Code != tt.code || e.Message != tt.msg || e.Quota != tt.quota || internal != tt.internal {
				t.Errorf("Classify(%v) = %+v internal %v, want %d %s %q quota %v internal %v", tt.err, e, internal, tt.status, tt.code, tt.msg, tt.quota, tt.internal)
			}
		})
	}
	// Without NotAnswered, a forwarded write that timed out is a lost
	// leadership.
	c.NotAnswered = ""
	if e, _ := c.Classify(fmt.Errorf("%w: %w", store.ErrLeadershipLost, context.DeadlineExceeded)); e.Message != "lost" {
		t.Errorf("without NotAnswered: message %q, want lost", e.Message)
	}
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	ErrorWriter{Realm: "r"}.WriteError(rec, &Error{Status: 409, Code: CodeConflict, Message: "exists", RetryAfter: 1500 * time.Millisecond})
	if rec.Code != 409 || rec.Header().Get("Retry-After") != "2" || rec.Body.String() != `{"error":{"code":"conflict","message":"exists"}}`+"\n" {
		t.Errorf("WriteError = %d %q %q", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
}
