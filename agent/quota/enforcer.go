package quota

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aerolithdb/aerolith/billing/contract"
)

// DefaultMaxDelay bounds the delay a throttled request is given.
const DefaultMaxDelay = 2 * time.Second

// Limit names one enforced limit.
type Limit string

// The enforced limits, named like the tier's limits fields.
const (
	RequestsPerSecond         Limit = "requests_per_second"
	APICallsPerHour           Limit = "api_calls_per_hour"
	APICallsPerDay            Limit = "api_calls_per_day"
	ConcurrentConnections     Limit = "concurrent_connections"
	MaxQueryDuration          Limit = "max_query_duration"
	MaxCollections            Limit = "max_collections"
	MaxDocumentsPerCollection Limit = "max_documents_per_collection"
	StorageBytes              Limit = "storage_bytes"
	// Suspended marks a write refused because the tenant is suspended.
	Suspended Limit = "suspended"
	// Deleted marks a request refused because the tenant is deleted.
	Deleted Limit = "deleted"
)

// Limits returns every enforced limit in a fixed order.
func Limits() []Limit {
	return []Limit{RequestsPerSecond, APICallsPerHour, APICallsPerDay, ConcurrentConnections,
		MaxQueryDuration, MaxCollections, MaxDocumentsPerCollection, StorageBytes}
}

// Decision is the outcome of a check. Allow says whether to serve the
// request; when it is false, Status is the HTTP status to answer with
// (429, 402, 403, 408 or 507), RetryAfter is what to put in Retry-After
// (zero: no header) and Message says which limit was hit. When Allow is
// true, Delay (throttle) is how long to hold the request before serving
// it, Overage marks a request served beyond a limit (meter it as overage)
// and Warn marks one served beyond a limit under the warn action (log it;
// Message says which). Limit names the limit hit ("" when none).
type Decision struct {
	Allow      bool
	Status     int
	RetryAfter time.Duration
	Delay      time.Duration
	Overage    bool
	Warn       bool
	Message    string
	Limit      Limit
}

// allow is the Decision of a request within every limit.
var allow = Decision{Allow: true}

// Config configures an Enforcer.
type Config struct {
	// Policy is the tenant's verified policy; its limits must be positive
	// and its action known.
	Policy contract.Policy
	// Nodes is the number of live nodes sharing the cluster-wide limits;
	// zero means 1.
	Nodes int
	// MaxDelay bounds a throttle delay; zero means DefaultMaxDelay.
	MaxDelay time.Duration
	// Clock defaults to SystemClock.
	Clock Clock
}

// Enforcer enforces one tenant's limits on this node. It is safe for
// concurrent use.
type Enforcer struct {
	clock    Clock
	maxDelay time.Duration

	mu     sync.Mutex // guards the fields below
	pol    contract.Policy
	nodes  int
	rps    bucket
	hour   bucket
	day    bucket
	action contract.QuotaAction
	status contract.Status

	conc *semaphore // swapped on policy or node changes

	counts [numLimits][numOutcomes]atomic.Int64
}

