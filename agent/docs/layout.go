package docs

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	keyStats   = []byte("stats")
	keyMeta    = []byte("meta")
	bucketDocs = []byte("docs")
)

const (
	tenantPrefix = "t:"
	collPrefix   = "c:"
	indexPrefix  = "idx:"
)

func tenantBucketName(tenant string) []byte { return []byte(tenantPrefix + tenant) }
func collBucketName(coll string) []byte     { return []byte(collPrefix + coll) }
func indexBucketName(field string) []byte   { return []byte(indexPrefix + field) }

// record is a stored document: the value under its id in "docs".
type record struct {
	Version uint64
	Created int64 // Unix nanoseconds
	Updated int64
	Data    []byte // compacted JSON object
}

func encodeRecord(r *record) []byte {
	b := make([]byte, 0, 3*binary.MaxVarintLen64+len(r.Data))
	b = binary.AppendUvarint(b, r.Version)
	b = binary.AppendVarint(b, r.Created)
	b = binary.AppendVarint(b, r.Updated)
	return append(b, r.Data...)
}

// decodeRecord decodes a stored record. The Data of the result aliases b
// unless copyData is set (bbolt memory is only valid in its transaction).
func decodeRecord(b []byte, copyData bool) (record, error) {
	d := decoder{b: b}
	r := record{Version: d.uvarint(), Created: d.varint(), Updated: d.varint()}
	if d.err != nil {
		return record{}, fmt.Errorf("corrupt document record: %w", d.err)
	}
	r.Data = d.b
	if copyData {
		r.Data = append(make([]byte, 0, len(d.b)), d.b...)
	}
	return r, nil
}

func (r *record) document(id string) Document {
	return Document{
		ID:        id,
		Data:      json.RawMessage(r.Data),
		Version:   r.Version,
		CreatedAt: time.Unix(0, r.Created).UTC(),
		UpdatedAt: time.Unix(0, r.Updated).UTC(),
	}
}

// docBytes is what a document counts towards storage statistics.
func docBytes(id string, data []byte) int64 { return int64(len(id) + len(data)) }

// indexKey is an index entry: the value's order-preserving key, the
// document id, and the id's length (2 bytes) so the id can be cut back out.
func indexKey(valueKey []byte, id string) []byte {
	k := make([]byte, 0, len(valueKey)+len(id)+2)
	k = append(k, valueKey...)
	k = append(k, id...)
	return binary.BigEndian.AppendUint16(k, uint16(len(id)))
}

// idFromIndexKey returns the document id of an index entry.
func idFromIndexKey(k []byte) ([]byte, error) {
	if len(k) < 3 {
		return nil, errors.New("corrupt index entry: too short")
	}
	n := int(binary.BigEndian.Uint16(k[len(k)-2:]))
	if n == 0 || n > len(k)-3 {
		return nil, errors.New("corrupt index entry: bad id length")
	}
	return k[len(k)-2-n : len(k)-2], nil
}

// collMeta is a collection's "meta" value.
type collMeta struct {
	Documents int64       `json:"documents"`
	Bytes     int64       `json:"bytes"`
	Indexes   []indexMeta `json:"indexes,omitempty"` // ascending by field
}

// indexMeta describes one index.
type indexMeta struct {
	Field   string `json:"field"`
	Entries int64  `json:"entries"`
	Bytes   int64  `json:"bytes"`
	// Multikey counts documents with more than one key in the index. While
	// it is zero, both ends of a range can bound an index scan.
	Multikey int64 `json:"multikey"`
}

// tenantMeta is a tenant's "stats" value.
type tenantMeta struct {
	Collections int64 `json:"collections"`
	Documents   int64 `json:"documents"`
	Bytes       int64 `json:"bytes"`
	Indexes     int64 `json:"indexes"`
	IndexBytes  int64 `json:"index_bytes"`
}

func (m *collMeta) index(field string) *indexMeta {
	for i := range m.Indexes {
		if m.Indexes[i].Field == field {
			return &m.Indexes[i]
		}
	}
	return nil
}

func (m *collMeta) indexBytes() int64 {
	var n int64
	for _, im := range m.Indexes {
		n += im.Bytes
	}
	return n
}

func loadCollMeta(cb *bolt.Bucket) (collMeta, error) {
	var m collMeta
	if v := cb.Get(keyMeta); v != nil {
		if err := json.Unmarshal(v, &m); err != nil {
			return collMeta{}, fmt.Errorf("corrupt collection metadata: %w", err)
		}
	}
	return m, nil
}

func loadTenantMeta(tb *bolt.Bucket) (tenantMeta, error) {
	var m tenantMeta
	if v := tb.Get(keyStats); v != nil {
		if err := json.Unmarshal(v, &m); err != nil {
			return tenantMeta{}, fmt.Errorf("corrupt tenant statistics: %w", err)
		}
	}
	return m, nil
}

func internalf(format string, args ...any) *Error { return errorf(CodeInternal, format, args...) }
