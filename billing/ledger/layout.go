package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Buckets. Every name starts with "ledger." so the state can share a
// bbolt file with the store's reserved "_store" buckets.
var (
	bMeta       = []byte("ledger.meta")            // see meta keys
	bTenants    = []byte("ledger.tenants")         // tenant id → Tenant JSON
	bIngestView = []byte("ledger.tenant_ingest")   // tenant id → ingestView (what ingestion needs, without JSON)
	bClusters   = []byte("ledger.clusters")        // cluster id → Cluster JSON
	bTokens     = []byte("ledger.tokens")          // token sha256 → cluster id
	bNodes      = []byte("ledger.cluster_nodes")   // cluster \0 node → Node JSON
	bDedup      = []byte("ledger.dedup")           // cluster \0 node [\0 incarnation] → seqSet
	bUsage      = []byte("ledger.usage")           // tenant \0 be64(bucket start, Unix s) → Counters (56 bytes)
	bInvoices   = []byte("ledger.invoices")        // invoice id → Invoice JSON
	bTenantInv  = []byte("ledger.tenant_invoices") // tenant \0 be64(period start, Unix s) → status byte + invoice id
	bBasis      = []byte("ledger.basis")           // invoice id → basis JSON (segments, rated usage)
	bDirty      = []byte("ledger.dirty")           // tenant \0 be64(period start) → id of a finalized invoice with late usage
	bOpen       = []byte("ledger.open")            // invoice id → "" while open
	bDrafts     = []byte("ledger.drafts")          // invoice id → "" while draft
	bPayments   = []byte("ledger.payments")        // payment id → Payment JSON
	bPayRefs    = []byte("ledger.payment_refs")    // external ref → payment id
	bTenantPays = []byte("ledger.tenant_payments") // tenant \0 be64(recorded ns) payment id → ""
	bAudit      = []byte("ledger.audit")           // nested bucket per tenant: be64(seq) → AuditEntry JSON

	bAPIKeys       = []byte("ledger.api_keys")        // key id → apiKeyRecord JSON
	bAPIKeyHashes  = []byte("ledger.api_key_hashes")  // sha256(key) → key id
	bTenantAPIKeys = []byte("ledger.tenant_api_keys") // tenant \0 be64(created ns) key id → 'a' active | 'r' revoked
)

// Meta keys.
var (
	keyCatalog       = []byte("catalog")        // tier.Catalog JSON
	keyCatalogState  = []byte("catalog_state")  // catalogState JSON
	keySigningSeed   = []byte("signing_seed")   // 32 bytes
	keyBucketSeconds = []byte("bucket_seconds") // uvarint: usage bucket width
)

func bucket(tx *bolt.Tx, name []byte) *bolt.Bucket { return tx.Bucket(name) }

func get(tx *bolt.Tx, name, key []byte) []byte {
	b := tx.Bucket(name)
	if b == nil {
		return nil
	}
	return b.Get(key)
}

// wbucket returns bucket name, creating it. Only the write phase of a
// command calls it, after validation.
func wbucket(tx *bolt.Tx, name []byte) *bolt.Bucket {
	b, err := tx.CreateBucketIfNotExists(name)
	if err != nil {
		writeFault(name, err)
	}
	return b
}

// writeFault stops the node: a write failing after validation means the
// state can no longer follow the log, and carrying on would diverge from
// the other replicas (the store does the same for transaction failures).
func writeFault(name []byte, err error) {
	panic(fmt.Sprintf("ledger: write to %s failed after validation: %v", name, err))
}

func put(tx *bolt.Tx, name, key, val []byte) {
	if err := wbucket(tx, name).Put(key, val); err != nil {
		writeFault(name, err)
	}
}

func del(tx *bolt.Tx, name, key []byte) {
	b := tx.Bucket(name)
	if b == nil {
		return
	}
	if err := b.Delete(key); err != nil {
		writeFault(name, err)
	}
}

func putJSON(tx *bolt.Tx, name, key []byte, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeFault(name, err)
	}
	put(tx, name, key, b)
}

// getJSON loads key into v; false when absent.
func getJSON(tx *bolt.Tx, name, key []byte, v any) (bool, *Error) {
	raw := get(tx, name, key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, internalf("corrupt record %s/%q: %v", name, key, err)
	}
	return true, nil
}