// New validates cfg and returns an Enforcer with full buckets.
func New(cfg Config) (*Enforcer, error) {
	if err := validate(cfg.Policy); err != nil {
		return nil, err
	}
	if cfg.Nodes < 0 {
		return nil, fmt.Errorf("quota: nodes: must not be negative (got %d)", cfg.Nodes)
	}
	if cfg.Nodes == 0 {
		cfg.Nodes = 1
	}
	if cfg.MaxDelay < 0 {
		return nil, fmt.Errorf("quota: max delay: must not be negative (got %s)", cfg.MaxDelay)
	}
	if cfg.MaxDelay == 0 {
		cfg.MaxDelay = DefaultMaxDelay
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	e := &Enforcer{clock: cfg.Clock, maxDelay: cfg.MaxDelay, nodes: cfg.Nodes}
	e.apply(cfg.Policy, e.clock.Now().UnixNano())
	return e, nil
}

// validate checks what the Enforcer relies on.
func validate(p contract.Policy) error {
	if p.Tenant == "" {
		return errors.New("quota: policy: tenant_id: required")
	}
	switch p.QuotaAction {
	case contract.Block, contract.Throttle, contract.AllowWithOverage, contract.Warn:
	default:
		return fmt.Errorf("quota: policy %s: quota_action: unknown action %q (want block, throttle, allow_with_overage or warn)", p.Tenant, p.QuotaAction)
	}
	switch p.Status {
	case contract.StatusActive, contract.StatusSuspended, contract.StatusDeleted:
	default:
		return fmt.Errorf("quota: policy %s: status: unknown status %q", p.Tenant, p.Status)
	}
	l := p.Limits
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"storage_bytes", l.StorageBytes}, {"api_calls_per_day", l.APICallsPerDay},
		{"api_calls_per_hour", l.APICallsPerHour}, {"requests_per_second", l.RequestsPerSecond},
		{"concurrent_connections", l.ConcurrentConnections}, {"max_query_duration", int64(l.MaxQueryDuration)},
		{"max_collections", l.MaxCollections}, {"max_documents_per_collection", l.MaxDocumentsPerCollection},
	} {
		if f.v <= 0 {
			return fmt.Errorf("quota: policy %s: limits.%s: must be positive (got %d)", p.Tenant, f.name, f.v)
		}
	}
	return nil
}

// share returns ceil(limit/nodes), at least 1.
func share(limit int64, nodes int) int64 {
	s := (limit + int64(nodes) - 1) / int64(nodes)
	if s < 1 {
		s = 1
	}
	return s
}

// apply installs p for e.nodes nodes; e.mu is held or e is new.
func (e *Enforcer) apply(p contract.Policy, now int64) {
	n := e.nodes
	l := p.Limits
	// Rate and burst are both the per-node share of each window's limit.
	// The rate uses limit and period×n (not the rounded share) so the
	// node's sustained rate is exactly 1/n of the cluster's.
	e.rps.configure(l.RequestsPerSecond, time.Duration(n)*time.Second, share(l.RequestsPerSecond, n), now)
	e.hour.configure(l.APICallsPerHour, time.Duration(n)*time.Hour, share(l.APICallsPerHour, n), now)
	e.day.configure(l.APICallsPerDay, time.Duration(n)*24*time.Hour, share(l.APICallsPerDay, n), now)
	slots := share(l.ConcurrentConnections, n)
	if e.conc == nil || e.conc.size != slots {
		e.conc = newSemaphore(slots)
	}
	e.pol = p
	e.action = p.QuotaAction
	e.status = p.Status
}

// SetPolicy installs a new policy for the tenant (a tier change, a
// suspension), keeping the tokens in use. It fails, changing nothing, on
// a policy New would refuse or one for another tenant.
func (e *Enforcer) SetPolicy(p contract.Policy) error {
	if err := validate(p); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if p.Tenant != e.pol.Tenant {
		return fmt.Errorf("quota: policy for tenant %s given to the enforcer of %s", p.Tenant, e.pol.Tenant)
	}
	e.apply(p, e.clock.Now().UnixNano())
	return nil
}

