package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/internal/pki"
	"github.com/aerolithdb/aerolith/store"
)

// Node certificates through enrollment (Consul's auto-config is the
// model): billing holds a CA per cluster (ledger.SetClusterCA, created
// when the cluster is registered, or at its first certificate request for
// a cluster registered before); a node makes its own key and sends a
// certificate request with its cluster's enrollment token; billing signs
// a short-lived node certificate for the node id and addresses asked for.
// The node's key never leaves it, and the CA key never leaves billing.

// DefaultNodeCertTTL is how long the node certificates billing signs are
// valid when Config.NodeCertTTL is zero. Agents renew at half-life.
const DefaultNodeCertTTL = 24 * time.Hour

// MinNodeCertTTL is the shortest Config.NodeCertTTL: a node must be able to
// renew at half-life with time to retry.
const MinNodeCertTTL = 10 * time.Second

// certificateBody is the body of POST /api/v1/clusters/{id}/certificates.
type certificateBody struct {
	// NodeID is the node asking; the certificate names
	// aerolith://cluster/<id>/node/<node_id>.
	NodeID string `json:"node_id"`
	// CSR is the PEM certificate request, signed with the node's key.
	CSR string `json:"csr"`
}

// CertificateOut is the answer of POST /api/v1/clusters/{id}/certificates.
type CertificateOut struct {
	// Certificate is the node certificate (PEM); CA the cluster's CA
	// bundle (PEM) peers are verified with.
	Certificate string    `json:"certificate"`
	CA          string    `json:"ca"`
	Serial      string    `json:"serial"`
	NotAfter    time.Time `json:"not_after"`
}

// decodeCertificate decodes and checks a certificate request body (the
// CSR itself is checked by pki.SignNodeCSR).
func decodeCertificate(r io.Reader) (certificateBody, error) {
	var b certificateBody
	if err := decodeStrict(r, &b, false); err != nil {
		return certificateBody{}, err
	}
	if !validID(b.NodeID) {
		return certificateBody{}, jsonapi.Invalid("node_id: invalid id %q (want 1 to 128 letters, digits, '_', '-', '.' or ':', starting with a letter or digit)", clip(b.NodeID))
	}
	if b.CSR == "" {
		return certificateBody{}, jsonapi.Invalid("csr: required (the PEM CERTIFICATE REQUEST signed with the node's key)")
	}
	return b, nil
}

// issueCertificate: POST /api/v1/clusters/{id}/certificates
// {"node_id","csr"} → 201 CertificateOut. Only the cluster's own
// enrollment token may ask (another cluster's answers 404, like every
// cluster route). A request for another cluster's or node's identity is
// refused with 403; a malformed request, one whose node id is invalid or
// one asking for more than pki.MaxCSRNames names with 400. Each issued
// certificate is in the audit log (serial, node, names, expiry).
func (s *Server) issueCertificate(w http.ResponseWriter, r *http.Request, p principal) error {
	rt := route{method: http.MethodPost, pattern: "/api/v1/clusters/{id}/certificates"}
	s.auditRoute(actionCertificateIssue, rt, w, r, p, func(w http.ResponseWriter, r *http.Request) {
		if err := s.signCertificate(w, r, p); err != nil {
			s.fail(w, r, err)
		}
	})
	return nil
}

// actionCertificateIssue is the audit action of a certificate request
// (recorded here rather than through auditedRoutes, with its outcome).
const actionCertificateIssue = "cluster.certificate_issue"

// signCertificate serves issueCertificate.
func (s *Server) signCertificate(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	if p.kind != kindCluster || p.cluster.ID != id {
		return jsonapi.NotFound("cluster %q not found", id)
	}
	body, err := decodeCertificate(r.Body)
	if err != nil {
		return err
	}
	note := noteOf(r)
	note.Set("node:" + id + "/" + body.NodeID)
	ca, err := s.clusterCA(r.Context(), p, id)
	if err != nil {
		return err
	}
	certPEM, info, err := pki.SignNodeCSR(ca, pki.NodeCSRRequest{CSR: []byte(body.CSR), NodeID: body.NodeID, TTL: s.cfg.NodeCertTTL, Now: s.cfg.Now()})
	if errors.Is(err, pki.ErrForeignIdentity) {
		return jsonapi.Forbidden("%s", err.Error())
	}
	if err != nil {
		return jsonapi.Invalid("%s", err.Error())
	}
	note.Set("node:"+id+"/"+body.NodeID, "serial", info.Serial, "not_after", info.NotAfter.UTC().Format(time.RFC3339),
		"dns", clip(strings.Join(info.DNSNames, ",")), "ip", clip(strings.Join(info.IPs, ",")))
	jsonapi.WriteJSON(w, http.StatusCreated, CertificateOut{Certificate: string(certPEM), CA: string(ca.CertPEM()), Serial: info.Serial, NotAfter: info.NotAfter.UTC()})
	return nil
}

// clusterCA returns cluster id's CA, creating it first when the cluster
// has none (a cluster registered before billing kept CAs, or whose
// registration's CA proposal failed). Racing creators agree on the
// first CA stored.
func (s *Server) clusterCA(ctx context.Context, p principal, id string) (*pki.CA, error) {
	read := func() (*pki.CA, error) {
		var ca *pki.CA
		err := s.cfg.Store.View(ctx, store.Linearizable, func(tx *bolt.Tx) error {
			var err error
			ca, err = ledger.ClusterCA(tx, id)
			return err
		})
		return ca, err
	}
	ca, err := read()
	if !errors.Is(err, ledger.ErrNotFound) {
		return ca, err
	}
	if err := s.createClusterCA(ctx, p, id); err != nil {
		return nil, err
	}
	return read()
}

// createClusterCA creates a CA for cluster id and proposes it; when the
// cluster already has one, that one stays (ledger.SetClusterCA).
func (s *Server) createClusterCA(ctx context.Context, p principal, id string) error {
	ca, err := pki.NewCA(pki.CAConfig{ClusterID: id, Now: s.cfg.Now()})
	if err != nil {
		return err
	}
	key, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	_, err = s.propose(ctx, ledger.SetClusterCA{Header: s.header(p), ClusterID: id, CertPEM: string(ca.CertPEM()), KeyPEM: string(key)})
	return err
}

// clusterCABundle: GET /api/v1/clusters/{id}/ca → the cluster CA
// certificate (PEM, application/x-pem-file), for clients verifying the
// cluster's nodes. Admins and the cluster itself may read it; the key is
// never served.
func (s *Server) clusterCABundle(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	if err := s.requireCluster(r, p, id); err != nil {
		return err
	}
	var ca *pki.CA
	err := s.view(r, func(tx *bolt.Tx) error {
		if _, err := ledger.GetCluster(tx, id); err != nil {
			return err
		}
		var err error
		ca, err = ledger.ClusterCA(tx, id)
		return err
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(ca.CertPEM())
	return nil
}
