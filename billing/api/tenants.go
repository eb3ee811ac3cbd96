package api

import (
	"net/http"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// createTenant: POST /api/v1/tenants {"organization","name","tier","email"}
// → 201 with the tenant. The id is generated ("tn_..."). A name already
// used by a tenant of the same organization (not deleted; case ignored) is
// 409 naming that tenant.
func (s *Server) createTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	req, err := ledger.DecodeTenantRequest(r.Body)
	if err != nil {
		return err
	}
	res, err := s.propose(r.Context(), req.Command(s.header(p), ledger.NewID("tn_")))
	if err != nil {
		return err
	}
	noteOf(r).Set("tenant:"+res.Tenant.ID, "tier", res.Tenant.Tier)
	w.Header().Set("Location", "/api/v1/tenants/"+res.Tenant.ID)
	jsonapi.WriteJSON(w, http.StatusCreated, wirePtr(res.Tenant))
	return nil
}

// listTenants: GET /api/v1/tenants?limit=&offset=&include_deleted=true →
// {"tenants":[...],"total","limit","offset"}. A tenant key lists only its
// own tenant.
func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, p principal) error {
	q := r.URL.Query()
	var tq ledger.TenantQuery
	var err error
	if tq.Limit, err = intParam(q.Get("limit"), "limit"); err != nil {
		return err
	}
	if tq.Offset, err = intParam(q.Get("offset"), "offset"); err != nil {
		return err
	}
	if v := q.Get("include_deleted"); v != "" {
		if tq.IncludeDeleted, err = strconv.ParseBool(v); err != nil {
			return jsonapi.Invalid("include_deleted: %q is not a boolean (want true or false)", v)
		}
	}
	var page ledger.TenantPage
	err = s.view(r, func(tx *bolt.Tx) error {
		if p.kind&tenantKeys != 0 {
			page = ledger.TenantPage{Tenants: []ledger.Tenant{}, Limit: max(tq.Limit, 1), Offset: tq.Offset}
			t, err := ledger.GetTenant(tx, p.tenant)
			if err != nil {
				return err
			}
			if t.Status != ledger.StatusDeleted || tq.IncludeDeleted {
				page.Total = 1
				if tq.Offset == 0 {
					page.Tenants = append(page.Tenants, t)
				}
			}
			return nil
		}
		var err error
		page, err = ledger.ListTenants(tx, tq)
		return err
	})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, page.Wire())
	return nil
}

// getTenant: GET /api/v1/tenants/{id}.
func (s *Server) getTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	if err := requireTenant(p, id); err != nil {
		return err
	}
	var t ledger.Tenant
	err := s.view(r, func(tx *bolt.Tx) error {
		var err error
		t, err = ledger.GetTenant(tx, id)
		return err
	})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, t.Wire())
	return nil
}

// tenantUpdateOut is the answer of PATCH /api/v1/tenants/{id}: the tenant,
// and "unchanged": true when the patch changed nothing (e.g. the tier it
// was already on: no change is recorded in the audit trail).
type tenantUpdateOut struct {
	*contract.Tenant
	Unchanged bool `json:"unchanged,omitempty"`
}

// updateTenant: PATCH /api/v1/tenants/{id} with any of "organization",
// "name", "email" and "tier" → 200 with the tenant (and "unchanged": true
// when nothing changed). A tier change is prorated by the second within
// the current period. Profile fields and tier are two ledger commands
// applied in that order: if the tier is refused (400 naming the tier) the
// profile change has been applied. Renaming a tenant to the name of
// another tenant of its organization is 409 naming that tenant.
func (s *Server) updateTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	if err := requireTenant(p, id); err != nil {
		return err
	}
	patch, err := ledger.DecodeTenantPatch(r.Body)
	if err != nil {
		return err
	}
	if patch.Tier != nil {
		noteOf(r).Set("", "tier", clip(*patch.Tier))
	}
	out := tenantUpdateOut{Unchanged: true}
	for _, cmd := range patch.Commands(s.header(p), id) {
		res, err := s.propose(r.Context(), cmd)
		if err != nil {
			return err
		}
		out.Tenant = wirePtr(res.Tenant)
		out.Unchanged = out.Unchanged && res.Unchanged
	}
	if out.Unchanged {
		noteOf(r).Set("", "unchanged", "true")
	}
	jsonapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// deleteTenant: DELETE /api/v1/tenants/{id} → 200 with the (soft-)deleted