// tkey is tenant \0 be64(v): keys of one tenant sort together, by v.
func tkey(tenant string, v uint64) []byte {
	k := make([]byte, len(tenant)+9)
	copy(k, tenant)
	binary.BigEndian.PutUint64(k[len(tenant)+1:], v)
	return k
}

// tprefix is the prefix of tenant's tkeys.
func tprefix(tenant string) []byte { return append([]byte(tenant), 0) }

// tkeyValue returns the be64 part of a tkey.
func tkeyValue(k []byte) uint64 {
	if len(k) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(k[len(k)-8:])
}

// present is the value of index keys whose value carries nothing.
var present = []byte{1}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// InvoiceID returns the id of tenant's invoice for the period starting at
// periodStart (truncated to whole seconds): "in_" and 24 hex digits of a
// SHA-256 of both. Deterministic, so retries and scheduler replicas agree
// on it and at most one invoice exists per tenant and period.
func InvoiceID(tenant string, periodStart time.Time) string {
	h := sha256.Sum256([]byte(tenant + "\x00" + strconv.FormatInt(periodStart.Unix(), 10)))
	return "in_" + hex.EncodeToString(h[:12])
}

// loadTenant reads a tenant record.
func loadTenant(tx *bolt.Tx, id string) (*Tenant, *Error) {
	var t Tenant
	ok, err := getJSON(tx, bTenants, []byte(id), &t)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFoundf("tenant %q not found", id)
	}
	return &t, nil
}

// saveTenant writes a tenant record and its ingestion view.
func saveTenant(tx *bolt.Tx, t *Tenant) {
	putJSON(tx, bTenants, []byte(t.ID), t)
	v := ingestView{billableEnd: unixOrZero(billableEnd(t)), billedThrough: unixOrZero(t.BilledThrough)}
	put(tx, bIngestView, []byte(t.ID), v.encode())
}

// ingestView is the part of a tenant the ingestion path reads, stored
// compactly beside the JSON record so a usage batch decodes no JSON.
type ingestView struct {
	billedThrough int64 // Unix s; 0 before the first invoice
	billableEnd   int64 // Unix s; 0 unless deleted
}

func (v ingestView) encode() []byte {
	b := binary.AppendVarint(nil, v.billedThrough)
	return binary.AppendVarint(b, v.billableEnd)
}

func loadIngestView(tx *bolt.Tx, id string) (ingestView, bool, *Error) {
	raw := get(tx, bIngestView, []byte(id))
	if raw == nil {
		return ingestView{}, false, nil
	}
	d := &decoder{b: raw}
	v := ingestView{billedThrough: d.i64(), billableEnd: d.i64()}
	if d.done() != nil {
		return ingestView{}, false, internalf("corrupt ingestion view of tenant %q", id)
	}
	return v, true, nil
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func loadInvoice(tx *bolt.Tx, id string) (*Invoice, *Error) {
	var inv Invoice
	ok, err := getJSON(tx, bInvoices, []byte(id), &inv)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFoundf("invoice %q not found", id)
	}
	return &inv, nil
}

// invoiceStatusByte encodes a status in the tenant_invoices index.
func invoiceStatusByte(s InvoiceStatus) byte {
	switch s {
	case InvoiceDraft:
		return 'd'
	case InvoiceOpen:
		return 'o'
	case InvoicePaid:
		return 'p'
	case InvoiceVoid:
		return 'v'
	case InvoiceUncollectible:
		return 'u'
	}
	return '?'
}

func statusFromByte(b byte) InvoiceStatus {
	switch b {
	case 'd':
		return InvoiceDraft
	case 'o':
		return InvoiceOpen
	case 'p':
		return InvoicePaid
	case 'v':
		return InvoiceVoid
	case 'u':
		return InvoiceUncollectible
	}
	return ""
}

// saveInvoice writes an invoice and keeps its indexes in step.
func saveInvoice(tx *bolt.Tx, inv *Invoice) {
	putJSON(tx, bInvoices, []byte(inv.ID), inv)
	idx := append([]byte{invoiceStatusByte(inv.Status)}, inv.ID...)
	put(tx, bTenantInv, tkey(inv.Tenant, uint64(inv.PeriodStart.Unix())), idx)
	id := []byte(inv.ID)
	if inv.Status == InvoiceOpen {
		put(tx, bOpen, id, present)
	} else {
		del(tx, bOpen, id)
	}
	if inv.Status == InvoiceDraft {
		put(tx, bDrafts, id, present)
	} else {
		del(tx, bDrafts, id)
	}
}
