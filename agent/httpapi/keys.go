package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/agent/tenancy"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// Keys manages tenant API keys behind /api/v1/keys (see Config.Keys).
type Keys interface {
	// Create makes a key of role ("read", "readwrite" or "admin") for
	// tenant and returns it with its key string (shown once).
	Create(ctx context.Context, tenant, role, name string) (tenancy.APIKey, string, error)
	// List returns tenant's keys, revoked ones included.
	List(ctx context.Context, tenant string) ([]tenancy.APIKey, error)
	// Revoke revokes the key id and returns it once no node of the
	// cluster accepts it any more (tenancy.Keys waits for every member,
	// see its Revoke). An unknown id fails with an error matching
	// document.ErrNotFound (tenancy.ErrNotFound does).
	Revoke(ctx context.Context, id string) (tenancy.APIKey, error)
}

var _ Keys = (*tenancy.Keys)(nil)

// ErrNotEnrolled is returned by a Keys implementation that cannot create a
// key yet because the agent has not enrolled with billing (it does not
// know the cluster's tenants). The API answers 503 not_ready with
// Retry-After; the message says so and when to retry.
var ErrNotEnrolled = errors.New("this agent has not enrolled with billing yet, so it cannot check that the tenant is served by this cluster; retry once GET /readyz answers 200 (see the agent log if it does not)")

// notEnrolledRetry is the Retry-After of ErrNotEnrolled.
const notEnrolledRetry = 2 * time.Second

// keyRoles are the roles a key can be created with.
var keyRoles = []string{"read", "readwrite", "admin"}

// maxKeyName bounds a key's name.
const maxKeyName = 128

// keyBody is a key as the API shows it.
type keyBody struct {
	ID        string     `json:"id"`
	Tenant    string     `json:"tenant"`
	Role      string     `json:"role"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	Revoked   bool       `json:"revoked"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// createdKeyBody is the answer of key creation: the only time the secret
// key string is shown.
type createdKeyBody struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Role      string    `json:"role"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Key       string    `json:"key"`
}

// keyCreateBody is the body of POST /api/v1/keys.
type keyCreateBody struct {
	Tenant string `json:"tenant"`
	Role   string `json:"role"`
	Name   string `json:"name"`
}

func presentKey(k tenancy.APIKey) keyBody {
	b := keyBody{ID: k.ID, Tenant: k.Tenant, Role: k.Role, Name: k.Name, CreatedAt: k.CreatedAt.UTC(), Revoked: k.Revoked}
	if k.Revoked && !k.RevokedAt.IsZero() {
		at := k.RevokedAt.UTC()
		b.RevokedAt = &at
	}
	return b
}

// errNotManaged answers the key routes of an agent without key management.
func errNotManaged() *jsonapi.Error {
	return jsonapi.Errorf(http.StatusNotFound, CodeNotManaged, "this agent does not manage API keys (it is not enrolled with billing)")
}

// keyTenant decides the tenant a key request may act on. The cluster admin
// names any tenant; a tenant's admin key acts on its own tenant only (an
// empty tenant means its own). The refusal never names the other tenant.
func keyTenant(p auth.Principal, asked string) (string, error) {
	if isClusterAdmin(p) {
		if asked == "" {
			return "", jsonapi.Invalid("tenant: required")
		}
		if err := document.ValidateTenant(asked); err != nil {
			return "", jsonapi.Invalid("tenant: %s", err.Error())
		}
		return asked, nil
	}
	if asked != "" && asked != p.Tenant {
		return "", jsonapi.Errorf(http.StatusForbidden, jsonapi.CodePermissionDenied,
			"a tenant's admin key manages the keys of its own tenant only; omit tenant or name the key's own")
	}
	return p.Tenant, nil
}

// createKey: POST /api/v1/keys {"tenant","role","name"} → 201 with the key
// string (shown once).
func (s *Server) createKey(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if s.cfg.Keys == nil {
		return errNotManaged()
	}
	b, err := decodeKeyCreate(r.Body)
	if err != nil {
		return err
	}
	tenant, err := keyTenant(p, b.Tenant)
	if err != nil {
		return err
	}
	noteOf(r).Set("tenant:"+tenant, "tenant", tenant, "role", b.Role)
	k, secret, err := s.cfg.Keys.Create(r.Context(), tenant, b.Role, b.Name)
	if err != nil {
		return err
	}
	noteOf(r).Set("key:"+k.ID, "key_id", k.ID)
	jsonapi.WriteJSON(w, http.StatusCreated, createdKeyBody{
		ID: k.ID, Tenant: k.Tenant, Role: k.Role, Name: k.Name, CreatedAt: k.CreatedAt.UTC(), Key: secret,
	})
	return nil
}

// listKeys: GET /api/v1/keys?tenant=T → {"keys":[...]} (no secrets).
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := knownQuery(r, "tenant"); err != nil {
		return err
	}
	if s.cfg.Keys == nil {
		return errNotManaged()
	}
	tenant, err := keyTenant(p, r.URL.Query().Get("tenant"))
	if err != nil {
		return err
	}
	keys, err := s.cfg.Keys.List(r.Context(), tenant)
	if err != nil {
		return err
	}
	out := make([]keyBody, 0, len(keys))
	for _, k := range keys {
		if k.Tenant != tenant {
			continue // defensive: never show another tenant's key
		}
		out = append(out, presentKey(k))
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"keys": out})
	return nil
}

// revokeKey: DELETE /api/v1/keys/{id} → 200 with the revoked key. A
// tenant's admin key may revoke its own tenant's keys only; any other id
// is "not found" to it, so it learns nothing of other tenants' keys.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if s.cfg.Keys == nil {
		return errNotManaged()
	}
	id := r.PathValue("id")
	if !isClusterAdmin(p) {
		keys, err := s.cfg.Keys.List(r.Context(), p.Tenant)
		if err != nil {
			return err
		}
		own := false
		for _, k := range keys {
			if k.ID == id && k.Tenant == p.Tenant {
				own = true
				break
			}
		}
		if !own {
			return jsonapi.NotFound("api key %q not found", clipText(id))
		}
	}
	k, err := s.cfg.Keys.Revoke(r.Context(), id)
	if err != nil {
		return err
	}
	noteOf(r).Set("", "tenant", k.Tenant, "role", k.Role)
	jsonapi.WriteJSON(w, http.StatusOK, presentKey(k))
	return nil
}

// decodeKeyCreate decodes and checks a key creation body: a known role and
// a printable name of at most maxKeyName bytes. The tenant is checked
// against the caller by keyTenant.
func decodeKeyCreate(r io.Reader) (keyCreateBody, error) {
	var b keyCreateBody
	if err := decodeStrict(r, &b); err != nil {
		return keyCreateBody{}, err
	}
	if !validRole(b.Role) {
		return keyCreateBody{}, jsonapi.Invalid("role: %q is unknown; want one of %s", clipText(b.Role), strings.Join(keyRoles, ", "))
	}
	if len(b.Name) > maxKeyName || !utf8.ValidString(b.Name) || strings.ContainsFunc(b.Name, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		return keyCreateBody{}, jsonapi.Invalid("name: want at most %d bytes of UTF-8 text without control characters", maxKeyName)
	}
	return b, nil
}

func validRole(role string) bool {
	for _, r := range keyRoles {
		if role == r {
			return true
		}
	}
	return false
}

// clipText bounds user text echoed in a message.
func clipText(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
