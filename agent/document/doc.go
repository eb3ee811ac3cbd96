// Package document is Aerolith's document model: the replicated state machine
// that applies document commands (puts, deletes, index and collection
// operations) inside the store's bbolt transactions, and the read side (get,
// list, query with secondary indexes, collection and tenant statistics) that
// runs inside the store's read transactions.
//
// Everything is namespaced per tenant. The bbolt layout is
//
//	"t:<tenant>"                    tenant bucket
//	    "stats"                     tenant counters
//	    "c:<collection>"            collection bucket
//	        "meta"                  collection counters and index list
//	        "docs"                  id → record (version, timestamps, JSON data)
//	        "idx:<field>"           query.EncodeKey(value) + id + len(id) → empty
//
// Counters (documents, bytes, index entries and bytes) are kept in the same
// transaction as the writes, so statistics are exact, O(1) to read and
// identical on every node. A document's bytes are len(id) + len(data), its
// data being the compacted JSON object as stored.
//
// Apply is deterministic and all-or-nothing per command: a command is
// validated and staged in memory against the transaction, and only written
// when every operation succeeded. Read functions are safe to call
// concurrently in separate transactions; the Docs they return own their
// memory.
//
// # Tenant limits
//
// Config.Limits gives each tenant's Limits, read from the same transaction
// (the agent serves them from the replicated tenant policy), so every
// replica makes the same decision. Three measures are bounded:
//
//   - stored bytes: Stats.Bytes + Stats.IndexBytes, one number, the same
//     one Config.OnStorage reports (StorageBytes, error code
//     "storage_quota_exceeded");
//   - collections of the tenant (MaxCollections, code "quota_exceeded");
//   - documents of each collection (MaxDocumentsPerCollection, code
//     "quota_exceeded"); replacing a document adds none.
//
// They are checked after every operation of a command is staged and before
// anything is written, on the state the command would leave: a measure is
// passed when it ends above its limit and above its value before the
// command. Writes that grow nothing (deletes, drops, same-size or shrinking
// puts, batches that add and remove as much) always pass, even when a
// tenant is over a limit, for instance after its limits were lowered. When
// a limit is passed and Limits.Refuse is set, the whole command fails with
// ErrStorageQuotaExceeded or ErrQuotaExceeded (OpIndex: the operation that
// first grew the measure past the limit; the message names the limit, its
// value and the value the write would reach, never a tenant); otherwise it
// is applied and Result.Exceeded lists the passed limits.
//
// After a command is written, Config.OnStorage is told the stored bytes of
// each tenant whose stored bytes changed, at the time of the command's last
// operation on that tenant; it is never told of a failed command.
package document

import (
	"encoding/json"
	"time"
)

// Doc is a stored document as the API presents it.
type Doc struct {
	ID        string          `json:"id"`
	Data      json.RawMessage `json:"data"`
	Version   uint64          `json:"version"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// Page is one page of documents from List or Query.
type Page struct {
	Documents []Doc `json:"documents"`
	// Total counts every document of the listing (List) or every matching
	// document (Query), not only this page.
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

// QueryRequest is a query: a filter (see package query), a sort
// ({"field": 1|-1, ...}, id ascending breaking ties) and paging.
type QueryRequest struct {
	Filter json.RawMessage `json:"filter,omitempty"`
	Sort   json.RawMessage `json:"sort,omitempty"`
	Limit  int             `json:"limit,omitempty"`
	Offset int             `json:"offset,omitempty"`
}

// Explain says how a query was served.
type Explain struct {
	// Index is the indexed field the query scanned, "" for a full scan.
	Index string `json:"index"`
	// Scanned counts documents fetched and evaluated against the filter.
	Scanned int `json:"scanned"`
	// Plan describes the plan, e.g. `IXSCAN age in (5, +inf) -> FETCH -> FILTER -> SORT {"age":-1}`.
	Plan string `json:"plan"`
}

// CollectionInfo describes a collection.
type CollectionInfo struct {
	Name      string `json:"name"`
	Documents int    `json:"documents"`
	// Bytes is the sum of len(id) + len(data) over the documents.
	Bytes int64 `json:"bytes"`
	// Indexes lists the indexed fields in ascending order.
	Indexes []string `json:"indexes"`
	// IndexBytes is the total size of the collection's index keys.
	IndexBytes int64 `json:"index_bytes"`
}

// Stats are a tenant's totals over all its collections.
type Stats struct {
	Collections int   `json:"collections"`
	Documents   int   `json:"documents"`
	Bytes       int64 `json:"bytes"`
	Indexes     int   `json:"indexes"`
	IndexBytes  int64 `json:"index_bytes"`
}

// Paging limits for List and Query.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)
