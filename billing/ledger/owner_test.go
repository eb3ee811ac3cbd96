package ledger

import (
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestRegisterOwnedCluster(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "free")
	f.createTenant("t2", "free")
	f.actor = "tenant:t1:key:bk_1"
	cmd := RegisterOwnedCluster{Header: f.h(), ClusterID: "c1", Owner: "t1", TokenHash: token("c1")}
	r := f.ok(cmd)
	if r.Unchanged || r.Cluster.Owner != "t1" || len(r.Cluster.Tenants) != 1 || r.Cluster.Tenants[0] != "t1" {
		t.Fatalf("registered %+v, want c1 serving and owned by t1", r.Cluster)
	}
	if e := f.lastAudit("t1"); e.Action != "cluster.registered" || e.Details["owner"] != "t1" {
		t.Fatalf("audit = %+v, want cluster.registered naming the owner", e)
	}
	// A retry of the same registration is idempotent; the stored cluster
	// keeps its owner.
	if r := f.ok(cmd); !r.Unchanged || r.Cluster.Owner != "t1" {
		t.Fatalf("retry = %+v, want unchanged", r)
	}
	f.view(func(tx *bolt.Tx) error {
		cl, err := GetCluster(tx, "c1")
		if err != nil || cl.Owner != "t1" {
			t.Fatalf("GetCluster = %+v, %v; want owner t1", cl, err)
		}
		return nil
	})
	// An admin's registration has no owner.
	if cl := f.registerCluster("c2", "t1", "t2"); cl.Owner != "" {
		t.Fatalf("admin registration has owner %q", cl.Owner)
	}
	tests := []struct {
		name string
		cmd  RegisterOwnedCluster
		want error
		msg  string
	}{
		{"same id, other owner", RegisterOwnedCluster{f.h(), "c1", "t2", token("c1")}, ErrConflict, `cluster "c1" already exists`},
		{"admin cluster's id", RegisterOwnedCluster{f.h(), "c2", "t1", token("c2")}, ErrConflict, `cluster "c2" already exists`},
		{"token in use", RegisterOwnedCluster{f.h(), "c3", "t1", token("c1")}, ErrConflict, "token_hash: already used"},
		{"unknown owner", RegisterOwnedCluster{f.h(), "c3", "t9", token("c3")}, ErrInvalid, "tenants[0]"},
		{"bad owner id", RegisterOwnedCluster{f.h(), "c3", "t 9", token("c3")}, ErrInvalid, "owner"},
		{"no owner", RegisterOwnedCluster{f.h(), "c3", "", token("c3")}, ErrInvalid, "owner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.fail(tt.cmd, tt.want, tt.msg)
		})
	}
}

func TestTenantRoleKey(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "free")
	r := f.ok(CreateAPIKey{Header: f.h(), Tenant: "t1", KeyID: "bk_1", Role: APIKeyRoleTenant, KeyHash: apiKeyHash("bk_1")})
	if r.APIKey.Role != APIKeyRoleTenant {
		t.Fatalf("created %+v, want role tenant", r.APIKey)
	}
	f.view(func(tx *bolt.Tx) error {
		k, err := APIKeyByHash(tx, apiKeyHash("bk_1"))
		if err != nil || k.Role != APIKeyRoleTenant || k.Tenant != "t1" {
			t.Fatalf("APIKeyByHash = %+v, %v", k, err)
		}
		return nil
	})
}
