package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
)

func TestClusterEnrollmentTokenCommand(t *testing.T) {
	s := startBilling(t, nil)
	var ten contract.Tenant
	if err := json.Unmarshal([]byte(billingCLI(t, "tenant", "create", "--org", "Org", "--name", "acme", "--email", "acme@example.com", "-o", "json")), &ten); err != nil {
		t.Fatal(err)
	}
	url := "http://" + s.HTTPAddr()
	admin, err := billingclient.New(billingclient.Config{URL: url, Key: billingTestKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, err := admin.RegisterCluster(ctx, "cl-1", []string{ten.ID})
	if err != nil {
		t.Fatal(err)
	}
	whoami := func(token string) error {
		c, err := billingclient.New(billingclient.Config{URL: url, Key: token, MaxRetries: -1})
		if err != nil {
			return err
		}
		who, err := c.WhoAmI(ctx)
		if err == nil && who.ClusterID != "cl-1" {
			t.Fatalf("token authenticates as %+v, want cluster cl-1", who)
		}
		return err
	}

	out := billingCLI(t, "cluster", "enrollment-token", "cl-1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	second := lines[len(lines)-1]
	if !strings.Contains(out, "keep working") || !strings.HasPrefix(second, "aet_") {
		t.Fatalf("enrollment-token printed:\n%s", out)
	}
	if err := whoami(second); err != nil {
		t.Fatalf("new token: %v", err)
	}
	if err := whoami(first.EnrollmentToken); err != nil {
		t.Fatalf("first token after a new one: %v", err)
	}
	var third billingclient.Enrollment
	if err := json.Unmarshal([]byte(billingCLI(t, "cluster", "enrollment-token", "cl-1", "--revoke-previous", "-o", "json")), &third); err != nil || third.ClusterID != "cl-1" || third.EnrollmentToken == "" {
		t.Fatalf("enrollment-token -o json = %+v, %v", third, err)
	}
	for _, old := range []string{first.EnrollmentToken, second} {
		if err := whoami(old); !billingclient.IsUnauthenticated(err) {
			t.Fatalf("a revoked token: %v, want unauthenticated", err)
		}
	}
	if r := runCLI(t, "", "cluster", "enrollment-token", "cl-9"); r.code != 1 || !strings.Contains(r.stderr, "cl-9") {
		t.Fatalf("unknown cluster: exit %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, "", "cluster", "enrollment-token"); r.code != 2 {
		t.Fatalf("no cluster id: exit %d %q", r.code, r.stderr)
	}
}
