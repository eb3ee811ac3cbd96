package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/meter"
	"github.com/aerolithdb/aerolith/agent/policy"
	"github.com/aerolithdb/aerolith/agent/quota"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// Governor gives the quota enforcer of a tenant (see Config.Governor).
type Governor interface {
	// Enforcer returns tenant's enforcer. The error wraps
	// policy.ErrNoPolicy when no policy was ever obtained for tenant.
	Enforcer(tenant string) (*quota.Enforcer, error)
}

// Meter receives the usage of served requests (see Config.Meter).
// *meter.Meter implements it.
type Meter interface {
	// Record adds u to tenant's usage. When it returns nil the usage must
	// survive a crash of the process.
	Record(tenant string, u meter.Usage) error
	// RecordApplied is Record for a request already applied (a write that
	// succeeded): when the usage cannot be recorded at once it is kept
	// and the call waits until it is recorded (nil) or ctx ends.
	RecordApplied(ctx context.Context, tenant string, u meter.Usage) error
	// Ready reports whether usage can be recorded now; a write is refused
	// before it is applied when it cannot.
	Ready() error
}

var _ Meter = (*meter.Meter)(nil)

// HeaderQuotaWarning is the response header listing the limits a served
// request went past (allow_with_overage and warn actions), comma-separated,
// e.g. "storage_bytes, requests_per_second".
const HeaderQuotaWarning = "Aerolith-Quota-Warning"

// routeKind classifies a route for quotas and metering.
type routeKind uint8

const (
	// kindOpen routes need no credential; never governed nor metered.
	kindOpen routeKind = iota
	// kindMeta: stats, cluster, metrics, keys. A rate-limited API call
	// (a read for suspension), metered for its bytes only.
	kindMeta
	// kindRead: a document get or a list call, metered as 1 read.
	kindRead
	// kindWrite: a document put or delete, a collection or index change,
	// a batch; metered as 1 write (a batch: 1 per operation).
	kindWrite
	// kindQuery: a query, metered as 1 query and its compute ms.
	kindQuery
)

// isClusterAdmin reports whether p is the cluster operator (the admin key,
// or insecure mode) rather than a tenant's key.
func isClusterAdmin(p auth.Principal) bool {
	return p.KeyID == auth.AdminKeyID || p.KeyID == auth.InsecureKeyID
}

// reqState is what the governance step and the handlers of one tenant
// request tell each other.
type reqState struct {
	tenant string
	kind   routeKind
	// enf is the tenant's enforcer; nil when the request is not governed
	// (no Governor, or no policy yet for a read).
	enf *quota.Enforcer
	// writes is the number of writes of a batch (0: the route's 1).
	writes int
	// query is the wall time of the query execution.
	query time.Duration
	// warnings are the limits the request went past while served.
	warnings []string
	// refused marks a quota refusal (never metered).
	refused bool
}

// stateCarrier is the ResponseWriter serveTenant gives the handlers of a
// governed or metered request: it carries the request's state.
type stateCarrier interface {
	http.ResponseWriter
	state() *reqState
}

// stateResponse is the stateCarrier of a request that is not metered
// (no buffering).
type stateResponse struct {
	http.ResponseWriter
	st *reqState
}

func (s *stateResponse) state() *reqState { return s.st }

// stateOf returns the state of the request answered through w, nil for
// requests outside the governance step (open routes, the cluster admin,
// unmanaged agents).
func stateOf(w http.ResponseWriter) *reqState {
	if c, ok := w.(stateCarrier); ok {
		return c.state()
	}
	return nil
}

// warn records that the request went past limit and updates the
// HeaderQuotaWarning of w.
func (st *reqState) warn(w http.ResponseWriter, limit string) {
	for _, l := range st.warnings {
		if l == limit {
			return
		}
	}
	st.warnings = append(st.warnings, limit)
	w.Header().Set(HeaderQuotaWarning, strings.Join(st.warnings, ", "))
}

// errNoPolicy is the answer to a write of a tenant without a policy.
func errNoPolicy() *jsonapi.Error {
	return jsonapi.Errorf(http.StatusServiceUnavailable, CodeNoPolicy,
		"billing has not been reached yet: this node has no policy for the tenant, so writes are refused until it obtains one; "+
			"reads still work; retry shortly")
}

