package httpapi

import (
	"errors"
	"net/http"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/internal/apierr"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/store"
)

// Error codes of the {"error":{"code","message"}} body beside the ones
// both APIs answer with (internal/jsonapi's).
const (
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

// classifier answers the data API's errors; see jsonapi.Classifier.
func classifier() jsonapi.Classifier {
	return jsonapi.Classifier{
		Unauthenticated:  auth.ErrUnauthenticated,
		PermissionDenied: auth.ErrPermissionDenied,
		Special:          agentError,
		QuotaHint:        "waiting will not help: delete data or move the tenant to a larger tier",
		NoLeader:         "no cluster leader available; retry shortly",
		// A forwarded write the leader never answered (paused or
		// partitioned): it may still commit.
		NotAnswered: "the leader did not answer in time: the write may or may not have been applied; read it back before retrying",
		// A leader change during commit, not a fault of this node: 503,
		// but the client must know the write may have been applied.
		LeadershipLost: "the leader changed while the write was committing: it may or may not have been applied; read it back before retrying",
		Closed:         "node is shutting down; retry on another node",
		Timeout:        "timed out waiting for the cluster; retry shortly",
	}
}

// agentError answers the errors only the agent has, or returns nil.
func agentError(err error) *jsonapi.Error {
	switch {
	case errors.Is(err, ErrNotEnrolled):
		e := jsonapi.Errorf(http.StatusServiceUnavailable, CodeNotReady, "%s", ErrNotEnrolled.Error())
		e.RetryAfter = notEnrolledRetry
		return e
	case errors.Is(err, store.ErrNodeHasState):
		return jsonapi.Errorf(http.StatusConflict, jsonapi.CodeConflict, "%s", err.Error())
	case errors.Is(err, store.ErrRemoved):
		return jsonapi.Errorf(http.StatusServiceUnavailable, jsonapi.CodeUnavailable, "this node was removed from the cluster and serves nothing; send requests to another member (to make it a member again, wipe its data directory and join it)")
	}
	return nil
}

// classify maps any error to the answer the client sees. Errors the API
// does not know become 500 with a generic message; internal is then true so
// the caller logs the real error (never sent to the client).
func classify(err error) (e *jsonapi.Error, internal bool) { return classifier().Classify(err) }

// errorWriter writes this API's error answers.
func errorWriter() jsonapi.ErrorWriter { return jsonapi.ErrorWriter{Realm: "aerolith"} }
