package document

import "time"

// Limits are a tenant's quotas on what it stores, enforced by Apply so that
// every replica decides the same way. A zero field is unlimited.
type Limits struct {
	// StorageBytes bounds the tenant's stored bytes: Stats.Bytes +
	// Stats.IndexBytes, summed over its collections.
	StorageBytes int64
	// MaxCollections bounds the number of collections.
	MaxCollections int64
	// MaxDocumentsPerCollection bounds the documents of each collection.
	MaxDocumentsPerCollection int64
	// Refuse makes a command that passes a limit fail, applying nothing
	// (quota actions block and throttle). Without it the command is applied
	// and the limits it passed are listed in Result.Exceeded
	// (allow-with-overage, warn).
	Refuse bool
}

// Names of the limits in Result.Exceeded.
const (
	LimitStorageBytes              = "storage_bytes"
	LimitMaxCollections            = "max_collections"
	LimitMaxDocumentsPerCollection = "max_documents_per_collection"
)

// Enforcement. Apply stages a whole command in memory before writing it
// (see stage), so the limits are checked between the two: on the state the
// command would leave, against the state it started from. A measure is
// refused only when the command both takes it past its limit and leaves it
// higher than it found it, so deletes, shrinking puts and anything else that
// does not grow a measure always pass, even over a limit (limits can be
// lowered below what a tenant already stores).

// stored is what StorageBytes bounds.
func (m tenantMeta) stored() int64 { return m.Bytes + m.IndexBytes }

// documents is the collection's document count as staged.
func (cs *collStage) documents() int64 {
	if !cs.exists {
		return 0
	}
	return cs.meta.Documents
}

// tenantQuota is the per-command quota state of one tenant.
type tenantQuota struct {
	limits Limits
	loaded bool // limits fetched (only once something grew)
	has    bool // the tenant has limits
	// First operation that grew a measure past its limit, -1: none.
	passStorage, passCollections int
}

func newTenantQuota() tenantQuota { return tenantQuota{passStorage: -1, passCollections: -1} }

// measures are the values an operation may grow.
type measures struct {
	stored, collections, documents int64
}

// before returns the measures of tenant and collection ahead of an
// operation on them, with ok=false for a part not loaded yet (its value is
// then the one loaded from tx, known once the operation ran).
func (s *stage) before(tenant, coll string) (m measures, tenantOK, collOK bool) {
	ts := s.tenants[tenant]
	if ts == nil {
		return m, false, false
	}
	m.stored, m.collections = ts.meta.stored(), ts.meta.Collections
	cs := ts.colls[coll]
	if cs == nil {
		return m, true, false
	}
	m.documents = cs.documents()
	return m, true, true
}

// noteOp records the effect of operation i, which succeeded, given the
// measures before it: the tenant's last operation time and, for a measure
// the operation grew past its limit, that it was the first to do so.
func (s *stage) noteOp(i int, op Op, pre measures, tenantOK, collOK bool) *Error {
	ts := s.tenants[op.Tenant]
	if ts == nil {
		return nil
	}
	ts.lastTime = op.Time
	cs := ts.colls[op.Collection]
	if !tenantOK {
		pre.stored, pre.collections = ts.orig.stored(), ts.orig.Collections
	}
	if !collOK && cs != nil {
		pre.documents = cs.origDocs
	}
	grewStored := ts.meta.stored() > pre.stored
	grewColls := ts.meta.Collections > pre.collections
	grewDocs := cs != nil && cs.documents() > pre.documents
	if !grewStored && !grewColls && !grewDocs {
		return nil
	}
	q := &ts.quota
	if !q.loaded {
		q.loaded = true
		if s.cfg.Limits != nil {
			lim, ok, err := s.cfg.Limits(s.tx, op.Tenant)
			if err != nil {
				return internalf("reading the tenant's limits: %v", err)
			}
			q.limits, q.has = lim, ok
		}
	}
	if !q.has {
		return nil
	}
	if grewStored && q.passStorage < 0 && over(ts.meta.stored(), q.limits.StorageBytes) {
		q.passStorage = i
	}
	if grewColls && q.passCollections < 0 && over(ts.meta.Collections, q.limits.MaxCollections) {
		q.passCollections = i
	}
	if grewDocs && cs.passDocs < 0 && over(cs.documents(), q.limits.MaxDocumentsPerCollection) {
		cs.passDocs = i
	}
	return nil
}

// over reports whether v passes limit (0: unlimited).
func over(v, limit int64) bool { return limit > 0 && v > limit }

// checkLimits decides, once every operation is staged, which limits the
// command passes: with Refuse, the first (tenants by name, then storage,
// collections, documents by collection name) fails the command; otherwise
// the passed limits are returned for Result.Exceeded.
func (s *stage) checkLimits() ([]string, *Error) {
	var passed [3]bool // storage, collections, documents
	for _, name := range sortedKeys(s.tenants) {
		ts := s.tenants[name]
		q := &ts.quota
		if !q.has {
			continue
		}
		if v := ts.meta.stored(); over(v, q.limits.StorageBytes) && v > ts.orig.stored() {
			if q.limits.Refuse {
				return nil, quotaError(CodeStorageQuotaExceeded, firstOp(q.passStorage),
					"storage quota exceeded: tenant would store %d bytes, limit %d", v, q.limits.StorageBytes)
			}
			passed[0] = true
		}
		if v := ts.meta.Collections; over(v, q.limits.MaxCollections) && v > ts.orig.Collections {
			if q.limits.Refuse {
				return nil, quotaError(CodeQuotaExceeded, firstOp(q.passCollections),
					"collection quota exceeded: tenant would have %d collections, limit %d", v, q.limits.MaxCollections)
			}
			passed[1] = true
		}
		for _, cname := range sortedKeys(ts.colls) {
			cs := ts.colls[cname]
			if v := cs.documents(); over(v, q.limits.MaxDocumentsPerCollection) && v > cs.origDocs {
				if q.limits.Refuse {
					return nil, quotaError(CodeQuotaExceeded, firstOp(cs.passDocs),
						"document quota exceeded: collection %q would hold %d documents, limit %d per collection", cname, v, q.limits.MaxDocumentsPerCollection)
				}
				passed[2] = true
			}
		}
	}
	var exceeded []string
	for i, name := range []string{LimitStorageBytes, LimitMaxCollections, LimitMaxDocumentsPerCollection} {
		if passed[i] {
			exceeded = append(exceeded, name)
		}
	}
	return exceeded, nil
}

// firstOp is the operation a quota error points at. A measure that ends
// above both its limit and its starting value reached its maximum in an
// operation that grew it while above the limit, so i is always set; 0 is
// a fallback that cannot happen.
func firstOp(i int) int { return max(i, 0) }

func quotaError(code string, op int, format string, args ...any) *Error {
	e := errorf(code, format, args...)
	e.OpIndex = op
	return e
}

// observeStorage tells Config.OnStorage the stored bytes of every tenant
// whose stored bytes the committed command changed.
func (s *stage) observeStorage(f func(tenant string, bytes int64, at time.Time)) {
	if f == nil {
		return
	}
	for _, name := range sortedKeys(s.tenants) {
		ts := s.tenants[name]
		if v := ts.meta.stored(); v != ts.orig.stored() {
			f(name, v, time.Unix(0, ts.lastTime))
		}
	}
}
