package quota

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aerolithdb/aerolith/billing/contract"
)

// semaphore is a counting semaphore with a fixed size.
type semaphore struct {
	size    int64
	slots   chan struct{}
	release func() // frees one slot; made once so Acquire does not allocate
}

func newSemaphore(n int64) *semaphore {
	s := &semaphore{size: n, slots: make(chan struct{}, n)}
	s.release = func() { <-s.slots }
	return s
}

// noop is the release of a request that took no slot.
func noop() {}

// Acquire admits one concurrent request against the node's share of
// ConcurrentConnections. When the Decision allows the request, the caller
// must call release once the request is done (release is never nil).
// Under throttle a request waits for a slot at most MaxDelay (or until
// ctx is done); under allow_with_overage and warn a request beyond the
// limit is served without a slot.
func (e *Enforcer) Acquire(ctx context.Context) (Decision, func()) {
	e.mu.Lock()
	sem, action, limit := e.conc, e.action, e.pol.Limits.ConcurrentConnections
	e.mu.Unlock()
	release := sem.release
	select {
	case sem.slots <- struct{}{}:
		return allow, release
	default:
	}
	msg := fmt.Sprintf("%s limit of %d reached (this node's share: %d)", ConcurrentConnections, limit, sem.size)
	var d Decision
	switch action {
	case contract.Throttle:
		start := e.clock.Now()
		select {
		case sem.slots <- struct{}{}:
			return Decision{Allow: true, Delay: e.clock.Now().Sub(start), Limit: ConcurrentConnections,
				Message: msg + ": request waited for a slot"}, release
		case <-ctx.Done():
		case <-e.clock.After(e.maxDelay):
		}
		d = Decision{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Limit: ConcurrentConnections,
			Message: msg + fmt.Sprintf("; no slot freed within %s", e.maxDelay)}
	case contract.AllowWithOverage, contract.Warn:
		d = beyond(action, ConcurrentConnections, msg)
		e.count(d)
		return d, noop
	default:
		d = Decision{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Limit: ConcurrentConnections, Message: msg}
	}
	e.count(d)
	return d, noop
}

// QueryContext returns ctx bounded by the tier's MaxQueryDuration. Under
// every action the query is cancelled at the limit: the limit protects
// the node. When the query fails with context.DeadlineExceeded from this
// context, answer with QueryExceeded.
func (e *Enforcer) QueryContext(ctx context.Context) (context.Context, context.CancelFunc) {
	e.mu.Lock()
	d := e.pol.Limits.MaxQueryDuration
	e.mu.Unlock()
	return context.WithTimeout(ctx, d)
}

// QueryExceeded is the answer to a query cancelled at MaxQueryDuration:
// 408 with a message naming the limit.
func (e *Enforcer) QueryExceeded() Decision {
	e.mu.Lock()
	limit := e.pol.Limits.MaxQueryDuration
	e.mu.Unlock()
	d := Decision{Status: http.StatusRequestTimeout, Limit: MaxQueryDuration,
		Message: fmt.Sprintf("query cancelled at the %s limit of %s; narrow the filter or add an index", MaxQueryDuration, limit)}
	e.count(d)
	return d
}

// CheckCollections checks creating adding more collections when the tenant
// has current ones. Under block and throttle (waiting frees nothing) a
// creation past MaxCollections is refused with 429.
func (e *Enforcer) CheckCollections(current, adding int64) Decision {
	e.mu.Lock()
	limit, action := e.pol.Limits.MaxCollections, e.action
	e.mu.Unlock()
	if adding <= 0 || current+adding <= limit {
		return allow
	}
	return e.over(action, MaxCollections, http.StatusTooManyRequests,
		fmt.Sprintf("%s limit of %d reached (%d exist, %d more asked)", MaxCollections, limit, current, adding))
}

// CheckDocuments checks adding new documents to a collection holding
// current ones (replacing a document adds none). Under block and throttle
// a write past MaxDocumentsPerCollection is refused with 429.
func (e *Enforcer) CheckDocuments(collection string, current, adding int64) Decision {
	e.mu.Lock()
	limit, action := e.pol.Limits.MaxDocumentsPerCollection, e.action
	e.mu.Unlock()
	if adding <= 0 || current+adding <= limit {
		return allow
	}
	return e.over(action, MaxDocumentsPerCollection, http.StatusTooManyRequests,
		fmt.Sprintf("%s limit of %d reached in collection %q (%d documents, %d more asked)",
			MaxDocumentsPerCollection, limit, collection, current, adding))
}

// CheckStorage checks a write that changes the tenant's stored bytes by
// delta when it holds current bytes (both from the state machine, so
// every replica decides alike). A write that frees space is always
// allowed; under block and throttle one that would pass StorageBytes is
// refused with 507.
func (e *Enforcer) CheckStorage(current, delta int64) Decision {
	e.mu.Lock()
	limit, action := e.pol.Limits.StorageBytes, e.action
	e.mu.Unlock()
	if delta <= 0 || current+delta <= limit {
		return allow
	}
	return e.over(action, StorageBytes, http.StatusInsufficientStorage,
		fmt.Sprintf("%s limit of %d reached (%d stored, write adds %d)", StorageBytes, limit, current, delta))
}

// over is the Decision for a count or size limit that waiting cannot
// drain: refused with status under block and throttle.
func (e *Enforcer) over(action contract.QuotaAction, lim Limit, status int, msg string) Decision {
	var d Decision
	switch action {
	case contract.AllowWithOverage, contract.Warn:
		d = beyond(action, lim, msg)
	default:
		d = Decision{Status: status, Limit: lim, Message: msg}
	}
	e.count(d)
	return d
}
