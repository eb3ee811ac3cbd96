// Package docs is Aerolith's document model: the replicated state machine
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
// concurrently in separate transactions; the Documents they return own their
// memory.
package docs

import (
	"encoding/json"
	"time"
)

// Document is a stored document as the API presents it.
type Document struct {
	ID        string          `json:"id"`
	Data      json.RawMessage `json:"data"`
	Version   uint64          `json:"version"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// Page is one page of documents from List or Query.
type Page struct {
	Documents []Document `json:"documents"`
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
