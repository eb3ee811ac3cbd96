package api

import (
	"crypto/sha256"
	"fmt"
	"net/http"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// Tenant keys are the ledger's billing API keys (ledger.CreateAPIKey),
// scoped to one tenant, with a role: a read key (ledger.APIKeyRoleRead)
// reads its tenant's own record, usage, invoices, payments, audit trail
// and policy; a tenant key (ledger.APIKeyRoleTenant) also acts for its
// tenant: it registers clusters the tenant then owns, scales and
// deregisters them, reads their CA, changes the tenant's profile and tier,
// creates read keys and revokes the tenant's keys (billing's and the
// agents'). Neither sees anything of another tenant (404) nor does any
// operator's work (403). An admin creates keys of either role, a tenant
// key read keys only (POST /api/v1/tenants/{id}/keys); the key is returned
// once and only its SHA-256 and last four characters are replicated.
// Creation and revocation are on the tenant's audit trail. They are not
// the agents' data API keys (ledger.RevokeAgentKey).

// keyOut is the answer of POST /api/v1/tenants/{id}/keys: the key's
// description and, once, the key.
type keyOut struct {
	ledger.APIKey
	Key string `json:"key,omitempty"`
}

// keysBody is the answer of GET /api/v1/tenants/{id}/keys.
type keysBody struct {
	Keys []ledger.APIKey `json:"keys"`
}

// createKey: POST /api/v1/tenants/{id}/keys [{"name"}] → 201 with the key
// (shown once; only its SHA-256 is stored).
func (s *Server) createKey(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := requireTenant(p, r.PathValue("id")); err != nil {
		return err
	}
	body, err := decodeKey(r.Body)
	if err != nil {
		return err
	}
	if p.kind == kindOwner && body.Role != ledger.APIKeyRoleRead {
		// A key never mints a key as strong as itself: revoking a leaked
		// tenant key must be enough.
		return fmt.Errorf("%w: a tenant key creates read keys only; a key of role %s comes from the admin", ErrPermissionDenied, body.Role)
	}
	secret, err := newSecret(tenantKeyPrefix)
	if err != nil {
		return err
	}
	res, err := s.propose(r.Context(), ledger.CreateAPIKey{
		Header: s.header(p), Tenant: r.PathValue("id"), KeyID: ledger.NewID("bk_"),
		Name: body.Name, Role: body.Role, Last4: secret[len(secret)-4:],
		KeyHash: sha256.Sum256([]byte(secret)),
	})
	if err != nil {
		return err
	}
	noteOf(r).Set("key:"+res.APIKey.ID, "tenant", res.APIKey.Tenant, "key_id", res.APIKey.ID)
	jsonapi.WriteJSON(w, http.StatusCreated, keyOut{APIKey: *res.APIKey, Key: secret})
	return nil
}

// listKeys: GET /api/v1/tenants/{id}/keys → {"keys":[...]}, oldest first
// (never the keys themselves nor their hashes).
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := requireTenant(p, r.PathValue("id")); err != nil {
		return err
	}
	var body keysBody
	err := s.view(r, func(tx *bolt.Tx) error {
		var err error
		body.Keys, err = ledger.ListAPIKeys(tx, r.PathValue("id"))
		return err
	})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, body)
	return nil
}

// revokeKey: DELETE /api/v1/tenants/{id}/keys/{key} → 200 with the revoked
// key; requests with it fail with 401 from then on. Revoking a revoked key
// answers it again.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := requireTenant(p, r.PathValue("id")); err != nil {
		return err
	}
	res, err := s.propose(r.Context(), ledger.RevokeAPIKey{
		Header: s.header(p), Tenant: r.PathValue("id"), KeyID: r.PathValue("key"),
	})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, res.APIKey)
	return nil
}

// revokeAgentKey: DELETE /api/v1/tenants/{id}/agent-keys/{key} → 200 with
// the tenant. It revokes one of the tenant's data API keys (the id of a key
// the agents accept, "ak_<id>_..."): the id joins the tenant's policy
// (revoked_keys), and every agent refuses the key once it refreshed the
// policy. Revoking a revoked key answers the tenant unchanged.
func (s *Server) revokeAgentKey(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := requireTenant(p, r.PathValue("id")); err != nil {
		return err
	}
	res, err := s.propose(r.Context(), ledger.RevokeAgentKey{
		Header: s.header(p), Tenant: r.PathValue("id"), KeyID: r.PathValue("key"),
	})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, wirePtr(res.Tenant))
	return nil
}