// govern runs the per-request quota checks of a tenant request. It returns
// the release to call when the request is done, and ok=false when it has
// answered w itself (a refusal).
func (s *Server) govern(w http.ResponseWriter, r *http.Request, p auth.Principal, st *reqState) (release func(), ok bool) {
	write := st.kind == kindWrite
	enf, err := s.cfg.Governor.Enforcer(p.Tenant)
	switch {
	case err == nil:
	case errors.Is(err, policy.ErrNoPolicy):
		if write {
			s.auditQuota(r, p, auditLimitNoPolicy, http.StatusServiceUnavailable)
			s.fail(w, r, errNoPolicy())
			return nil, false
		}
		return noRelease, true // reads are served without a policy
	default:
		s.log.Error("quota enforcer unavailable", "tenant", p.Tenant, "err", err)
		s.fail(w, r, jsonapi.Errorf(http.StatusServiceUnavailable, jsonapi.CodeUnavailable, "quota enforcement is unavailable on this node; retry shortly"))
		return nil, false
	}
	st.enf = enf
	d := enf.Request(write)
	if !s.admit(w, r, p, st, d) {
		return nil, false
	}
	if d.Delay > 0 {
		if err := s.sleep(r.Context(), d.Delay); err != nil {
			s.fail(w, r, err)
			return nil, false
		}
	}
	// Acquire waits itself under throttle: its Delay is informative.
	d, release = enf.Acquire(r.Context())
	if !s.admit(w, r, p, st, d) {
		return nil, false
	}
	return release, true
}

func noRelease() {}

// admit applies a Decision: a refusal is answered (ok=false); a request
// served beyond a limit gets the warning header, and under warn a log line
// and the warning metric.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, p auth.Principal, st *reqState, d quota.Decision) bool {
	if !d.Allow {
		st.refused = true
		s.auditQuota(r, p, string(d.Limit), d.Status)
		s.fail(w, r, decisionError(d))
		return false
	}
	if d.Warn {
		s.quotaWarning(p.Tenant, string(d.Limit), d.Message)
	}
	if d.Warn || d.Overage {
		st.warn(w, string(d.Limit))
	}
	return true
}

// quotaWarning logs a request served past limit under the warn action and
// counts it in aerolith_quota_warnings_total.
func (s *Server) quotaWarning(tenant, limit, message string) {
	s.log.Warn("quota limit exceeded; request served (warn action)", "tenant", tenant, "limit", limit, "message", message)
	s.metrics.quotaWarnings.WithLabelValues(limit).Inc()
}

// exceeded handles the limits a write was applied past (docs
// Result.Exceeded): the warning header, and under the warn action a log
// line and the metric.
func (s *Server) exceeded(w http.ResponseWriter, r *http.Request, limits []string) {
	if len(limits) == 0 {
		return
	}
	st := stateOf(w)
	if st == nil {
		// Not a governed request (the cluster admin): the header only.
		w.Header().Set(HeaderQuotaWarning, strings.Join(limits, ", "))
		return
	}
	warnAction := st.enf != nil && st.enf.Policy().QuotaAction == contract.Warn
	for _, l := range limits {
		if warnAction {
			s.quotaWarning(st.tenant, l, "write applied past the "+l+" limit")
		}
		st.warn(w, l)
	}
}

// decisionError is the answer to a refused Decision.
func decisionError(d quota.Decision) *jsonapi.Error {
	e := &jsonapi.Error{Status: d.Status, Message: d.Message, Quota: true}
	switch d.Status {
	case http.StatusTooManyRequests:
		e.Code = CodeQuotaExceeded
		e.RetryAfter = d.RetryAfter
	case http.StatusPaymentRequired:
		e.Code = CodePaymentRequired
	case http.StatusForbidden:
		e.Code = jsonapi.CodePermissionDenied
	case http.StatusRequestTimeout:
		e.Code = CodeQueryTimeout
	case http.StatusInsufficientStorage:
		e.Code = CodeStorageQuotaExceeded
	default:
		e.Code = CodeQuotaExceeded
	}
	return e
}

// sleepContext waits d or until ctx is done (then it returns ctx's error).
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
