package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/tenancy"
	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// Audit actions the API records (see Config.Audit).
const (
	ActionAuthFailed       = "auth.failed"
	ActionAuthDenied       = "auth.denied"
	ActionKeyCreate        = "key.create"
	ActionKeyRevoke        = "key.revoke"
	ActionMemberJoin       = "member.join"
	ActionMemberRemove     = "member.remove"
	ActionCollectionCreate = "collection.create"
	ActionCollectionDrop   = "collection.drop"
	ActionIndexCreate      = "index.create"
	ActionIndexDrop        = "index.drop"
	ActionQuotaRejected    = "quota.rejected"
	auditLimitNoPolicy     = "no_policy"
	auditReasonUnknownAuth = "invalid_key"
)

// auditedRoutes maps the routes recorded in the audit log, by "METHOD
// pattern", to their action. Every outcome is recorded (ok, denied, error).
var auditedRoutes = map[string]string{
	"POST /api/v1/keys":                              ActionKeyCreate,
	"DELETE /api/v1/keys/{id}":                       ActionKeyRevoke,
	"POST /api/v1/cluster/members":                   ActionMemberJoin,
	"DELETE /api/v1/cluster/members/{id}":            ActionMemberRemove,
	"PUT /api/v1/collections/{c}":                    ActionCollectionCreate,
	"DELETE /api/v1/collections/{c}":                 ActionCollectionDrop,
	"POST /api/v1/collections/{c}/indexes":           ActionIndexCreate,
	"DELETE /api/v1/collections/{c}/indexes/{field}": ActionIndexDrop,
	"POST /api/v1/admin/data-keys/rotate":            ActionDataKeyRotate,
	"POST /api/v1/admin/meter/dead-letters/replay":   ActionDeadLetterReplay,
}

// ActionDataKeyRotate records a rotation of tenants' data keys
// (encryption at rest).
const ActionDataKeyRotate = "data_key.rotate"

// noteOf returns the request's audit note (audit.NoteOf).
func noteOf(r *http.Request) *audit.Note { return audit.NoteOf(r.Context()) }

// auditRoute runs next for an audited route and records its outcome.
func (s *Server) auditRoute(action string, w http.ResponseWriter, r *http.Request, p auth.Principal, next func(http.ResponseWriter, *http.Request)) {
	ev, ok := audit.ServeRoute(w, r, defaultTarget(action, r, p), next)
	if !ok {
		return
	}
	ev.Actor, ev.Action = actorOf(r, p), action
	s.record(r.Context(), ev)
}

// defaultTarget names what an audited route acts on from its path.
func defaultTarget(action string, r *http.Request, p auth.Principal) string {
	switch action {
	case ActionKeyRevoke:
		return "key:" + clipText(r.PathValue("id"))
	case ActionMemberRemove:
		return "node:" + clipText(r.PathValue("id"))
	case ActionCollectionCreate, ActionCollectionDrop:
		return "collection:" + p.Tenant + "/" + clipText(r.PathValue("c"))
	case ActionIndexCreate:
		return "collection:" + p.Tenant + "/" + clipText(r.PathValue("c"))
	case ActionIndexDrop:
		return "index:" + p.Tenant + "/" + clipText(r.PathValue("c")) + "/" + clipText(r.PathValue("field"))
	}
	return ""
}

// actorOf is the principal as the audit log records it: its kind, tenant
// and key id (never the key), and the remote address.
func actorOf(r *http.Request, p auth.Principal) audit.Actor {
	a := audit.Actor{Tenant: p.Tenant, KeyID: p.KeyID, Addr: audit.RemoteHost(r)}
	switch p.KeyID {
	case auth.AdminKeyID:
		a.Kind, a.Tenant = "admin", ""
	case auth.InsecureKeyID:
		a.Kind, a.Tenant = "insecure", ""
	case "":
		a.Kind = "anonymous"
	default:
		a.Kind = "tenant_key"
	}
	return a
}

// auditAuth records a refused credential: auth.failed for an unknown,
// malformed, missing or revoked credential, auth.denied for a valid one
// lacking the rights. Repeats of one address and reason are coalesced.
func (s *Server) auditAuth(r *http.Request, rt route, p auth.Principal, err error) {
	action, reason := ActionAuthDenied, "permission_denied"
	actor := actorOf(r, p)
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		action, reason = ActionAuthFailed, authFailReason(err)
		actor = audit.Actor{Kind: "anonymous", Addr: audit.RemoteHost(r)}
		if tok, terr := auth.BearerToken(r); terr == nil && strings.HasPrefix(tok, tenancy.KeyPrefix) {
			if id, _, perr := tenancy.ParseKey(tok); perr == nil {
				actor.KeyID = clipText(id)
			}
		}
	case errors.Is(err, errClusterAdminOnly):
		reason = "cluster_admin_only"
	case errors.Is(err, errAdminNoData):
		reason = "admin_key_on_data_route"
	case errors.Is(err, auth.ErrPermissionDenied):
		reason = "insufficient_role"
	default:
		return // a failed lookup, not a refused credential
	}
	e := audit.Event{
		Actor: actor, Action: action, Target: "route:" + rt.method + " " + rt.pattern,
		Outcome: audit.OutcomeDenied, Detail: map[string]string{"reason": reason},
	}
	if err := s.auditAgg.Append(r.Context(), action+"|"+actor.Addr+"|"+reason, e); err != nil {
		s.log.Warn("audit record failed", "action", action, "err", err)
	}
}

// authFailReason classifies an authentication failure without echoing
// anything the caller sent.
func authFailReason(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "missing Authorization"):
		return "missing_credential"
	case strings.Contains(msg, "Bearer scheme"):
		return "bad_scheme"
	case strings.Contains(msg, "empty bearer"):
		return "empty_credential"
	case strings.Contains(msg, "revoked"):
		return "revoked_key"
	}
	return auditReasonUnknownAuth
}

// auditQuota records a quota refusal of a tenant request: the limit (or
// no_policy) and the status. Repeats of one tenant, key and limit are
// coalesced.
func (s *Server) auditQuota(r *http.Request, p auth.Principal, limit string, status int) {
	e := audit.Event{
		Actor: actorOf(r, p), Action: ActionQuotaRejected, Target: "tenant:" + p.Tenant,
		Outcome: audit.OutcomeOf(status),
		Detail:  map[string]string{"limit": limit, "status": http.StatusText(status), "route": r.Method + " " + jsonapi.RouteOf(r)},
	}
	if err := s.auditAgg.Append(r.Context(), ActionQuotaRejected+"|"+p.Tenant+"|"+p.KeyID+"|"+limit, e); err != nil {
		s.log.Warn("audit record failed", "action", ActionQuotaRejected, "err", err)
	}
}

// record appends e to the audit log. The operation already happened, so a
// failure to record it is logged, not returned to the caller.
func (s *Server) record(ctx context.Context, e audit.Event) {
	if err := s.cfg.Audit.Append(ctx, e); err != nil {
		s.log.Warn("audit record failed", "action", e.Action, "target", e.Target, "err", err)
	}
}

// FlushAudit records the counts of coalesced audit events (repeated
// authentication failures and quota refusals) not written yet. The agent
// calls it on shutdown, before closing the audit log.
func (s *Server) FlushAudit(ctx context.Context) error { return s.auditAgg.Flush(ctx) }
