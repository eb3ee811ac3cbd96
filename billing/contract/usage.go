package contract

import "time"

// MaxBatchRecords bounds the records of one usage batch (POST
// /api/v1/usage): billing refuses a larger batch.
const MaxBatchRecords = 1000

// UsageRecord is one metering record of one tenant on one node for the
// window [Start, End). (cluster, NodeID, Incarnation, Seq) identifies it
// forever: each outbox numbers its records 1, 2, 3, ...
type UsageRecord struct {
	NodeID string `json:"node_id"`
	// Incarnation identifies the node's outbox: a node whose data
	// directory was wiped numbers its records from 1 again under a new
	// incarnation, and billing deduplicates by (cluster, node,
	// incarnation, seq). Empty for records of outboxes older than
	// incarnations.
	Incarnation        string    `json:"incarnation,omitempty"`
	Seq                uint64    `json:"seq"`
	TenantID           string    `json:"tenant_id"`
	Start              time.Time `json:"start"`
	End                time.Time `json:"end"`
	Reads              uint64    `json:"reads,omitempty"`
	Writes             uint64    `json:"writes,omitempty"`
	Queries            uint64    `json:"queries,omitempty"`
	QueryComputeMs     uint64    `json:"query_compute_ms,omitempty"`
	IngressBytes       uint64    `json:"ingress_bytes,omitempty"`
	EgressBytes        uint64    `json:"egress_bytes,omitempty"`
	StorageByteSeconds uint64    `json:"storage_byte_seconds,omitempty"`
}

// Record outcomes of a usage batch.
const (
	RecordAccepted  = "accepted"
	RecordDuplicate = "duplicate"
	RecordRejected  = "rejected"
)

// RecordResult is the outcome of one record. A record is done (remove it
// from the outbox) unless Status is rejected and Retry is true.
type RecordResult struct {
	Status string `json:"status"`
	// Code classifies a rejection: invalid_argument (a bad field),
	// permission_denied (tenant not served by the cluster), not_found,
	// failed_precondition (tenant deleted; too many sequence gaps).
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	Retry  bool   `json:"retry,omitempty"`
}

// IngestResult is the outcome of a usage batch, one RecordResult per
// record in order.
type IngestResult struct {
	Accepted   int            `json:"accepted"`
	Duplicates int            `json:"duplicates"`
	Rejected   int            `json:"rejected"`
	Records    []RecordResult `json:"records"`
}
