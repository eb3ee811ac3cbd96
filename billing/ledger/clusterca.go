package ledger

import (
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/internal/pki"
)

// bClusterCAs holds each cluster's certificate authority: cluster id →
// clusterCA JSON. The CA key lives only here, in billing's replicated
// state (like the policy signing key); no route serves it.
var bClusterCAs = []byte("ledger.cluster_cas")

// KindSetClusterCA is SetClusterCA's kind. Its value is set apart from the
// run of kinds in command.go so that kinds added there never shift it
// (values are part of the replicated log format).
const KindSetClusterCA Kind = 64

// Kind returns KindSetClusterCA.
func (SetClusterCA) Kind() Kind { return KindSetClusterCA }

// maxCAPEM bounds the certificate and key PEM of a SetClusterCA.
const maxCAPEM = 16 << 10

// SetClusterCA stores a cluster's certificate authority, which signs its
// nodes' certificates (billing/api, POST /api/v1/clusters/{id}/certificates).
// The proposer creates the CA (key generation needs randomness, which
// replicas must not use); the first CA stored for a cluster stays: a later
// one is answered Unchanged and dropped, so proposers racing to create a
// cluster's CA agree on the winner by reading it back (ClusterCA).
// Errors: ErrNotFound for an unknown cluster, ErrInvalid when the
// certificate is not a CA of this cluster or the key does not belong to it.
type SetClusterCA struct {
	Header
	ClusterID string
	// CertPEM and KeyPEM are the CA certificate and its PKCS #8 key.
	CertPEM, KeyPEM string
}

func (c SetClusterCA) encode(e *encoder) {
	e.str(c.ClusterID)
	e.str(c.CertPEM)
	e.str(c.KeyPEM)
}

// clusterCA is a stored cluster CA.
type clusterCA struct {
	CertPEM   string    `json:"cert_pem"`
	KeyPEM    string    `json:"key_pem"`
	CreatedAt time.Time `json:"created_at"`
}

func (a *applier) setClusterCA(c SetClusterCA) Result {
	if e := checkID("cluster_id", c.ClusterID); e != nil {
		return Result{Err: e}
	}
	if len(c.CertPEM) > maxCAPEM || len(c.KeyPEM) > maxCAPEM {
		return Result{Err: invalidf("ca: certificate or key larger than %d bytes", maxCAPEM)}
	}
	ca, err := pki.ParseCA([]byte(c.CertPEM), []byte(c.KeyPEM))
	if err != nil {
		return Result{Err: invalidf("ca: %v", err)}
	}
	if ca.ClusterID != c.ClusterID {
		return Result{Err: invalidf("ca: the certificate names cluster %q, not %q", ca.ClusterID, c.ClusterID)}
	}
	var cl Cluster
	found, e := getJSON(a.tx, bClusters, []byte(c.ClusterID), &cl)
	if e != nil {
		return Result{Err: e}
	}
	if !found {
		return Result{Err: notFoundf("cluster %q not found", c.ClusterID)}
	}
	if get(a.tx, bClusterCAs, []byte(c.ClusterID)) != nil {
		return Result{Unchanged: true}
	}
	putJSON(a.tx, bClusterCAs, []byte(c.ClusterID), &clusterCA{CertPEM: c.CertPEM, KeyPEM: c.KeyPEM, CreatedAt: a.now()})
	for _, t := range cl.Tenants {
		a.audit(t, "cluster", cl.ID, "cluster.ca_created", map[string]string{"not_after": ca.Cert.NotAfter.UTC().Format(time.RFC3339)})
	}
	return Result{}
}

// ClusterCA returns cluster id's certificate authority, or ErrNotFound
// when the cluster has none yet.
func ClusterCA(tx *bolt.Tx, id string) (*pki.CA, error) {
	var rec clusterCA
	ok, err := getJSON(tx, bClusterCAs, []byte(id), &rec)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFoundf("cluster %q has no certificate authority yet", id)
	}
	ca, perr := pki.ParseCA([]byte(rec.CertPEM), []byte(rec.KeyPEM))
	if perr != nil {
		return nil, internalf("corrupt certificate authority of cluster %q: %v", id, perr)
	}
	return ca, nil
}
