package httpapi

import (
	"context"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/agent/keyring"
)

// fakeDataKeys records rotations.
type fakeDataKeys struct{ rotated []string }

func (f *fakeDataKeys) Rotate(_ context.Context, tenant string) (uint32, error) {
	f.rotated = append(f.rotated, tenant)
	return uint32(len(f.rotated) + 1), nil
}
func (f *fakeDataKeys) Tenants() []string { return []string{"alpha", "beta"} }
func (f *fakeDataKeys) Status(context.Context) ([]keyring.TenantStatus, error) {
	return []keyring.TenantStatus{{Tenant: "alpha", CurrentVersion: 2, Documents: map[uint32]int{1: 3, 2: 4}, Pending: 3}}, nil
}

// TestDataKeyRoutes: the data-key routes need the cluster admin key,
// answer 404 not_encrypted without encryption at rest, rotate one tenant or
// all, and show the status.
func TestDataKeyRoutes(t *testing.T) {
	plain := newEnv(t)
	r := plain.do("POST", "/api/v1/admin/data-keys/rotate", adminKey, `{"tenant":"alpha"}`)
	if code, _ := r.ErrCode(t); r.Status != 404 || code != CodeNotEncrypted {
		t.Fatalf("rotate without encryption = %d %s, want 404 %s", r.Status, code, CodeNotEncrypted)
	}

	dk := &fakeDataKeys{}
	e := newEnv(t, func(c *Config) { c.DataKeys = dk })
	if r := e.do("POST", "/api/v1/admin/data-keys/rotate", rwKey, `{}`); r.Status != 403 {
		t.Fatalf("rotate with a tenant key = %d, want 403", r.Status)
	}
	if r := e.do("GET", "/api/v1/admin/data-keys", readKey, ``); r.Status != 403 {
		t.Fatalf("status with a tenant key = %d, want 403", r.Status)
	}
	r = e.must(200, "POST", "/api/v1/admin/data-keys/rotate", adminKey, `{"tenant":"alpha"}`)
	if !strings.Contains(string(r.Body), `"tenant":"alpha","version":2`) {
		t.Fatalf("rotate one = %s", r.Body)
	}
	r = e.must(200, "POST", "/api/v1/admin/data-keys/rotate", adminKey, ``)
	if strings.Join(dk.rotated, ",") != "alpha,alpha,beta" || !strings.Contains(string(r.Body), `"beta"`) {
		t.Fatalf("rotate all: rotated %v, answer %s", dk.rotated, r.Body)
	}
	if r := e.do("POST", "/api/v1/admin/data-keys/rotate", adminKey, `{"tenants":"x"}`); r.Status != 400 {
		t.Fatalf("rotate with an unknown field = %d, want 400", r.Status)
	}
	r = e.must(200, "GET", "/api/v1/admin/data-keys", adminKey, ``)
	if !strings.Contains(string(r.Body), `"documents_by_version":{"1":3,"2":4}`) || !strings.Contains(string(r.Body), `"pending":3`) {
		t.Fatalf("status = %s", r.Body)
	}
}
