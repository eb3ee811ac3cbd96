package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/billing/contract"
)

// TestTenantKeyRole: `aerolith tenant keys create --role tenant` gives a
// customer a key of its own tenant, which the billing verbs take with
// --key: it manages its tenant and sees no other.
func TestTenantKeyRole(t *testing.T) {
	startBilling(t, nil)
	var acme, globex contract.Tenant
	for _, tc := range []struct {
		name string
		out  *contract.Tenant
	}{{"acme", &acme}, {"globex", &globex}} {
		out := billingCLI(t, "tenant", "create", "--org", tc.name, "--name", tc.name, "--email", "ap@"+tc.name+".example", "-o", "json")
		if err := json.Unmarshal([]byte(out), tc.out); err != nil {
			t.Fatal(err)
		}
	}
	out := billingCLI(t, "tenant", "keys", "create", acme.ID, "--role", "tenant", "--name", "terraform")
	if !strings.Contains(out, "created tenant key") {
		t.Fatalf("keys create --role tenant printed %q", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := lines[len(lines)-1]
	if !strings.HasPrefix(key, "abk_") {
		t.Fatalf("no key in %q", out)
	}
	if out := billingCLI(t, "tenant", "keys", "list", acme.ID); !strings.Contains(out, "tenant") || !strings.Contains(out, key[len(key)-4:]) || strings.Contains(out, key) {
		t.Fatalf("keys list printed:\n%s", out)
	}
	// Its own tenant: show and set its tier.
	if out := billingCLI(t, "tenant", "set-tier", acme.ID, "professional", "--key", key); !strings.Contains(out, "professional") {
		t.Fatalf("set-tier with the tenant key printed:\n%s", out)
	}
	// Nothing of another tenant, no operator verbs, no stronger keys.
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"tenant", "show", globex.ID}, 1, "not found"},
		{[]string{"tenant", "set-tier", globex.ID, "free"}, 1, "not found"},
		{[]string{"tenant", "suspend", acme.ID}, 1, "needs an admin key"},
		{[]string{"tenant", "create", "--org", "x", "--name", "x", "--email", "x@x.example"}, 1, "needs an admin key"},
		{[]string{"tenant", "keys", "create", acme.ID, "--role", "tenant"}, 1, "read keys only"},
	} {
		r := runCLI(t, "", append(tc.args, "--key", key)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("aerolith %s with the tenant key: exit %d %q, want %d mentioning %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.msg)
		}
	}
	if r := runCLI(t, "", "tenant", "keys", "create", acme.ID, "--role", "admin"); r.code != 2 || !strings.Contains(r.stderr, `--role: "admin" is not a key role (want read or tenant)`) {
		t.Fatalf("--role admin: exit %d %q", r.code, r.stderr)
	}
}
