package meter_test

import (
	"context"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/meter"
	"github.com/aerolithdb/aerolith/billing/client"
)

// billingFixture starts billing with one tenant in one cluster and returns
// the admin client, the tenant and a sender with the cluster's token.
func billingFixture(t *testing.T) (admin *client.Client, tenant string, snd *client.Client) {
	t.Helper()
	ctx := context.Background()
	bill, admin := startBilling(t, t.TempDir())
	tn, err := admin.CreateTenant(ctx, client.TenantRequest{Organization: "acme", Name: "acme", Tier: "starter", Email: "ap@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	enr, err := admin.RegisterCluster(ctx, "", []string{tn.ID})
	if err != nil {
		t.Fatal(err)
	}
	return admin, tn.ID, billingClient(t, bill, enr.EnrollmentToken)
}

// billedWrites returns billing's write total of tenant.
func billedWrites(t *testing.T, admin *client.Client, tenant string) uint64 {
	t.Helper()
	s, err := admin.Usage(context.Background(), tenant, client.UsageQuery{From: time.Now().Add(-48 * time.Hour), To: time.Now().Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return s.Total.Writes
}

// recordAndFlush opens a meter of node n1 on dir, records writes for
// tenant, ships everything and closes it; it returns the outbox's
// incarnation.
func recordAndFlush(t *testing.T, dir string, snd meter.Sender, tenant string, writes uint64) string {
	t.Helper()
	m := newTestMeter(t, dir, snd, nil)
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Record(tenant, meter.Usage{Writes: writes}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Incarnation == "" {
		t.Fatal("a new outbox has no incarnation")
	}
	return st.Incarnation
}

// TestWipedNodeIsBilled: node n1 ships usage, then its data directory is
// wiped (a replaced disk) and it restarts under the same node id. The new
// outbox numbers its records from 1 again; billing must count them, not
// answer "duplicate" for the old outbox's seq 1 (which is what happened
// when the dedupe key was (cluster, node, seq): billed 3 writes of 8).
func TestWipedNodeIsBilled(t *testing.T) {
	admin, tenant, snd := billingFixture(t)
	inc1 := recordAndFlush(t, t.TempDir(), snd, tenant, 3)
	inc2 := recordAndFlush(t, t.TempDir(), snd, tenant, 5) // the wiped node
	if inc1 == inc2 {
		t.Fatalf("both outboxes have incarnation %s", inc1)
	}
	if got := billedWrites(t, admin, tenant); got != 8 {
		t.Fatalf("billed %d writes, want 8 (3 before the wipe, 5 after)", got)
	}
}
