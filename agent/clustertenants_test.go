package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/testwait"
)

// TestManagedTenantAddedOnDemand: a tenant added to the cluster in billing
// is served by a running node at once, without waiting for the periodic
// refresh (an hour here): key creation asks billing, and the new tenant's
// policy is fetched before the key is answered, so its first write is
// served. Before, key create answered "not served by this cluster" until
// the agent was restarted.
func TestManagedTenantAddedOnDemand(t *testing.T) {
	e := startBilling(t)
	c := managedConfig(t, e, t.TempDir())
	c.PolicyRefresh = time.Hour
	a := openAgent(t, c)
	base := "http://" + a.HTTPAddr()
	testwait.Until(t, waitLimit, "ready", func() bool { return call(t, "GET", base+"/readyz", "", nil) == 200 })

	ctx := context.Background()
	ten, err := e.admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "C", Name: "c", Tier: "starter", Email: "c@c.example"})
	if err != nil {
		t.Fatal(err)
	}
	if st, body := callAs(t, testKey, "POST", base+"/api/v1/keys", `{"tenant":"`+ten.ID+`","role":"readwrite"}`, nil); st != 400 || !strings.Contains(body, "cluster tenants add") {
		t.Fatalf("key for a tenant not served = %d %s", st, body)
	}
	// Listing the keys of a tenant the cluster does not serve (or a
	// mistyped id) is "not found", not an empty list.
	if st, body := callAs(t, testKey, "GET", base+"/api/v1/keys?tenant="+ten.ID, "", nil); st != 404 || !strings.Contains(body, "not served by this cluster") {
		t.Fatalf("key list of a tenant not served = %d %s", st, body)
	}
	if _, err := e.admin.AddClusterTenant(ctx, e.cluster.ClusterID, ten.ID); err != nil {
		t.Fatal(err)
	}
	var k struct{ ID, Key string }
	if st, body := callAs(t, testKey, "POST", base+"/api/v1/keys", `{"tenant":"`+ten.ID+`","role":"readwrite"}`, &k); st != 201 {
		t.Fatalf("key for the added tenant = %d %s", st, body)
	}
	if st, body := callAs(t, k.Key, "PUT", base+"/api/v1/collections/c/documents/1", `{"data":{"n":1}}`, nil); st != 201 {
		t.Fatalf("first write of the added tenant = %d %s", st, body)
	}
	raw, err := os.ReadFile(filepath.Join(c.DataDir, enrollmentFile))
	if err != nil || !strings.Contains(string(raw), ten.ID) {
		t.Fatalf("enrollment.json = %s, %v; want the added tenant", raw, err)
	}
	if st := call(t, "GET", base+"/readyz", "", nil); st != 200 {
		t.Fatalf("/readyz after the addition = %d", st)
	}
}
