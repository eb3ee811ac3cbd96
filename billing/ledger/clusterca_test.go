package ledger

import (
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/internal/pki"
)

// newClusterCA creates a CA for cluster and its SetClusterCA fields.
func newClusterCA(t *testing.T, cluster string) (*pki.CA, string, string) {
	t.Helper()
	ca, err := pki.NewCA(pki.CAConfig{ClusterID: cluster})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	return ca, string(ca.CertPEM()), string(key)
}

func TestSetClusterCA(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "free")
	f.registerCluster("c1", "t1")
	f.registerCluster("c2", "t1")
	f.view(func(tx *bolt.Tx) error {
		if _, err := ClusterCA(tx, "c1"); err == nil {
			t.Fatal("ClusterCA before SetClusterCA succeeded")
		}
		return nil
	})
	ca, cert, key := newClusterCA(t, "c1")
	if r := f.ok(SetClusterCA{f.h(), "c1", cert, key}); r.Unchanged {
		t.Fatal("first CA answered unchanged")
	}
	if e := f.lastAudit("t1"); e.Action != "cluster.ca_created" {
		t.Fatalf("audit = %+v", e)
	}
	// A racing proposer's CA loses: the first stays.
	_, cert2, key2 := newClusterCA(t, "c1")
	if r := f.ok(SetClusterCA{f.h(), "c1", cert2, key2}); !r.Unchanged {
		t.Fatal("second CA replaced the first")
	}
	f.view(func(tx *bolt.Tx) error {
		got, err := ClusterCA(tx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Cert.Equal(ca.Cert) {
			t.Fatal("ClusterCA is not the first CA stored")
		}
		return nil
	})

	_, otherCert, otherKey := newClusterCA(t, "c2")
	_, c9cert, c9key := newClusterCA(t, "c9")
	tests := []struct {
		name string
		cmd  SetClusterCA
		want error
		msg  string
	}{
		{"unknown cluster", SetClusterCA{f.h(), "c9", c9cert, c9key}, ErrNotFound, `cluster "c9" not found`},
		{"other cluster's CA", SetClusterCA{f.h(), "c2", cert, key}, ErrInvalid, `names cluster "c1", not "c2"`},
		{"foreign key", SetClusterCA{f.h(), "c2", otherCert, key}, ErrInvalid, "does not belong"},
		{"garbage", SetClusterCA{f.h(), "c2", "nope", otherKey}, ErrInvalid, "ca certificate"},
		{"bad id", SetClusterCA{f.h(), "c 2", otherCert, otherKey}, ErrInvalid, "cluster_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { f.fail(tt.cmd, tt.want, tt.msg) })
	}
}
