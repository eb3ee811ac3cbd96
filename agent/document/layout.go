package document

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
	// sealed, when set, is Data sealed for storage (Config.Sealer): what
	// encodeRecord writes instead of Data.
	sealed []byte
}

func encodeRecord(r *record) []byte {
	data := r.Data
	if r.sealed != nil {
		data = r.sealed
	}
	b := make([]byte, 0, 3*binary.MaxVarintLen64+len(data))
	b = binary.AppendUvarint(b, r.Version)
	b = binary.AppendVarint(b, r.Created)
	b = binary.AppendVarint(b, r.Updated)
	return append(b, data...)
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

func (r *record) document(id string) Doc {
	return Doc{
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
	Documents int64
	Bytes     int64
	Indexes   []indexMeta // ascending by field
}

// indexMeta describes one index.
type indexMeta struct {
	Field   string
	Entries int64
	Bytes   int64
	// Multikey counts documents with more than one key in the index. While
	// it is zero, both ends of a range can bound an index scan.
	Multikey int64
}

// tenantMeta is a tenant's "stats" value.
type tenantMeta struct {
	Collections int64
	Documents   int64
	Bytes       int64
	Indexes     int64
	IndexBytes  int64
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

// Metadata values are binary: a format byte, then varints (and, for an
// index, its field as a length-prefixed string).
const metaFormat byte = 1

func (m *collMeta) encode() []byte {
	b := []byte{metaFormat}
	b = binary.AppendVarint(b, m.Documents)
	b = binary.AppendVarint(b, m.Bytes)
	b = binary.AppendUvarint(b, uint64(len(m.Indexes)))
	for _, im := range m.Indexes {
		b = appendString(b, im.Field)
		b = binary.AppendVarint(b, im.Entries)
		b = binary.AppendVarint(b, im.Bytes)
		b = binary.AppendVarint(b, im.Multikey)
	}
	return b
}

func loadCollMeta(cb *bolt.Bucket) (collMeta, error) {
	var m collMeta
	v := cb.Get(keyMeta)
	if v == nil {
		return m, nil
	}
	d := decoder{b: v}
	if f := d.byte(); f != metaFormat && d.err == nil {
		return collMeta{}, fmt.Errorf("corrupt collection metadata: unknown format %d", f)
	}
	m.Documents = d.varint()
	m.Bytes = d.varint()
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		return collMeta{}, errors.New("corrupt collection metadata: bad index count")
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		m.Indexes = append(m.Indexes, indexMeta{Field: d.string(), Entries: d.varint(), Bytes: d.varint(), Multikey: d.varint()})
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return collMeta{}, fmt.Errorf("corrupt collection metadata: %w", d.err)
	}
	return m, nil
}

func (m *tenantMeta) encode() []byte {
	b := []byte{metaFormat}
	for _, n := range []int64{m.Collections, m.Documents, m.Bytes, m.Indexes, m.IndexBytes} {
		b = binary.AppendVarint(b, n)
	}
	return b
}

func loadTenantMeta(tb *bolt.Bucket) (tenantMeta, error) {
	var m tenantMeta
	v := tb.Get(keyStats)
	if v == nil {
		return m, nil
	}
	d := decoder{b: v}
	if f := d.byte(); f != metaFormat && d.err == nil {
		return tenantMeta{}, fmt.Errorf("corrupt tenant statistics: unknown format %d", f)
	}
	for _, p := range []*int64{&m.Collections, &m.Documents, &m.Bytes, &m.Indexes, &m.IndexBytes} {
		*p = d.varint()
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return tenantMeta{}, fmt.Errorf("corrupt tenant statistics: %w", d.err)
	}
	return m, nil
}

func internalf(format string, args ...any) *Error { return errorf(CodeInternal, format, args...) }
