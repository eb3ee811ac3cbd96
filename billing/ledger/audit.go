package ledger

import (
	"encoding/json"
	"math"

	bolt "go.etcd.io/bbolt"
)

// audit appends an entry to tenant's audit trail (write phase only).
func (a *applier) audit(tenant, entity, entityID, action string, details map[string]string) {
	root := wbucket(a.tx, bAudit)
	b, err := root.CreateBucketIfNotExists([]byte(tenant))
	if err != nil {
		writeFault(bAudit, err)
	}
	seq, err := b.NextSequence()
	if err != nil {
		writeFault(bAudit, err)
	}
	if len(details) == 0 {
		details = nil
	}
	e := AuditEntry{Seq: seq, Time: a.now(), Actor: a.h.Actor, Entity: entity, EntityID: entityID, Action: action, Details: details}
	raw, err := json.Marshal(e)
	if err != nil {
		writeFault(bAudit, err)
	}
	if err := b.Put(be64(seq), raw); err != nil {
		writeFault(bAudit, err)
	}
}

// DefaultAuditLimit is the page size of Audit when limit <= 0.
const DefaultAuditLimit = 100

// Audit returns up to limit entries (DefaultAuditLimit when limit <= 0,
// at most 1000) of tenant's audit trail with Seq > after, oldest first. To
// page, pass the last Seq seen as after. An unknown tenant is ErrNotFound;
// a deleted one keeps its trail.
func Audit(tx *bolt.Tx, tenant string, after uint64, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, 1000)
	if after == math.MaxUint64 {
		return []AuditEntry{}, nil
	}
	if _, err := loadTenant(tx, tenant); err != nil {
		return nil, err
	}
	root := tx.Bucket(bAudit)
	if root == nil {
		return []AuditEntry{}, nil
	}
	b := root.Bucket([]byte(tenant))
	if b == nil {
		return []AuditEntry{}, nil
	}
	out := []AuditEntry{}
	c := b.Cursor()
	for k, v := c.Seek(be64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
		var e AuditEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, internalf("corrupt audit entry %s/%x: %v", tenant, k, err)
		}
		out = append(out, e)
	}
	return out, nil
}
