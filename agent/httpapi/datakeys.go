package httpapi

import (
	"context"
	"net/http"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/keyring"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// DataKeys manages the tenants' data keys of encryption at rest behind
// /api/v1/admin/data-keys (see Config.DataKeys); *keyring.Manager
// implements it.
type DataKeys interface {
	// Rotate proposes a new current data key version for tenant.
	Rotate(ctx context.Context, tenant string) (uint32, error)
	// Tenants lists the tenants that have data keys.
	Tenants() []string
	// Status reports each tenant's key versions and re-encryption.
	Status(ctx context.Context) ([]keyring.TenantStatus, error)
}

var _ DataKeys = (*keyring.Manager)(nil)

// CodeNotEncrypted: a data-key route on an agent without encryption at
// rest (404).
const CodeNotEncrypted = "not_encrypted"

func errNotEncrypted() *jsonapi.Error {
	return jsonapi.Errorf(http.StatusNotFound, CodeNotEncrypted, "this cluster does not encrypt at rest (start the agents with --master-key-file)")
}

// rotateBody is the body of POST /api/v1/admin/data-keys/rotate: one
// tenant, or every tenant that has data keys when empty.
type rotateBody struct {
	Tenant string `json:"tenant"`
}

// rotation is one tenant's new key version.
type rotation struct {
	Tenant  string `json:"tenant"`
	Version uint32 `json:"version"`
}

// rotateDataKeys: POST /api/v1/admin/data-keys/rotate (cluster admin).
// Reads and writes continue; documents under older versions stay readable
// and the leader re-encrypts them in the background (GET
// /api/v1/admin/data-keys shows the progress).
func (s *Server) rotateDataKeys(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	if s.cfg.DataKeys == nil {
		return errNotEncrypted()
	}
	var body rotateBody
	if r.ContentLength != 0 {
		if err := decodeStrict(r.Body, &body); err != nil {
			return err
		}
	}
	tenants := []string{body.Tenant}
	if body.Tenant == "" {
		tenants = s.cfg.DataKeys.Tenants()
	}
	out := []rotation{}
	for _, t := range tenants {
		v, err := s.cfg.DataKeys.Rotate(r.Context(), t)
		if err != nil {
			return err
		}
		out = append(out, rotation{Tenant: t, Version: v})
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"rotated": out})
	return nil
}

// dataKeyStatus: GET /api/v1/admin/data-keys (cluster admin).
func (s *Server) dataKeyStatus(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	if s.cfg.DataKeys == nil {
		return errNotEncrypted()
	}
	st, err := s.cfg.DataKeys.Status(r.Context())
	if err != nil {
		return err
	}
	if st == nil {
		st = []keyring.TenantStatus{}
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"tenants": st})
	return nil
}
