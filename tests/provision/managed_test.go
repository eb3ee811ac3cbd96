package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// TestManagedCreateMetersWrites: cluster create --billing-url registers
// the cluster in a real billing process for a tenant; its nodes enroll,
// serve the tenant's key and meter its writes into billing: billing ends
// up with at least every acknowledged write and at most every attempt.
// destroy deregisters it: its enrollment token stops working.
func TestManagedCreateMetersWrites(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bill, err := proctest.StartBilling(ctx, proctest.BillingConfig{Binary: binary, Dir: filepath.Join(t.TempDir(), "billing"), TLS: true, ExtraArgs: []string{"--period", "1h"}})
	if err != nil {
		t.Fatal(err)
	}
	defer bill.Stop()
	admin, err := bill.Admin()
	if err != nil {
		t.Fatal(err)
	}
	ten, err := admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "Org", Name: "paid", Tier: "enterprise", Email: "paid@example.com"})
	if err != nil {
		t.Fatal(err)
	}

	s := e.showJSON(e.run("cluster", "create", "paid", "--nodes", "3",
		"--billing-url", bill.URL(), "--billing-key", bill.AdminKey(), "--billing-ca-file", bill.CAFile(), "--tenant", ten.ID,
		"--agent-setting", "meter-window=1s", "--agent-setting", "policy-refresh=1s", "-o", "json"))
	if len(s.Endpoints) != 3 || !strings.HasPrefix(s.Health, "healthy") {
		t.Fatalf("created: %+v", s)
	}
	var rec struct {
		Spec struct {
			Managed struct {
				ClusterID       string `json:"cluster_id"`
				EnrollmentToken string `json:"enrollment_token"`
			} `json:"managed"`
		} `json:"spec"`
	}
	b, err := os.ReadFile(filepath.Join(e.state, "clusters", "paid.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := jsonUnmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Spec.Managed.ClusterID == "" || rec.Spec.Managed.EnrollmentToken != "" {
		t.Fatalf("record's managed settings: %+v (want the cluster id, and the token only in the secrets file)", rec.Spec.Managed)
	}
	// Billing knows the cluster, and its nodes registered themselves.
	testwait.For(t, time.Minute, "nodes registered in billing", func() error {
		cl, err := admin.GetCluster(ctx, rec.Spec.Managed.ClusterID)
		if err != nil {
			return err
		}
		if len(cl.Nodes) != 3 {
			return fmt.Errorf("%d nodes registered", len(cl.Nodes))
		}
		return nil
	})

	adminKey := e.adminKey("paid")
	var key struct {
		Key string `json:"key"`
	}
	out := e.run("key", "create", "--tenant", ten.ID, "--role", "readwrite", "--name", "load",
		"--url", strings.Join(s.Endpoints, ","), "--admin-key", adminKey, "--ca-file", s.CAFile, "-o", "json")
	if err := jsonUnmarshal(out, &key); err != nil || key.Key == "" {
		t.Fatalf("key create: %s (%v)", out, err)
	}
	c := e.client(key.Key, s.CAFile)
	const n = 30
	acked, attempts := 0, 0
	for i := 0; acked < n; i++ {
		ep := s.Endpoints[i%len(s.Endpoints)]
		attempts++
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := c.Put(cctx, ep, "orders", fmt.Sprintf("o-%d", i), map[string]int{"i": i}, 0)
		cancel()
		var ae *proctest.APIError
		switch {
		case err == nil:
			acked++
		case errors.As(err, &ae) && ae.Status == 503:
			// The node has no policy for the tenant yet (refused, not metered).
			time.Sleep(100 * time.Millisecond)
		case attempts > 10*n:
			t.Fatalf("write %d: %v", i, err)
		}
	}
	var billed uint64
	testwait.For(t, 2*time.Minute, "writes metered into billing", func() error {
		u, err := admin.Usage(ctx, ten.ID, billingclient.UsageQuery{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
		if err != nil {
			return err
		}
		billed = u.Total.Writes
		if billed < n {
			return fmt.Errorf("billing has %d writes of %d acknowledged", billed, n)
		}
		return nil
	})
	t.Logf("acknowledged %d writes in %d attempts; billing has %d", acked, attempts, billed)
	if billed > uint64(attempts) {
		t.Fatalf("billing has %d writes, more than the %d attempts", billed, attempts)
	}
	// destroy deregisters the cluster: its token no longer works.
	var sec struct {
		Token string `json:"enrollment_token"`
	}
	b, err = os.ReadFile(filepath.Join(e.state, "clusters", "paid.secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := jsonUnmarshal(b, &sec); err != nil || sec.Token == "" {
		t.Fatalf("secrets: %s (%v)", b, err)
	}
	e.destroy("paid", "--billing-key", bill.AdminKey())
	asCluster, err := billingclient.New(billingclient.Config{URL: bill.URL(), Key: sec.Token, HTTPClient: bill.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asCluster.GetCluster(ctx, rec.Spec.Managed.ClusterID); !billingclient.IsUnauthenticated(err) {
		t.Fatalf("the destroyed cluster's token: GetCluster = %v, want 401", err)
	}
	if _, err := admin.GetCluster(ctx, rec.Spec.Managed.ClusterID); err != nil {
		t.Fatalf("billing lost the destroyed cluster's record: %v", err)
	}
}
