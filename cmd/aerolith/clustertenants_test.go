package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
)

func TestClusterTenantsCommands(t *testing.T) {
	s := startBilling(t, nil)
	tenant := func(name string) contract.Tenant {
		var ten contract.Tenant
		out := billingCLI(t, "tenant", "create", "--org", "Org", "--name", name, "--email", name+"@example.com", "-o", "json")
		if err := json.Unmarshal([]byte(out), &ten); err != nil {
			t.Fatal(err)
		}
		return ten
	}
	acme, globex := tenant("acme"), tenant("globex")
	admin, err := billingclient.New(billingclient.Config{URL: "http://" + s.HTTPAddr(), Key: billingTestKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RegisterCluster(context.Background(), "cl-1", []string{acme.ID}); err != nil {
		t.Fatal(err)
	}

	if out := billingCLI(t, "cluster", "tenants", "list", "cl-1"); !strings.Contains(out, "serves 1 tenant(s): "+acme.ID) {
		t.Fatalf("list printed:\n%s", out)
	}
	if out := billingCLI(t, "cluster", "tenants", "add", "cl-1", globex.ID); !strings.Contains(out, "added tenant "+globex.ID) || !strings.Contains(out, "2 tenant(s)") {
		t.Fatalf("add printed:\n%s", out)
	}
	if out := billingCLI(t, "cluster", "tenants", "add", "cl-1", globex.ID); !strings.Contains(out, "unchanged") {
		t.Fatalf("add again printed:\n%s", out)
	}
	r := runCLI(t, "", "cluster", "tenants", "remove", "cl-1", globex.ID)
	if r.code != 1 || !strings.Contains(r.stderr, "may still have data") || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("remove without --force: exit %d %q", r.code, r.stderr)
	}
	var got billingclient.ClusterTenants
	if err := json.Unmarshal([]byte(billingCLI(t, "cluster", "tenants", "list", "cl-1", "-o", "json")), &got); err != nil || len(got.Tenants) != 2 {
		t.Fatalf("a refused remove changed the tenants: %+v %v", got, err)
	}
	if out := billingCLI(t, "cluster", "tenants", "remove", "cl-1", globex.ID, "--force"); !strings.Contains(out, "removed tenant "+globex.ID) || !strings.Contains(out, "data stays") {
		t.Fatalf("remove --force printed:\n%s", out)
	}
	if r := runCLI(t, "", "cluster", "tenants", "add", "cl-1"); r.code != 2 {
		t.Fatalf("add without a tenant: exit %d %q", r.code, r.stderr)
	}
}