// SetNodes rebalances the cluster-wide limits over n live nodes (n < 1
// counts as 1).
func (e *Enforcer) SetNodes(n int) {
	if n < 1 {
		n = 1
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if n == e.nodes {
		return
	}
	e.nodes = n
	e.apply(e.pol, e.clock.Now().UnixNano())
}

// Policy returns the policy in force.
func (e *Enforcer) Policy() contract.Policy {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pol
}

// Request checks one API call (a read when write is false) against the
// tenant's status and the rate limits, and counts it in every bucket that
// has room. Call it once per request, before serving.
func (e *Enforcer) Request(write bool) Decision {
	now := e.clock.Now().UnixNano()
	e.mu.Lock()
	if d, ok := e.statusDecision(write); !ok {
		e.mu.Unlock()
		e.count(d)
		return d
	}
	wr, wh, wd := e.rps.wait(now), e.hour.wait(now), e.day.wait(now)
	if wr == 0 && wh == 0 && wd == 0 {
		e.rps.take(now)
		e.hour.take(now)
		e.day.take(now)
		e.mu.Unlock()
		return allow
	}
	// Over at least one limit; name the one that needs the longest wait.
	lim, w, limit := RequestsPerSecond, wr, e.pol.Limits.RequestsPerSecond
	if wh > w {
		lim, w, limit = APICallsPerHour, wh, e.pol.Limits.APICallsPerHour
	}
	if wd > w {
		lim, w, limit = APICallsPerDay, wd, e.pol.Limits.APICallsPerDay
	}
	var d Decision
	switch e.action {
	case contract.Throttle:
		if time.Duration(w) <= e.maxDelay {
			e.rps.take(now)
			e.hour.take(now)
			e.day.take(now)
			d = Decision{Allow: true, Delay: time.Duration(w), Limit: lim,
				Message: fmt.Sprintf("%s limit of %d reached: request delayed by %s", lim, limit, time.Duration(w))}
			break
		}
		d = refuse(lim, limit, w)
	case contract.AllowWithOverage, contract.Warn:
		// Count the call where there is room, so the other windows still
		// see it; the full buckets stay full.
		if wr == 0 {
			e.rps.take(now)
		}
		if wh == 0 {
			e.hour.take(now)
		}
		if wd == 0 {
			e.day.take(now)
		}
		d = beyond(e.action, lim, fmt.Sprintf("%s limit of %d exceeded", lim, limit))
	default:
		d = refuse(lim, limit, w)
	}
	e.mu.Unlock()
	e.count(d)
	return d
}

// refuse is the block answer to a rate limit: 429 with the wait until the
// next token.
func refuse(lim Limit, limit, wait int64) Decision {
	ra := time.Duration(wait)
	return Decision{Status: http.StatusTooManyRequests, RetryAfter: ra, Limit: lim,
		Message: fmt.Sprintf("%s limit of %d reached; retry after %s", lim, limit, ra.Round(time.Millisecond))}
}

// beyond is the Decision for a request served beyond a limit under the
// allow_with_overage or warn action.
func beyond(a contract.QuotaAction, lim Limit, msg string) Decision {
	if a == contract.Warn {
		return Decision{Allow: true, Warn: true, Limit: lim, Message: msg}
	}
	return Decision{Allow: true, Overage: true, Limit: lim, Message: msg + ": served as overage"}
}

// statusDecision refuses writes of a suspended tenant and every request of
// a deleted one; ok is true when the status allows the request. e.mu is
// held.
func (e *Enforcer) statusDecision(write bool) (Decision, bool) {
	switch {
	case e.status == contract.StatusDeleted:
		return Decision{Status: http.StatusForbidden, Limit: Deleted,
			Message: fmt.Sprintf("tenant %s is deleted", e.pol.Tenant)}, false
	case e.status == contract.StatusSuspended && write:
		return Decision{Status: http.StatusPaymentRequired, Limit: Suspended,
			Message: fmt.Sprintf("tenant %s is suspended by billing: writes are refused until billing resumes it "+
				"(for an unpaid invoice, paying it does: see GET /api/v1/invoices?tenant_id=%s on the billing service); reads still work", e.pol.Tenant, e.pol.Tenant)}, false
	}
	return Decision{}, true
}

// Write checks a write that does not go through Request (a batch member,
// an internal write) against the tenant's status only.
func (e *Enforcer) Write() Decision {
	e.mu.Lock()
	d, ok := e.statusDecision(true)
	e.mu.Unlock()
	if ok {
		return allow
	}
	e.count(d)
	return d
}
