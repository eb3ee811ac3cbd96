package ledger

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/rating"
)

// MaxFutureSkew is how far after the batch's Time a record's window may
// start; later ones are rejected (a node with a clock far ahead would
// otherwise bill usage into future periods).
const MaxFutureSkew = time.Hour

// Counters are usage totals of one tenant over some span. Every figure is
// at most 2^63-1 (math.MaxInt64); ingestion rejects a record that would
// take a usage bucket past that.
type Counters struct {
	Reads              uint64 `json:"reads"`
	Writes             uint64 `json:"writes"`
	Queries            uint64 `json:"queries"`
	QueryComputeMs     uint64 `json:"query_compute_ms"`
	IngressBytes       uint64 `json:"ingress_bytes"`
	EgressBytes        uint64 `json:"egress_bytes"`
	StorageByteSeconds uint64 `json:"storage_byte_seconds"`
}

// counterNames are the JSON names of the Counters fields, in order.
var counterNames = [7]string{"reads", "writes", "queries", "query_compute_ms", "ingress_bytes", "egress_bytes", "storage_byte_seconds"}

func (c *Counters) fields() [7]*uint64 {
	return [7]*uint64{&c.Reads, &c.Writes, &c.Queries, &c.QueryComputeMs, &c.IngressBytes, &c.EgressBytes, &c.StorageByteSeconds}
}

// add adds o to c unless a sum would exceed MaxInt64; it returns the name
// of the first field that would, or "" after adding.
func (c *Counters) add(o Counters) string {
	cf, of := c.fields(), o.fields()
	for i := range cf {
		if *of[i] > math.MaxInt64-*cf[i] || *cf[i] > math.MaxInt64 {
			return counterNames[i]
		}
	}
	for i := range cf {
		*cf[i] += *of[i]
	}
	return ""
}

// IsZero reports whether every counter is zero.
func (c Counters) IsZero() bool { return c == Counters{} }

// RatingUsage converts the counters to the rating engine's usage. Ingress
// is metered but not priced. Every figure fits int64 by construction; the
// error (ErrInvalid naming the meter) is for figures summed over a period
// that do not, e.g. storage beyond about 3.5 TB held for a whole month
// (2^63 byte-seconds).
func (c Counters) RatingUsage() (rating.Usage, error) {
	for i, f := range c.fields() {
		if *f > math.MaxInt64 {
			return rating.Usage{}, invalidf("usage %s: %d exceeds 2^63-1 and cannot be rated (storage is limited to about 3.5 TB-months per period)", counterNames[i], *f)
		}
	}
	return rating.Usage{
		Reads: int64(c.Reads), Writes: int64(c.Writes), Queries: int64(c.Queries),
		StorageByteSeconds: int64(c.StorageByteSeconds), EgressBytes: int64(c.EgressBytes),
		QueryComputeMs: int64(c.QueryComputeMs),
	}, nil
}

func (c *Counters) encode() []byte {
	b := make([]byte, 0, 56)
	for _, f := range c.fields() {
		b = binary.BigEndian.AppendUint64(b, *f)
	}
	return b
}

func decodeCounters(b []byte) (Counters, bool) {
	var c Counters
	if len(b) != 56 {
		return c, false
	}
	for i, f := range c.fields() {
		*f = binary.BigEndian.Uint64(b[8*i:])
	}
	return c, true
}

func recordCounters(r *UsageRecord) Counters {
	return Counters{
		Reads: r.Reads, Writes: r.Writes, Queries: r.Queries, QueryComputeMs: r.QueryComputeMs,
		IngressBytes: r.IngressBytes, EgressBytes: r.EgressBytes, StorageByteSeconds: r.StorageByteSeconds,
	}
}

// ingestTenant is what a batch needs of one tenant.
type ingestTenant struct {
	id    string
	v     ingestView
	err   *Error // permanent rejection of every record of it
	route map[int64]routed
}

