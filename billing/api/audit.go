package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/aerolithdb/aerolith/internal/audit"
)

// Audit actions the billing API records (see Config.Audit).
const (
	ActionAuthFailed = "auth.failed"
	ActionAuthDenied = "auth.denied"
)

// auditedRoutes maps every mutating route, by "METHOD pattern", to its
// audit action. Each call is recorded with its outcome (OutcomeOf the
// status), except usage batches that were accepted in full: those are the
// agents' routine traffic, and the ledger keeps them.
var auditedRoutes = map[string]string{
	"POST /api/v1/tenants":                          "tenant.create",
	"PATCH /api/v1/tenants/{id}":                    "tenant.update",
	"DELETE /api/v1/tenants/{id}":                   "tenant.delete",
	"POST /api/v1/tenants/{id}/suspend":             "tenant.suspend",
	"POST /api/v1/tenants/{id}/resume":              "tenant.resume",
	"POST /api/v1/tenants/{id}/keys":                "key.create",
	"DELETE /api/v1/tenants/{id}/keys/{key}":        "key.revoke",
	"DELETE /api/v1/tenants/{id}/agent-keys/{key}":  "agent_key.revoke",
	"POST /api/v1/clusters":                         "cluster.register",
	"POST /api/v1/clusters/{id}/nodes":              "cluster.node_register",
	"POST /api/v1/clusters/{id}/tenants/{tenant}":   "cluster.tenant_add",
	"DELETE /api/v1/clusters/{id}/tenants/{tenant}": "cluster.tenant_remove",
	"POST /api/v1/usage":                            "usage.ingest",
	"POST /api/v1/invoices/{id}/finalize":           "invoice.finalize",
	"POST /api/v1/invoices/{id}/void":               "invoice.void",
	"POST /api/v1/invoices/{id}/uncollectible":      "invoice.uncollectible",
	"POST /api/v1/invoices/{id}/payments":           "invoice.pay",
}

// noteOf returns the request's audit note (audit.NoteOf).
func noteOf(r *http.Request) *audit.Note { return audit.NoteOf(r.Context()) }

// auditRoute runs next for an audited route and records the outcome.
func (s *Server) auditRoute(action string, rt route, w http.ResponseWriter, r *http.Request, p principal, next func(http.ResponseWriter, *http.Request)) {
	ev, ok := audit.ServeRoute(w, r, defaultTarget(rt, r), next)
	if !ok {
		return
	}
	ev.Actor, ev.Action = actorOf(r, p), action
	s.record(r.Context(), ev)
}

// defaultTarget names what a route acts on from its path.
func defaultTarget(rt route, r *http.Request) string {
	route := rt.method + " " + rt.pattern
	switch {
	case strings.Contains(route, "/keys/{key}"), strings.Contains(route, "/agent-keys/{key}"):
		return "key:" + clip(r.PathValue("key"))
	case strings.HasPrefix(route, "POST /api/v1/clusters/{id}"):
		return "cluster:" + clip(r.PathValue("id"))
	case strings.Contains(route, "/api/v1/tenants/{id}"):
		return "tenant:" + clip(r.PathValue("id"))
	case strings.Contains(route, "/api/v1/invoices/{id}"):
		return "invoice:" + clip(r.PathValue("id"))
	}
	return ""
}

// actorOf is the principal as the audit log records it (the credential's
// id, never the credential) with the remote address.
func actorOf(r *http.Request, p principal) audit.Actor {
	a := audit.Actor{KeyID: p.keyID, Addr: audit.RemoteHost(r)}
	switch p.kind {
	case kindAdmin:
		a.Kind = "admin"
	case kindTenant, kindOwner:
		a.Kind, a.Tenant = "tenant_key", p.tenant
	case kindCluster:
		a.Kind = "cluster"
	default:
		a.Kind = "anonymous"
	}
	return a
}

// auditAuth records a refused credential (coalesced per address and
// reason, see audit.Coalescer).
func (s *Server) auditAuth(rt route, r *http.Request, p principal, err error) {
	action, reason := ActionAuthDenied, "permission_denied"
	actor := actorOf(r, p)
	switch {
	case errors.Is(err, ErrUnauthenticated):
		action, actor = ActionAuthFailed, audit.Actor{Kind: "anonymous", Addr: audit.RemoteHost(r)}
		msg := err.Error()
		switch {
		case strings.Contains(msg, "missing Authorization"):
			reason = "missing_credential"
		case strings.Contains(msg, "Bearer scheme"):
			reason = "bad_scheme"
		case strings.Contains(msg, "empty bearer"):
			reason = "empty_credential"
		case strings.Contains(msg, "revoked"):
			reason = "revoked_key"
		default:
			reason = "invalid_key"
		}
	case errors.Is(err, ErrPermissionDenied):
		reason = "wrong_credential_kind"
	default:
		return // a failed lookup, not a refused credential
	}
	e := audit.Event{
		Actor: actor, Action: action, Target: "route:" + rt.method + " " + rt.pattern, Outcome: audit.OutcomeDenied,
		Detail: map[string]string{"reason": reason},
	}
	if err := s.auditAgg.Append(r.Context(), action+"|"+actor.Addr+"|"+reason, e); err != nil {
		s.log.Warn("audit record failed", "action", action, "err", err)
	}
}

// record appends e; the operation already happened, so a failure is
// logged.
func (s *Server) record(ctx context.Context, e audit.Event) {
	if err := s.cfg.Audit.Append(ctx, e); err != nil {
		s.log.Warn("audit record failed", "action", e.Action, "target", e.Target, "err", err)
	}
}

// FlushAudit records the counts of coalesced authentication failures not
// written yet; the service calls it on shutdown, before closing the log.
func (s *Server) FlushAudit(ctx context.Context) error { return s.auditAgg.Flush(ctx) }
