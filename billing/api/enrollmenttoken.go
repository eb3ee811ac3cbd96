package api

import (
	"crypto/sha256"
	"io"
	"net/http"
	"strconv"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// tokenBody is the optional body of POST
// /api/v1/clusters/{id}/enrollment-token.
type tokenBody struct {
	// RevokePrevious ends the cluster's earlier tokens (a leaked one);
	// without it they keep authenticating (a lost one: the running nodes
	// still hold it).
	RevokePrevious bool `json:"revoke_previous"`
}

// decodeTokenRequest decodes the optional body of an enrollment token
// request (an empty body keeps the previous tokens).
func decodeTokenRequest(r io.Reader) (tokenBody, error) {
	var b tokenBody
	err := decodeStrict(r, &b, true)
	return b, err
}

// issueEnrollmentToken: POST /api/v1/clusters/{id}/enrollment-token
// {"revoke_previous"?} → 201 {cluster_id, tenants, owner_tenant?,
// enrollment_token}. A new enrollment token for a registered cluster,
// shown once, for the admin and the cluster's owner: an operator that lost
// the token it stored recovers without registering a second cluster. The
// earlier tokens keep working unless revoke_previous is true.
func (s *Server) issueEnrollmentToken(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	if err := s.requireCluster(r, p, id); err != nil {
		return err
	}
	body, err := decodeTokenRequest(r.Body)
	if err != nil {
		return err
	}
	token, err := newSecret(enrollmentTokenPrefix)
	if err != nil {
		return err
	}
	res, err := s.propose(r.Context(), ledger.IssueEnrollmentToken{
		Header: s.header(p), ClusterID: id, TokenHash: sha256.Sum256([]byte(token)), RevokePrevious: body.RevokePrevious,
	})
	if err != nil {
		return err
	}
	noteOf(r).Set("cluster:"+clip(id), "token_issued", "true", "revoked_previous", strconv.FormatBool(body.RevokePrevious))
	cl := res.Cluster
	jsonapi.WriteJSON(w, http.StatusCreated, clusterOut{ClusterID: cl.ID, Tenants: cl.Tenants, Owner: cl.Owner, EnrollmentToken: token})
	return nil
}
