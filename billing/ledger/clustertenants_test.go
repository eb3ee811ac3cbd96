package ledger

import (
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestClusterTenants(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "starter")
	f.createTenant("t2", "free")
	f.createTenant("t3", "free")
	f.registerCluster("c1", "t1")

	r := f.ok(AddClusterTenant{Header: f.h(), ClusterID: "c1", Tenant: "t3"})
	if !slices.Equal(r.Cluster.Tenants, []string{"t1", "t3"}) {
		t.Fatalf("after add = %v", r.Cluster.Tenants)
	}
	r = f.ok(AddClusterTenant{Header: f.h(), ClusterID: "c1", Tenant: "t2"})
	if !slices.Equal(r.Cluster.Tenants, []string{"t1", "t2", "t3"}) {
		t.Fatalf("after second add = %v, want sorted", r.Cluster.Tenants)
	}
	if e := f.lastAudit("t2"); e.Action != "cluster.tenant_added" || e.EntityID != "c1" {
		t.Fatalf("audit of the added tenant = %+v", e)
	}
	if r := f.ok(AddClusterTenant{Header: f.h(), ClusterID: "c1", Tenant: "t2"}); !r.Unchanged {
		t.Fatal("adding a served tenant again changed something")
	}
	// The enrollment token now serves the new tenant.
	f.view(func(tx *bolt.Tx) error {
		cl, err := ClusterByToken(tx, token("c1"))
		if err != nil || !slices.Contains(cl.Tenants, "t2") {
			t.Fatalf("ClusterByToken = %+v, %v", cl, err)
		}
		return nil
	})

	f.fail(AddClusterTenant{Header: f.h(), ClusterID: "nope", Tenant: "t2"}, ErrNotFound, `cluster "nope" not found`)
	f.fail(AddClusterTenant{Header: f.h(), ClusterID: "c1", Tenant: "ghost"}, ErrNotFound, "ghost")
	f.ok(DeleteTenant{Header: f.h(), Tenant: "t3"})
	f.createTenant("t4", "free")
	f.fail(AddClusterTenant{Header: f.h(), ClusterID: "c1", Tenant: ""}, ErrInvalid, "tenant")

	// Removing refuses without force: billing cannot see the data.
	f.fail(RemoveClusterTenant{Header: f.h(), ClusterID: "c1", Tenant: "t2"}, ErrConflict,
		`tenant "t2" may still have data on cluster "c1"`, "ask the cluster", "force")
	f.fail(RemoveClusterTenant{Header: f.h(), ClusterID: "c1", Tenant: "t4", Force: true}, ErrNotFound, `tenant "t4" is not served by cluster "c1"`)
	r = f.ok(RemoveClusterTenant{Header: f.h(), ClusterID: "c1", Tenant: "t2", Force: true})
	if !slices.Equal(r.Cluster.Tenants, []string{"t1", "t3"}) {
		t.Fatalf("after remove = %v", r.Cluster.Tenants)
	}
	if e := f.lastAudit("t2"); e.Action != "cluster.tenant_removed" || e.Details["forced"] != "true" {
		t.Fatalf("audit of the removed tenant = %+v", e)
	}
	f.ok(RemoveClusterTenant{Header: f.h(), ClusterID: "c1", Tenant: "t3", Force: true})
	// The last tenant stays.
	f.fail(RemoveClusterTenant{Header: f.h(), ClusterID: "c1", Tenant: "t1", Force: true}, ErrState, "at least one tenant")
	// Usage of a window that started after the removal is refused like
	// any tenant the cluster does not serve; usage metered before it and
	// reported late is accepted (never lost).
	f.advance(time.Minute)
	res := f.ingest("c1", rec("n1", 1, "t2", f.now, 1, 0), rec("n1", 2, "t2", f.now.Add(-2*time.Minute), 1, 0))
	if res.Rejected != 1 || res.Accepted != 1 || res.Records[0].Status != RecordRejected || res.Records[1].Status != RecordAccepted {
		t.Fatalf("usage of a removed tenant = %+v, want the later window rejected, the earlier accepted", res)
	}
}