// tenant. Its invoices, payments and audit trail are kept; a final invoice
// covers the period up to the deletion.
func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	res, err := s.propose(r.Context(), ledger.DeleteTenant{Header: s.header(p), Tenant: r.PathValue("id")})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, wirePtr(res.Tenant))
	return nil
}

// reasonBody is the optional body of suspend, resume and void.
type reasonBody struct {
	Reason string `json:"reason"`
}

// suspendTenant: POST /api/v1/tenants/{id}/suspend [{"reason"}] → 200 with
// the tenant. An administrative suspension (default reason "manual") is
// never lifted by a payment.
func (s *Server) suspendTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	body, err := decodeReason(r)
	if err != nil {
		return err
	}
	if body.Reason == "" {
		body.Reason = "manual"
	}
	res, err := s.propose(r.Context(), ledger.SuspendTenant{Header: s.header(p), Tenant: r.PathValue("id"), Reason: body.Reason})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, wirePtr(res.Tenant))
	return nil
}

// resumeTenant: POST /api/v1/tenants/{id}/resume [{"reason"}] → 200 with
// the tenant. The invoices past due at this moment no longer suspend it for
// dunning (the tenant's dunning_waived lists them); later ones do.
func (s *Server) resumeTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	body, err := decodeReason(r)
	if err != nil {
		return err
	}
	if body.Reason == "" {
		body.Reason = "manual"
	}
	res, err := s.propose(r.Context(), ledger.ResumeTenant{Header: s.header(p), Tenant: r.PathValue("id"), Reason: body.Reason})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, wirePtr(res.Tenant))
	return nil
}

// auditBody is the answer of GET /api/v1/tenants/{id}/audit.
type auditBody struct {
	Entries []contract.AuditEntry `json:"entries"`
	// Next is the after value of the next page; 0 when this page is the
	// last.
	Next uint64 `json:"next,omitempty"`
}

// tenantAudit: GET /api/v1/tenants/{id}/audit?after=&limit= → entries
// oldest first.
func (s *Server) tenantAudit(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	if err := requireTenant(p, id); err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), "limit")
	if err != nil {
		return err
	}
	var after uint64
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			return jsonapi.Invalid("after: %q is not a sequence number", v)
		}
	}
	if limit <= 0 {
		limit = ledger.DefaultAuditLimit
	}
	var body auditBody
	err = s.view(r, func(tx *bolt.Tx) error {
		entries, err := ledger.Audit(tx, id, after, limit)
		body.Entries = wireAll(entries)
		return err
	})
	if err != nil {
		return err
	}
	if n := len(body.Entries); n > 0 && n == min(limit, 1000) {
		body.Next = body.Entries[n-1].Seq
	}
	jsonapi.WriteJSON(w, http.StatusOK, body)
	return nil
}

// paymentsBody is the answer of GET /api/v1/tenants/{id}/payments.
type paymentsBody struct {
	Payments []contract.Payment `json:"payments"`
}

// tenantPayments: GET /api/v1/tenants/{id}/payments → oldest first.
func (s *Server) tenantPayments(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	if err := requireTenant(p, id); err != nil {
		return err
	}
	var body paymentsBody
	err := s.view(r, func(tx *bolt.Tx) error {
		pays, err := ledger.Payments(tx, id)
		body.Payments = wireAll(pays)
		return err
	})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, body)
	return nil
}

// intParam parses an optional non-negative integer query parameter.
func intParam(v, name string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, jsonapi.Invalid("%s: %q is not a non-negative integer", name, v)
	}
	return n, nil
}
