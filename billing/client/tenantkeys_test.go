package client_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/service"
	"github.com/aerolithdb/aerolith/billing/service/servicetest"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// startService runs a real in-process billing replica (monthly period,
// so nothing is billed behind a test's back) and returns it with an admin
// client.
func startService(t *testing.T) (*service.Service, *client.Client) {
	t.Helper()
	svc := servicetest.Start(t, adminKey, nil)
	admin := newClient(t, "http://"+svc.HTTPAddr(), adminKey)
	storetest.Eventually(t, time.Minute, func() error { _, _, err := admin.PublicKey(context.Background()); return err })
	return svc, admin
}

func newClient(t *testing.T, url, key string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{URL: url, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTenantKey: a customer's tenant key, through the same client an
// admin uses, manages its own tenant's clusters and keys and is refused
// on everything of another tenant and on operator calls.
func TestTenantKey(t *testing.T) {
	svc, admin := startService(t)
	url := "http://" + svc.HTTPAddr()
	ctx := context.Background()
	acme, err := admin.CreateTenant(ctx, client.TenantRequest{Organization: "Acme", Name: "acme", Tier: "starter", Email: "ap@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	globex, err := admin.CreateTenant(ctx, client.TenantRequest{Organization: "Globex", Name: "globex", Tier: "starter", Email: "ap@globex.example"})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := admin.CreateTenantKey(ctx, acme.ID, "terraform")
	if err != nil || tk.Role != client.RoleTenant || tk.Key == "" || tk.TenantID != acme.ID {
		t.Fatalf("CreateTenantKey = %+v, %v", tk, err)
	}
	gxKey, err := admin.CreateTenantKey(ctx, globex.ID, "terraform")
	if err != nil {
		t.Fatal(err)
	}
	gxCl, err := newClient(t, url, gxKey.Key).RegisterCluster(ctx, "gx-1", []string{globex.ID})
	if err != nil || gxCl.Owner != globex.ID {
		t.Fatalf("globex RegisterCluster = %+v, %v", gxCl, err)
	}
	c := newClient(t, url, tk.Key)

	who, err := c.WhoAmI(ctx)
	if err != nil || who.Kind != "tenant" || who.Role != client.RoleTenant || who.TenantID != acme.ID {
		t.Fatalf("WhoAmI = %+v, %v", who, err)
	}
	// Its own cluster: register, read, CA, scale its own tenant,
	// deregister.
	cl, err := c.RegisterCluster(ctx, "acme-1", []string{acme.ID})
	if err != nil || cl.Owner != acme.ID || cl.EnrollmentToken == "" {
		t.Fatalf("RegisterCluster = %+v, %v", cl, err)
	}
	if got, err := c.GetCluster(ctx, cl.ClusterID); err != nil || got.Owner != acme.ID || got.EnrollmentToken != "" {
		t.Fatalf("GetCluster = %+v, %v", got, err)
	}
	if ca, err := c.ClusterCA(ctx, cl.ClusterID); err != nil || !strings.Contains(string(ca), "BEGIN CERTIFICATE") {
		t.Fatalf("ClusterCA = %q, %v", ca, err)
	}
	if ct, err := c.AddClusterTenant(ctx, cl.ClusterID, acme.ID); err != nil || !ct.Unchanged {
		t.Fatalf("AddClusterTenant(own) = %+v, %v", ct, err)
	}
	if ct, err := c.ListClusterTenants(ctx, cl.ClusterID); err != nil || len(ct.Tenants) != 1 || ct.Tenants[0] != acme.ID {
		t.Fatalf("ListClusterTenants = %+v, %v", ct, err)
	}
	// Its own tenant: read, tier, keys, usage, invoices.
	if ten, err := c.SetTier(ctx, acme.ID, "professional"); err != nil || ten.Tier != "professional" {
		t.Fatalf("SetTier(own) = %+v, %v", ten, err)
	}
	rk, err := c.CreateKey(ctx, acme.ID, "dashboard")
	if err != nil || rk.Role != client.RoleRead {
		t.Fatalf("CreateKey(own) = %+v, %v", rk, err)
	}
	keys, err := c.ListKeys(ctx, acme.ID)
	if err != nil || len(keys) != 2 {
		t.Fatalf("ListKeys = %+v, %v", keys, err)
	}
	for _, k := range keys {
		if k.Key != "" || k.Last4 == "" {
			t.Fatalf("listed key %+v: want no secret and its last4", k)
		}
	}
	if _, err := c.RevokeKey(ctx, acme.ID, rk.ID); err != nil {
		t.Fatalf("RevokeKey(own) = %v", err)
	}
	if _, err := c.Usage(ctx, acme.ID, client.UsageQuery{}); err != nil {
		t.Fatalf("Usage(own) = %v", err)
	}
	if _, err := c.ListInvoices(ctx, client.InvoiceQuery{TenantID: acme.ID}); err != nil {
		t.Fatalf("ListInvoices(own) = %v", err)
	}

	// Refusals: another tenant is not found, operator calls are denied.
	refusals := []struct {
		name string
		call func() error
		is   func(error) bool
		msg  string
	}{
		{"another tenant", func() error { _, err := c.GetTenant(ctx, globex.ID); return err }, client.IsNotFound, "not found"},
		{"another tenant's tier", func() error { _, err := c.SetTier(ctx, globex.ID, "free"); return err }, client.IsNotFound, "not found"},
		{"another tenant's keys", func() error { _, err := c.ListKeys(ctx, globex.ID); return err }, client.IsNotFound, "not found"},
		{"another tenant's usage", func() error { _, err := c.Usage(ctx, globex.ID, client.UsageQuery{}); return err }, client.IsNotFound, "not found"},
		{"another tenant's cluster", func() error { _, err := c.GetCluster(ctx, gxCl.ClusterID); return err }, client.IsNotFound, "not found"},
		{"deregister another's cluster", func() error { return c.DeregisterCluster(ctx, gxCl.ClusterID) }, client.IsNotFound, "not found"},
		{"a cluster for another tenant", func() error { _, err := c.RegisterCluster(ctx, "x-1", []string{globex.ID}); return err }, client.IsPermissionDenied, "of its own tenant"},
		{"another tenant on its cluster", func() error { _, err := c.AddClusterTenant(ctx, cl.ClusterID, globex.ID); return err }, client.IsPermissionDenied, "of its own tenant"},
		{"a tenant key", func() error { _, err := c.CreateTenantKey(ctx, acme.ID, "x"); return err }, client.IsPermissionDenied, "read keys only"},
		{"a new tenant", func() error {
			_, err := c.CreateTenant(ctx, client.TenantRequest{Organization: "X", Name: "x", Tier: "free", Email: "x@x.example"})
			return err
		}, client.IsPermissionDenied, "needs an admin key"},
		{"suspend", func() error { _, err := c.SuspendTenant(ctx, acme.ID, ""); return err }, client.IsPermissionDenied, "needs an admin key"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			if err := r.call(); !r.is(err) || !strings.Contains(err.Error(), r.msg) {
				t.Fatalf("err = %v, want one mentioning %q", err, r.msg)
			}
		})
	}

	if err := c.DeregisterCluster(ctx, cl.ClusterID); err != nil {
		t.Fatalf("DeregisterCluster(own) = %v", err)
	}
	// A dedicated cluster the admin registers for acme is acme's to manage.
	ded, err := admin.RegisterTenantCluster(ctx, "acme-dedicated", acme.ID)
	if err != nil || ded.Owner != acme.ID {
		t.Fatalf("admin RegisterTenantCluster = %+v, %v", ded, err)
	}
	if err := c.DeregisterCluster(ctx, ded.ClusterID); err != nil {
		t.Fatalf("DeregisterCluster(dedicated) = %v", err)
	}
	if own, err := c.RegisterTenantCluster(ctx, "", acme.ID); err != nil || own.Owner != acme.ID || own.ClusterID == "" {
		t.Fatalf("tenant RegisterTenantCluster = %+v, %v", own, err)
	}
	// Revoked by the admin, the key is refused.
	if _, err := admin.RevokeKey(ctx, acme.ID, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetTenant(ctx, acme.ID); !client.IsUnauthenticated(err) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked key: %v", err)
	}
}
