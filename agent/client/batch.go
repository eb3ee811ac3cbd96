package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Batch operation kinds.
const (
	OpPut    = "put"
	OpDelete = "delete"
)

// BatchOp is one operation of an atomic batch.
type BatchOp struct {
	// Op is OpPut or OpDelete.
	Op         string `json:"op"`
	Collection string `json:"collection"`
	// ID names the document. It may be empty for OpPut: the server then
	// assigns one (and the batch is not retried, as a resend would create
	// the document twice).
	ID string `json:"id,omitempty"`
	// Data is the document for OpPut, marshalled with encoding/json.
	Data any `json:"data,omitempty"`
	// IfVersion, when non-zero, makes the operation conditional on the
	// document's current version (the whole batch fails otherwise).
	IfVersion uint64 `json:"if_version,omitempty"`
}

// BatchOpResult is the outcome of one operation of a committed batch.
type BatchOpResult struct {
	Op         string `json:"op"`
	Collection string `json:"collection"`
	ID         string `json:"id"`
	// Version is the document's new version after a put.
	Version uint64 `json:"version,omitempty"`
	// Document is the stored document after a put (nil for a delete).
	Document *Document `json:"document,omitempty"`
}

// BatchResult lists the outcome of every operation, in request order.
type BatchResult struct {
	Results []BatchOpResult `json:"results"`
}

// Batch applies ops atomically: all of them or, on any error, none. A batch
// of unconditional puts with ids only is retried like an idempotent request.
func (c *Client) Batch(ctx context.Context, ops []BatchOp) (*BatchResult, error) {
	if len(ops) == 0 {
		return nil, errors.New("batch: no operations")
	}
	idempotent := true
	for i, op := range ops {
		switch op.Op {
		case OpPut:
			if op.ID == "" {
				idempotent = false
			}
		case OpDelete:
			idempotent = false
			if op.ID == "" {
				return nil, fmt.Errorf("batch: operation %d: delete needs an id", i)
			}
		default:
			return nil, fmt.Errorf("batch: operation %d: op %q: want %q or %q", i, op.Op, OpPut, OpDelete)
		}
		if op.Collection == "" {
			return nil, fmt.Errorf("batch: operation %d: collection is required", i)
		}
		if op.IfVersion != 0 {
			idempotent = false
		}
	}
	body := struct {
		Operations []BatchOp `json:"operations"`
	}{ops}
	r, err := c.newRequest(http.MethodPost, "/api/v1/batch", body)
	if err != nil {
		return nil, err
	}
	r.idempotent = idempotent
	var res BatchResult
	if _, err := c.call(ctx, r, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
