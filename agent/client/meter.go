package client

import (
	"context"
	"net/http"
	"time"
)

// DeadLetter is a usage record billing rejected for good, kept in the
// dead-letter bucket of the node that served the usage (GET
// /api/v1/admin/meter/dead-letters).
type DeadLetter struct {
	Seq                uint64    `json:"seq"`
	Tenant             string    `json:"tenant_id"`
	Start              time.Time `json:"start"`
	End                time.Time `json:"end"`
	Reads              uint64    `json:"reads"`
	Writes             uint64    `json:"writes"`
	Queries            uint64    `json:"queries"`
	QueryComputeMs     uint64    `json:"query_compute_ms"`
	IngressBytes       uint64    `json:"ingress_bytes"`
	EgressBytes        uint64    `json:"egress_bytes"`
	StorageByteSeconds uint64    `json:"storage_byte_seconds"`
	Reason             string    `json:"reason"`
	At                 time.Time `json:"dead_lettered_at"`
}

// ReplayedDeadLetter is a dead letter sent again under NewSeq.
type ReplayedDeadLetter struct {
	Seq    uint64    `json:"seq"`
	NewSeq uint64    `json:"new_seq"`
	Tenant string    `json:"tenant_id"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

// DeadLetters lists the dead letters of the node the client talks to
// (each node keeps its own). Needs the cluster admin key.
func (c *Client) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	r, err := c.newRequest(http.MethodGet, "/api/v1/admin/meter/dead-letters", nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		DeadLetters []DeadLetter `json:"dead_letters"`
	}
	if _, err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.DeadLetters, nil
}

// ReplayDeadLetters sends the node's dead letters seqs (every one when
// seqs is empty) to billing again, once their cause is fixed; restamp
// moves each window to end now (for windows rejected because the node's
// clock was ahead). Needs the cluster admin key. The request is not
// retried: a replay that may have happened is checked with DeadLetters.
func (c *Client) ReplayDeadLetters(ctx context.Context, seqs []uint64, restamp bool) ([]ReplayedDeadLetter, error) {
	body := struct {
		Seqs    []uint64 `json:"seqs,omitempty"`
		All     bool     `json:"all,omitempty"`
		Restamp bool     `json:"restamp,omitempty"`
	}{seqs, len(seqs) == 0, restamp}
	r, err := c.newRequest(http.MethodPost, "/api/v1/admin/meter/dead-letters/replay", body)
	if err != nil {
		return nil, err
	}
	r.noRetry = true
	var out struct {
		Replayed []ReplayedDeadLetter `json:"replayed"`
	}
	if _, err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Replayed, nil
}
