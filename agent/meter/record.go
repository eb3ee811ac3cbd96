package meter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Record is one closed window of one tenant as kept in the outbox and
// sent to billing. (node, Seq) identifies it forever.
type Record struct {
	Seq    uint64
	Tenant string
	// Start and End bound the window [Start, End).
	Start, End time.Time
	Usage
	StorageByteSeconds uint64
}

// recordVersion is the first byte of an encoded record.
const recordVersion = 1

// maxTenantLen bounds a tenant id in an encoded record.
const maxTenantLen = 256

// ErrCorrupt is returned (wrapped) when an outbox record cannot be decoded.
var ErrCorrupt = errors.New("corrupt outbox record")

// encodeRecord encodes r (without its Seq, which is the key).
func encodeRecord(r Record) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64*10+len(r.Tenant))
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, uint64(len(r.Tenant)))
	b = append(b, r.Tenant...)
	b = binary.AppendVarint(b, r.Start.UnixNano())
	b = binary.AppendVarint(b, r.End.UnixNano())
	for _, v := range [...]uint64{r.Reads, r.Writes, r.Queries, r.QueryComputeMs, r.IngressBytes, r.EgressBytes, r.StorageByteSeconds} {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

// decodeRecord decodes an outbox value. Errors wrap ErrCorrupt and say
// which field is wrong.
func decodeRecord(seq uint64, b []byte) (Record, error) {
	if len(b) == 0 {
		return Record{}, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	if b[0] != recordVersion {
		return Record{}, fmt.Errorf("%w: version %d (want %d)", ErrCorrupt, b[0], recordVersion)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return Record{}, fmt.Errorf("%w: tenant length", ErrCorrupt)
	}
	b = b[k:]
	if n == 0 || n > maxTenantLen || n > uint64(len(b)) {
		return Record{}, fmt.Errorf("%w: tenant length %d", ErrCorrupt, n)
	}
	r := Record{Seq: seq, Tenant: string(b[:n])}
	if !utf8.ValidString(r.Tenant) {
		return Record{}, fmt.Errorf("%w: tenant is not UTF-8", ErrCorrupt)
	}
	b = b[n:]
	var ts [2]int64
	for i, name := range [...]string{"start", "end"} {
		v, k := binary.Varint(b)
		if k <= 0 {
			return Record{}, fmt.Errorf("%w: %s", ErrCorrupt, name)
		}
		ts[i], b = v, b[k:]
	}
	if ts[1] < ts[0] {
		return Record{}, fmt.Errorf("%w: end before start", ErrCorrupt)
	}
	r.Start, r.End = time.Unix(0, ts[0]).UTC(), time.Unix(0, ts[1]).UTC()
	for i, p := range [...]*uint64{&r.Reads, &r.Writes, &r.Queries, &r.QueryComputeMs, &r.IngressBytes, &r.EgressBytes, &r.StorageByteSeconds} {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return Record{}, fmt.Errorf("%w: counter %d", ErrCorrupt, i)
		}
		*p, b = v, b[k:]
	}
	if len(b) != 0 {
		return Record{}, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b))
	}
	return r, nil
}
