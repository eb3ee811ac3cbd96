package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/billing/contract"
)

func TestTenantCommands(t *testing.T) {
	startBilling(t, nil)
	out := billingCLI(t, "tenant", "create", "--org", "Acme Inc", "--name", "acme", "--email", "ap@acme.example", "--tier", "starter", "-o", "json")
	var acme contract.Tenant
	if err := json.Unmarshal([]byte(out), &acme); err != nil || acme.Tier != "starter" || acme.Status != contract.StatusActive {
		t.Fatalf("tenant create -o json printed %q (%v)", out, err)
	}
	var globex contract.Tenant
	if err := json.Unmarshal([]byte(billingCLI(t, "tenant", "create", "--org", "Globex", "--name", "globex", "--email", "ap@globex.example", "-o", "json")), &globex); err != nil {
		t.Fatal(err)
	}

	out = billingCLI(t, "tenant", "list")
	if !strings.Contains(out, acme.ID) || !strings.Contains(out, "globex") || !strings.HasPrefix(out, "ID") {
		t.Fatalf("tenant list printed:\n%s", out)
	}
	out = billingCLI(t, "tenant", "show", acme.ID)
	for _, want := range []string{"organization:", "Acme Inc", "tier:", "starter", "status:", "active"} {
		if !strings.Contains(out, want) {
			t.Errorf("tenant show lacks %q:\n%s", want, out)
		}
	}
	out = billingCLI(t, "tenant", "set-tier", acme.ID, "professional")
	if !strings.Contains(out, "tier set") || !strings.Contains(out, "professional") {
		t.Fatalf("set-tier printed:\n%s", out)
	}
	// The same tier again changes nothing and says so (it said "tier set").
	out = billingCLI(t, "tenant", "set-tier", acme.ID, "professional")
	if !strings.Contains(out, "tier unchanged") || strings.Contains(out, "tier set") {
		t.Fatalf("set-tier to the same tier printed:\n%s", out)
	}
	if out = billingCLI(t, "tenant", "set-tier", acme.ID, "professional", "-o", "json"); !strings.Contains(out, `"unchanged": true`) {
		t.Fatalf("set-tier -o json to the same tier printed:\n%s", out)
	}
	// A second tenant of the organization with the same name is refused.
	if r := runCLI(t, "", "tenant", "create", "--org", "Acme Inc", "--name", "ACME", "--email", "x@acme.example"); r.code != 1 || !strings.Contains(r.stderr, acme.ID) {
		t.Fatalf("duplicate tenant name: exit %d %q", r.code, r.stderr)
	}
	out = billingCLI(t, "tenant", "suspend", acme.ID, "--reason", "chargeback")
	if !strings.Contains(out, "suspended (chargeback)") {
		t.Fatalf("suspend printed:\n%s", out)
	}
	out = billingCLI(t, "tenant", "resume", acme.ID)
	if !strings.Contains(out, "resumed tenant") {
		t.Fatalf("resume printed:\n%s", out)
	}

	// Read keys: the key reads its tenant only.
	out = billingCLI(t, "tenant", "keys", "create", acme.ID, "--name", "dashboard", "-o", "json")
	var key struct{ ID, Key string }
	if err := json.Unmarshal([]byte(out), &key); err != nil || !strings.HasPrefix(key.Key, "abk_") {
		t.Fatalf("keys create printed %q", out)
	}
	out = billingCLI(t, "tenant", "list", "--key", key.Key)
	if !strings.Contains(out, acme.ID) || strings.Contains(out, "globex") {
		t.Fatalf("tenant list with a read key printed:\n%s", out)
	}
	if r := runCLI(t, "", "tenant", "create", "--org", "x", "--name", "x", "--email", "x@x.example", "--key", key.Key); r.code != 1 || !strings.Contains(r.stderr, "admin key") {
		t.Fatalf("create with a read key: exit %d %q", r.code, r.stderr)
	}
	out = billingCLI(t, "tenant", "keys", "list", acme.ID)
	if !strings.Contains(out, key.ID) || strings.Contains(out, key.Key) {
		t.Fatalf("keys list printed:\n%s", out)
	}
	billingCLI(t, "tenant", "keys", "revoke", acme.ID, key.ID)
	if r := runCLI(t, "", "tenant", "show", acme.ID, "--key", key.Key); r.code != 1 || !strings.Contains(r.stderr, "revoked") {
		t.Fatalf("revoked key: exit %d %q", r.code, r.stderr)
	}

	// Delete asks first: without a terminal it needs --yes; on a terminal
	// the tenant's name must be typed back.
	if r := runCLI(t, "acme\n", "tenant", "delete", acme.ID); r.code != 2 || !strings.Contains(r.stderr, "standard input is not a terminal: pass --yes") {
		t.Fatalf("delete without a terminal or --yes: exit %d %q", r.code, r.stderr)
	}
	var prompt bytes.Buffer
	m := &Main{Stdin: strings.NewReader("y\n"), Stdout: &bytes.Buffer{}, Stderr: &prompt, terminal: func() bool { return true }}
	if err := m.Run(context.Background(), []string{"tenant", "delete", acme.ID}); !errors.Is(err, errNotConfirmed) ||
		!strings.Contains(prompt.String(), `Delete tenant `+acme.ID+` "acme" of "Acme Inc"`) || !strings.Contains(prompt.String(), `Type "acme" to confirm`) {
		t.Fatalf("delete answered y on a terminal: %v, prompt %q", err, prompt.String())
	}
	if out = billingCLI(t, "tenant", "show", acme.ID); strings.Contains(out, "deleted") {
		t.Fatalf("tenant deleted without confirmation:\n%s", out)
	}
	m = &Main{Stdin: strings.NewReader("acme\n"), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, terminal: func() bool { return true }}
	if err := m.Run(context.Background(), []string{"tenant", "delete", acme.ID}); err != nil {
		t.Fatalf("delete confirmed with the name: %v", err)
	}
	if out = billingCLI(t, "tenant", "show", acme.ID); !strings.Contains(out, "deleted") {
		t.Fatalf("tenant show after a confirmed delete:\n%s", out)
	}
	if out = billingCLI(t, "tenant", "delete", globex.ID, "--yes"); !strings.Contains(out, "deleted tenant") {
		t.Fatalf("delete --yes printed:\n%s", out)
	}
	if out = billingCLI(t, "tenant", "list"); strings.Contains(out, acme.ID) {
		t.Fatalf("deleted tenant still listed:\n%s", out)
	}
	if out = billingCLI(t, "tenant", "list", "--all"); !strings.Contains(out, acme.ID) {
		t.Fatalf("list --all lacks the deleted tenant:\n%s", out)
	}

	errs := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tenant", "show", "tn_missing"}, 1, "not found"},
		{[]string{"tenant", "create", "--org", "o", "--name", "n", "--email", "e@x.example", "--tier", "gold"}, 2, `--tier: unknown tier "gold"`},
		{[]string{"tenant", "create", "--org", "o", "--name", "n"}, 2, "--email: required"},
		{[]string{"tenant", "show"}, 2, "TENANT_ID"},
		{[]string{"tenant", "set-tier", "x"}, 2, "TIER"},
		{[]string{"tenant", "frobnicate"}, 2, "unknown command"},
		{[]string{"tenant", "list", "-o", "yaml"}, 2, "--output"},
		{[]string{"tenant", "list", "--billing-url", "ftp://x"}, 2, "billing-url"},
		{[]string{"tenant", "list", "--key", "wrong"}, 1, "invalid key"},
	}
	for _, e := range errs {
		r := runCLI(t, "", e.args...)
		if r.code != e.code || !strings.Contains(r.stderr, e.want) {
			t.Errorf("aerolith %s: exit %d %q; want exit %d mentioning %q", strings.Join(e.args, " "), r.code, r.stderr, e.code, e.want)
		}
	}
}
