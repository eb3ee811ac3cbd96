package ledger

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestDeregisterCluster(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "free")
	f.createTenant("t2", "free")
	f.registerCluster("c1", "t1", "t2")
	f.registerCluster("c2", "t2")
	f.ingest("c1", rec("n1", 1, "t1", f.now, 1, 2))

	f.advance(time.Minute)
	r := f.ok(DeregisterCluster{Header: f.h(), ClusterID: "c1"})
	if r.Unchanged || r.Cluster == nil || r.Cluster.DeregisteredAt == nil || !r.Cluster.DeregisteredAt.Equal(f.now) {
		t.Fatalf("deregister = %+v", r)
	}
	// The token no longer finds the cluster; the record stays.
	f.view(func(tx *bolt.Tx) error {
		if _, err := ClusterByToken(tx, token("c1")); err == nil {
			t.Error("the deregistered cluster's token still authenticates")
		}
		if _, err := ClusterByToken(tx, token("c2")); err != nil {
			t.Errorf("another cluster's token: %v", err)
		}
		cl, err := GetCluster(tx, "c1")
		if err != nil || cl.DeregisteredAt == nil {
			t.Errorf("cluster record after deregistration: %+v, %v", cl, err)
		}
		return nil
	})
	for _, ten := range []string{"t1", "t2"} {
		if e := f.lastAudit(ten); e.Action != "cluster.deregistered" {
			t.Fatalf("audit of %s = %+v", ten, e)
		}
	}
	// Again: unchanged. Registering the id again is a conflict.
	if r := f.ok(DeregisterCluster{Header: f.h(), ClusterID: "c1"}); !r.Unchanged {
		t.Fatalf("second deregister = %+v", r)
	}
	f.fail(RegisterCluster{Header: f.h(), ClusterID: "c1", Tenants: []string{"t1", "t2"}, TokenHash: token("c1")}, ErrConflict, "was deregistered")
	f.fail(DeregisterCluster{Header: f.h(), ClusterID: "c9"}, ErrNotFound, `cluster "c9" not found`)
	f.fail(DeregisterCluster{Header: f.h(), ClusterID: ""}, ErrInvalid, "cluster_id")
}
