package api

import (
	"errors"

	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// Sentinel errors of authentication; the HTTP layer maps them to 401 and
// 403.
var (
	// ErrUnauthenticated: the request carries no credential, or one that no
	// admin key, tenant key or enrollment token matches.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied: the credential is valid but may not do this.
	ErrPermissionDenied = errors.New("permission denied")
)

// classifier answers the billing API's errors; see jsonapi.Classifier.
// The ledger's errors pass through with internal/apierr's codes.
func classifier() jsonapi.Classifier {
	return jsonapi.Classifier{
		Unauthenticated:  ErrUnauthenticated,
		PermissionDenied: ErrPermissionDenied,
		NoLeader:         "no billing leader available; retry shortly",
		LeadershipLost:   "leadership changed while committing; the outcome is unknown, retry (usage and invoice operations are idempotent)",
		Closed:           "replica is shutting down; retry on another replica",
		Timeout:          "timed out waiting for the replicas; retry shortly",
	}
}

// classify maps any error to the answer the client sees. Unknown errors
// become 500 with a generic message; internal is then true so the caller
// logs the real error.
func classify(err error) (e *jsonapi.Error, internal bool) { return classifier().Classify(err) }

// errorWriter writes this API's error answers.
func errorWriter() jsonapi.ErrorWriter { return jsonapi.ErrorWriter{Realm: "aerolith-billing"} }
