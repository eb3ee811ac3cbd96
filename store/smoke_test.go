package store_test

import (
	"context"
	"testing"

	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
	bolt "go.etcd.io/bbolt"
)

func TestSmoke(t *testing.T) {
	for _, n := range []int{1, 3} {
		c := storetest.NewCluster(t, n)
		ctx := context.Background()
		for i, nd := range c.Nodes() {
			res, idx, err := nd.Store.Propose(ctx, storetest.Put("k", nd.ID))
			if err != nil {
				t.Fatalf("propose on %d: %v", i, err)
			}
			r, _ := storetest.DecodeResult(res)
			t.Logf("node %d idx %d res %+v", i, idx, r)
			for _, cons := range []store.Consistency{store.Linearizable, store.Leader, store.Stale} {
				var v string
				if err := nd.Store.View(ctx, cons, func(tx *bolt.Tx) error { v, _ = storetest.Read(tx, "k"); return nil }); err != nil {
					t.Fatal(err)
				}
				if v != nd.ID {
					t.Fatalf("read %v on %d = %q", cons, i, v)
				}
			}
		}
		m, _ := c.Node(0).Store.Members(ctx)
		t.Logf("members %+v stats %+v", m, c.Node(0).Store.Stats())
	}
}
