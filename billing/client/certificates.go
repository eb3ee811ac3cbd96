package client

import (
	"context"
	"net/http"
	"time"
)

// NodeCertificate is a node certificate billing signed for an enrolled
// node, with the cluster's CA bundle (both PEM).
type NodeCertificate struct {
	Certificate string    `json:"certificate"`
	CA          string    `json:"ca"`
	Serial      string    `json:"serial"`
	NotAfter    time.Time `json:"not_after"`
}

// RequestCertificate asks billing to sign csrPEM (pki.NodeCSR, made with
// a key that stays on the node) as the certificate of node nodeID of
// cluster clusterID; the client's key must be that cluster's enrollment
// token. Signing twice is harmless, so it is retried after a 503 or a
// broken connection. A request naming another cluster or node answers
// 403 (IsPermissionDenied), a malformed one 400 (IsInvalidArgument).
func (c *Client) RequestCertificate(ctx context.Context, clusterID, nodeID string, csrPEM []byte) (NodeCertificate, error) {
	body := struct {
		NodeID string `json:"node_id"`
		CSR    string `json:"csr"`
	}{nodeID, string(csrPEM)}
	var out NodeCertificate
	err := c.send(ctx, http.MethodPost, "/api/v1/clusters/"+seg(clusterID)+"/certificates", nil, body, &out, true)
	return out, err
}

// ClusterCA returns the CA bundle (PEM) of a cluster's node certificates,
// to verify its nodes with (admin key, the cluster's own enrollment
// token, or a tenant key of its owner).
func (c *Client) ClusterCA(ctx context.Context, clusterID string) ([]byte, error) {
	r, err := newRequest(http.MethodGet, "/api/v1/clusters/"+seg(clusterID)+"/ca", nil)
	if err != nil {
		return nil, err
	}
	r.accept = "application/x-pem-file"
	return c.do(ctx, r)
}
