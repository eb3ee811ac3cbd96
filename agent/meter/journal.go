package meter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"unicode/utf8"
)

// A journal record frames one Record call's usage:
//
//	[4] body length n, little endian
//	[n] body: version (1), uvarint tenant length, tenant bytes, then six
//	    uvarints: reads, writes, queries, query compute ms, ingress bytes,
//	    egress bytes
//	[4] CRC-32C (Castagnoli) of the length and the body, little endian
//
// It is appended whole (copied into the file's shared mapping, or one
// write(2)), so a record is either wholly in the file or, after a crash
// during the append, a torn tail that fails the length or checksum
// check. A body is never empty, so four zero bytes (the unused,
// preallocated end of a mapped file) are never a record.
const (
	journalVersion = 1
	journalHeader  = 4
	journalTrailer = 4
	// journalMaxBody bounds a body: version, a 2-byte tenant length, the
	// tenant and six 10-byte uvarints.
	journalMaxBody = 1 + 2 + maxTenantLen + 6*binary.MaxVarintLen64
	// journalMinBody: version, tenant length, a 1-byte tenant, six zeros.
	journalMinBody = 1 + 1 + 1 + 6
	// journalMaxRecord bounds an encoded record.
	journalMaxRecord = journalHeader + journalMaxBody + journalTrailer
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Journal decoding errors. errJournalTorn: the bytes end inside a record
// (a write cut short by a crash); errJournalCorrupt: the bytes are not a
// record (bad length, checksum or body).
var (
	errJournalTorn    = errors.New("journal record cut short")
	errJournalCorrupt = errors.New("corrupt journal record")
)

// checkTenant returns why tenant cannot be recorded ("" when it can): the
// outbox and billing need a non-empty UTF-8 id of at most maxTenantLen
// bytes.
func checkTenant(tenant string) error {
	switch {
	case tenant == "":
		return errors.New("meter: tenant: empty")
	case len(tenant) > maxTenantLen:
		return fmt.Errorf("meter: tenant: %d bytes, longer than %d", len(tenant), maxTenantLen)
	case !utf8.ValidString(tenant):
		return fmt.Errorf("meter: tenant %q: not UTF-8", tenant)
	}
	return nil
}

// appendJournalRecord appends the framed record of (tenant, u) to b. The
// tenant must have passed checkTenant.
func appendJournalRecord(b []byte, tenant string, u Usage) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, journalVersion)
	b = binary.AppendUvarint(b, uint64(len(tenant)))
	b = append(b, tenant...)
	for _, v := range [...]uint64{u.Reads, u.Writes, u.Queries, u.QueryComputeMs, u.IngressBytes, u.EgressBytes} {
		b = binary.AppendUvarint(b, v)
	}
	binary.LittleEndian.PutUint32(b[start:], uint32(len(b)-start-journalHeader))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// decodeJournalRecord decodes the record at the start of b and returns
// its size. Errors wrap errJournalTorn when b ends inside a plausible
// record and errJournalCorrupt otherwise, and say what is wrong.
func decodeJournalRecord(b []byte) (tenant string, u Usage, size int, err error) {
	if len(b) < journalHeader {
		return "", Usage{}, 0, fmt.Errorf("%w: %d of %d header bytes", errJournalTorn, len(b), journalHeader)
	}
	n := binary.LittleEndian.Uint32(b)
	if n < journalMinBody || n > journalMaxBody {
		return "", Usage{}, 0, fmt.Errorf("%w: body length %d (want %d to %d)", errJournalCorrupt, n, journalMinBody, journalMaxBody)
	}
	size = journalHeader + int(n) + journalTrailer
	if len(b) < size {
		return "", Usage{}, 0, fmt.Errorf("%w: %d of %d bytes", errJournalTorn, len(b), size)
	}
	sum := binary.LittleEndian.Uint32(b[size-journalTrailer:])
	if got := crc32.Checksum(b[:size-journalTrailer], castagnoli); got != sum {
		return "", Usage{}, 0, fmt.Errorf("%w: checksum %08x, stored %08x", errJournalCorrupt, got, sum)
	}
	body := b[journalHeader : size-journalTrailer]
	if body[0] != journalVersion {
		return "", Usage{}, 0, fmt.Errorf("%w: version %d (want %d)", errJournalCorrupt, body[0], journalVersion)
	}
	body = body[1:]
	l, k := binary.Uvarint(body)
	if k <= 0 || l == 0 || l > maxTenantLen || l > uint64(len(body)-k) {
		return "", Usage{}, 0, fmt.Errorf("%w: tenant length", errJournalCorrupt)
	}
	body = body[k:]
	tenant = string(body[:l])
	if !utf8.ValidString(tenant) {
		return "", Usage{}, 0, fmt.Errorf("%w: tenant is not UTF-8", errJournalCorrupt)
	}
	body = body[l:]
	for i, p := range [...]*uint64{&u.Reads, &u.Writes, &u.Queries, &u.QueryComputeMs, &u.IngressBytes, &u.EgressBytes} {
		v, k := binary.Uvarint(body)
		if k <= 0 {
			return "", Usage{}, 0, fmt.Errorf("%w: counter %d", errJournalCorrupt, i)
		}
		*p, body = v, body[k:]
	}
	if len(body) != 0 {
		return "", Usage{}, 0, fmt.Errorf("%w: %d trailing body bytes", errJournalCorrupt, len(body))
	}
	return tenant, u, size, nil
}
