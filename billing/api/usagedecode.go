package api

import (
	"bytes"
	"io"
	"math"
	"time"

	"github.com/aerolithdb/aerolith/billing/ledger"
)

// Usage batches are the ingestion hot path, and decoding them with
// encoding/json's reflection costs more CPU than applying them. decodeUsage
// therefore first tries fastUsage, a scanner for the plain form agents and
// the Go client send, and hands everything else to
// ledger.DecodeUsageBatch, the authority on the format and on every error
// message. fastUsage accepts a body only when it is sure the ledger's
// decoder would decode it to the same batch (FuzzFastUsage checks this):
// anything unusual (escapes, non-ASCII text, null, duplicate or
// differently-cased keys, numbers that are not plain unsigned integers,
// missing times, values the ledger would refuse) makes it give up.

// decodeUsage decodes a usage batch body.
func decodeUsage(r io.Reader) (ledger.UsageBatch, error) {
	body, err := io.ReadAll(io.LimitReader(r, ledger.MaxUsageBodyBytes+1))
	if err != nil {
		return ledger.UsageBatch{}, err // e.g. *http.MaxBytesError: classified as 413
	}
	if b, ok := fastUsage(body); ok {
		return b, nil
	}
	return ledger.DecodeUsageBatch(bytes.NewReader(body))
}

// usageScanner walks a JSON body; every method returns false to give up.
type usageScanner struct {
	b []byte
	i int
	// interned holds the node and tenant ids seen, which repeat within a
	// batch, so each is allocated once.
	interned map[string]string
}

func (s *usageScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// lit consumes byte c after whitespace.
func (s *usageScanner) lit(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// peek returns the next non-space byte (0 at the end).
func (s *usageScanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// raw consumes a string of printable ASCII without escapes and returns
// its bytes (valid until the body changes).
func (s *usageScanner) raw() ([]byte, bool) {
	if !s.lit('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// str is raw as a string.
func (s *usageScanner) str() (string, bool) {
	b, ok := s.raw()
	return string(b), ok
}

// id is str, interned.
func (s *usageScanner) id() (string, bool) {
	b, ok := s.raw()
	if !ok {
		return "", false
	}
	if v, ok := s.interned[string(b)]; ok {
		return v, true
	}
	if s.interned == nil {
		s.interned = map[string]string{}
	}
	v := string(b)
	s.interned[v] = v
	return v, true
}

// uint consumes a plain unsigned integer (no sign, fraction, exponent or
// leading zero) that fits in uint64.
func (s *usageScanner) uint() (uint64, bool) {
	s.ws()
	start := s.i
	var v uint64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		d := uint64(s.b[s.i] - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
		s.i++
	}
	n := s.i - start
	if n == 0 || (n > 1 && s.b[start] == '0') {
		return 0, false
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	return v, true
}

// fastUsage decodes body when it is in the plain form; ok is false
// otherwise (the caller then uses the ledger's decoder).
func fastUsage(body []byte) (ledger.UsageBatch, bool) {
	if len(body) > ledger.MaxUsageBodyBytes {
		return ledger.UsageBatch{}, false
	}
	s := &usageScanner{b: body}
	var out ledger.UsageBatch
	if !s.lit('{') {
		return out, false
	}
	var seenCluster, seenRecords bool
	for first := true; ; first = false {
		if s.peek() == '}' && first {
			return out, false // no records: the ledger's error
		}
		key, ok := s.str()
		if !ok || !s.lit(':') {
			return out, false
		}
		switch {
		case key == "cluster_id" && !seenCluster:
			seenCluster = true
			if out.ClusterID, ok = s.str(); !ok || !validID(out.ClusterID) {
				return out, false
			}
		case key == "records" && !seenRecords:
			seenRecords = true
			if out.Records, ok = s.records(); !ok {
				return out, false
			}
		default:
			return out, false
		}
		if s.lit(',') {
			continue
		}
		if !s.lit('}') {
			return out, false
		}
		break
	}
	s.ws()
	if s.i != len(s.b) || !seenRecords {
		return out, false
	}
	return out, true
}

// records consumes the records array: 1 to MaxBatchRecords records.
func (s *usageScanner) records() ([]ledger.UsageRecord, bool) {
	if !s.lit('[') || s.peek() == ']' {
		return nil, false
	}
	out := make([]ledger.UsageRecord, 0, 128)
	for {
		if len(out) == ledger.MaxBatchRecords {
			return nil, false
		}
		r, ok := s.record()
		if !ok {
			return nil, false
		}
		out = append(out, r)
		if s.lit(',') {
			continue
		}
		if s.lit(']') {
			return out, true
		}
		return nil, false
	}
}

// Field bits of a record, to refuse duplicates and require the times.
const (
	fNode = 1 << iota
	fSeq
	fTenant
	fStart
	fEnd
	fReads
	fWrites
	fQueries
	fCompute
	fIngress
	fEgress
	fStorage
	fIncarnation
)

// record consumes one record object.
func (s *usageScanner) record() (ledger.UsageRecord, bool) {
	var r ledger.UsageRecord
	if !s.lit('{') || s.peek() == '}' {
		return r, false
	}
	seen := 0
	for {
		key, ok := s.raw()
		if !ok || !s.lit(':') {
			return r, false
		}
		var bit int
		var num *uint64
		switch string(key) {
		case "node_id":
			bit = fNode
			r.NodeID, ok = s.id()
		case "incarnation":
			bit = fIncarnation
			r.Incarnation, ok = s.id()
		case "tenant_id":
			bit = fTenant
			r.Tenant, ok = s.id()
		case "start", "end":
			bit = fStart
			dst := &r.Start
			if string(key) == "end" {
				bit, dst = fEnd, &r.End
			}
			var v []byte
			if v, ok = s.raw(); ok {
				*dst, ok = windowTime(v)
			}
		case "seq":
			bit, num = fSeq, &r.Seq
		case "reads":
			bit, num = fReads, &r.Reads
		case "writes":
			bit, num = fWrites, &r.Writes
		case "queries":
			bit, num = fQueries, &r.Queries
		case "query_compute_ms":
			bit, num = fCompute, &r.QueryComputeMs
		case "ingress_bytes":
			bit, num = fIngress, &r.IngressBytes
		case "egress_bytes":
			bit, num = fEgress, &r.EgressBytes
		case "storage_byte_seconds":
			bit, num = fStorage, &r.StorageByteSeconds
		default:
			return r, false
		}
		if num != nil {
			*num, ok = s.uint()
			if ok && bit != fSeq && *num > math.MaxInt64 {
				ok = false // the ledger refuses counters above 2^63-1
			}
		}
		if !ok || seen&bit != 0 {
			return r, false
		}
		seen |= bit
		if s.lit(',') {
			continue
		}
		if !s.lit('}') {
			return r, false
		}
		break
	}
	return r, seen&(fStart|fEnd) == fStart|fEnd
}

// windowTime parses an RFC 3339 time as the ledger does, refusing what the
// ledger refuses.
func windowTime(v []byte) (int64, bool) {
	t, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil || t.Year() < 1970 || t.Year() > 2261 {
		return 0, false
	}
	return t.UnixNano(), true
}