func (a *applier) ingest(c IngestUsage) Result {
	if e := checkID("cluster_id", c.ClusterID); e != nil {
		return Result{Err: e}
	}
	switch {
	case len(c.Records) == 0:
		return Result{Err: invalidf("records: at least one record is required")}
	case len(c.Records) > MaxBatchRecords:
		return Result{Err: invalidf("records: %d records exceed the batch limit of %d", len(c.Records), MaxBatchRecords)}
	}
	cl, err := GetCluster(a.tx, c.ClusterID)
	if err != nil {
		return Result{Err: err.(*Error)}
	}

	nodes := map[string]*seqSet{}
	changedNodes := map[string]bool{}
	tenants := map[string]*ingestTenant{}
	buckets := map[string]*Counters{}
	dirty := map[string]string{}
	res := &IngestResult{Records: make([]RecordResult, len(c.Records))}
	maxStart := a.h.Time + int64(MaxFutureSkew)
	if maxStart < a.h.Time {
		maxStart = math.MaxInt64
	}

	for i := range c.Records {
		r := &c.Records[i]
		out := &res.Records[i]
		if e := checkID("node_id", r.NodeID); e != nil {
			*out = rejected(e)
			continue
		}
		if r.Incarnation != "" {
			if e := checkID("incarnation", r.Incarnation); e != nil {
				*out = rejected(e)
				continue
			}
		}
		if r.Seq == 0 {
			*out = rejected(invalidf("seq: must be at least 1"))
			continue
		}
		nk := dedupKey(cl.ID, r.NodeID, r.Incarnation)
		ns := nodes[nk]
		if ns == nil {
			s, e := a.loadSeqSet(nk)
			if e != nil {
				return Result{Err: e}
			}
			ns = &s
			nodes[nk] = ns
		}
		if ns.seen(r.Seq) {
			*out = RecordResult{Status: RecordDuplicate}
			continue
		}
		if !ns.add(r.Seq) {
			*out = rejected(statef("seq: node %q has %d sequence gaps outstanding; send its earlier records first", r.NodeID, MaxSeqGaps))
			out.Retry = true
			continue
		}
		changedNodes[nk] = true // the seq is consumed, whatever the outcome below

		reject, e := a.checkRecord(cl, r, tenants, maxStart)
		if e != nil {
			return Result{Err: e}
		}
		if reject != nil {
			*out = rejected(reject)
			continue
		}
		bs := bucketStart(r.Start, a.bucketSec)
		bk := string(tkey(r.Tenant, uint64(bs)))
		agg := buckets[bk]
		if agg == nil {
			agg = &Counters{}
			if raw := get(a.tx, bUsage, []byte(bk)); raw != nil {
				v, ok := decodeCounters(raw)
				if !ok {
					return Result{Err: internalf("corrupt usage bucket of tenant %q at %d", r.Tenant, bs)}
				}
				*agg = v
			}
			buckets[bk] = agg
		}
		if f := agg.add(recordCounters(r)); f != "" {
			*out = rejected(invalidf("%s: the tenant's usage for the bucket starting %s would exceed 2^63-1", f, secTime(bs).Format(time.RFC3339)))
			continue
		}
		*out = RecordResult{Status: RecordAccepted}
		if key, id, e := a.route(tenants[r.Tenant], bs); e != nil {
			return Result{Err: e}
		} else if id != "" {
			dirty[key] = id
		}
	}

	// Write phase, in sorted key order.
	for _, nk := range sortedKeys(changedNodes) {
		put(a.tx, bDedup, []byte(nk), nodes[nk].encode())
	}
	for _, bk := range sortedKeys(buckets) {
		put(a.tx, bUsage, []byte(bk), buckets[bk].encode())
	}
	for _, k := range sortedKeys(dirty) {
		put(a.tx, bDirty, []byte(k), []byte(dirty[k]))
	}
	for _, rr := range res.Records {
		switch rr.Status {
		case RecordAccepted:
			res.Accepted++
		case RecordDuplicate:
			res.Duplicates++
		case RecordRejected:
			res.Rejected++
		}
	}
	return Result{Ingest: res}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// dedupKey is the bDedup key of the sequence numbers of one outbox: cluster
// \0 node, and \0 incarnation when the record has one. Ids hold no NUL,
// so an incarnation's key never equals a legacy (cluster, node) key: the
// records of a wiped node's new outbox are never taken for duplicates of
// the old one's.
func dedupKey(cluster, node, incarnation string) string {
	if incarnation == "" {
		return cluster + "\x00" + node
	}
	return cluster + "\x00" + node + "\x00" + incarnation
}

func (a *applier) loadSeqSet(key string) (seqSet, *Error) {
	raw := get(a.tx, bDedup, []byte(key))
	if raw == nil {
		return seqSet{}, nil
	}
	s, err := decodeSeqSet(raw)
	if err != nil {
		return seqSet{}, internalf("dedup state of %q: %v", key, err)
	}
	return s, nil
}

// bucketStart returns the Unix second starting the usage bucket holding
// the time nanos (> 0).
func bucketStart(nanos, width int64) int64 {
	s := nanos / 1e9
	return s - s%width
}

// rejected is the result of a record rejected with e.
func rejected(e *Error) RecordResult {
	return RecordResult{Status: RecordRejected, Code: e.Code, Reason: e.Message}
}

// checkRecord returns why r must be rejected for good (nil to accept), or
// a storage fault.
func (a *applier) checkRecord(cl Cluster, r *UsageRecord, tenants map[string]*ingestTenant, maxStart int64) (reject, fault *Error) {
	if e := checkID("tenant_id", r.Tenant); e != nil {
		return e, nil
	}
	if !cl.servedAt(r.Tenant, r.Start) {
		return forbiddenf("tenant_id: tenant %q is not assigned to cluster %q", r.Tenant, cl.ID), nil
	}
	switch {
	case r.Start <= 0:
		return invalidf("start: required (window start, Unix nanoseconds)"), nil
	case r.End < r.Start:
		return invalidf("end: before start"), nil
	case r.Start > maxStart:
		return invalidf("start: %s is more than %s after the batch time", unixTime(r.Start).Format(time.RFC3339), MaxFutureSkew), nil
	}
	rc := recordCounters(r)
	for i, f := range rc.fields() {
		if *f > math.MaxInt64 {
			return invalidf("%s: exceeds 2^63-1", counterNames[i]), nil
		}
	}
	it := tenants[r.Tenant]
	if it == nil {
		v, found, e := loadIngestView(a.tx, r.Tenant)
		switch {
		case e != nil:
			return nil, e
		case !found:
			it = &ingestTenant{err: notFoundf("tenant_id: tenant %q not found", r.Tenant)}
		default:
			it = &ingestTenant{id: r.Tenant, v: v, route: map[int64]routed{}}
		}
		tenants[r.Tenant] = it
	}
	if it.err != nil {
		return it.err, nil
	}
	if end := it.v.billableEnd; end != 0 && r.Start/1e9 >= end {
		return statef("tenant_id: tenant %q was deleted at %s, before this window", r.Tenant, secTime(end).Format(time.RFC3339)), nil
	}
	return nil, nil
}

// route returns the finalized invoice whose period holds usage bucket bs
// when usage landing there is late and must be billed as an adjustment:
// its bDirty key and id. The id is "" when the usage is billed normally (no
// invoice yet, a draft still to be re-rated at finalization, or a void
// invoice).
func (a *applier) route(it *ingestTenant, bs int64) (key, id string, err *Error) {
	if it.v.billedThrough == 0 || bs >= it.v.billedThrough {
		return "", "", nil
	}
	if r, ok := it.route[bs]; ok {
		return r.key, r.id, nil
	}
	status, id, start, e := invoiceHolding(a.tx, it.id, bs)
	if e != nil {
		return "", "", e
	}
	if status == InvoiceDraft || status == InvoiceVoid {
		id = ""
	}
	key = string(tkey(it.id, uint64(start)))
	it.route[bs] = routed{key, id}
	return key, id, nil
}

type routed struct{ key, id string }

// invoiceHolding finds the invoice of tenant whose period holds the usage
// bucket starting bs: the last one starting at or before bs, or the first
// one when bs precedes every period (the first invoice bills all earlier
// usage). id is "" when the tenant has no invoice.
func invoiceHolding(tx *bolt.Tx, tenant string, bs int64) (status InvoiceStatus, id string, start int64, err *Error) {
	b := tx.Bucket(bTenantInv)
	if b == nil {
		return "", "", 0, nil
	}
	prefix := tprefix(tenant)
	c := b.Cursor()
	var k, v []byte
	if next, _ := c.Seek(tkey(tenant, uint64(bs)+1)); next == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 {
		k, v = c.Seek(prefix)
		if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 {
			return "", "", 0, nil
		}
	}
	if len(v) < 2 {
		return "", "", 0, internalf("corrupt invoice index entry of tenant %q", tenant)
	}
	return statusFromByte(v[0]), string(v[1:]), int64(tkeyValue(k)), nil
}
