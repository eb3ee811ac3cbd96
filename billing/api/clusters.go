package api

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// Credential prefixes make leaked secrets recognisable (and scannable).
const (
	enrollmentTokenPrefix = contract.EnrollmentTokenPrefix
	tenantKeyPrefix       = "abk_"
)

// newSecret returns prefix and 32 random bytes, base64url.
func newSecret(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// clusterOut is the answer of POST /api/v1/clusters and GET
// /api/v1/clusters/{id}. EnrollmentToken is shown once (only its SHA-256
// is stored); Nodes, the nodes the cluster registered, only by GET.
type clusterOut = contract.Cluster

// registerCluster: POST /api/v1/clusters {"tenants":[...],"cluster_id"?,
// "owner_tenant"?, "enrollment_token"?} → 201 {cluster_id, tenants,
// owner_tenant?, enrollment_token}; the same body again, with its
// cluster_id and enrollment_token, answers the same (a retry). Agents send usage and fetch their tenants' policies
// with the token. A tenant key registers clusters of its own tenant, which
// it then owns; an admin makes a cluster a tenant's own with owner_tenant.
func (s *Server) registerCluster(w http.ResponseWriter, r *http.Request, p principal) error {
	body, err := decodeCluster(r.Body)
	if err != nil {
		return err
	}
	if body.ClusterID == "" {
		body.ClusterID = ledger.NewID("cl_")
	}
	// A client-chosen token makes the registration repeatable: the same
	// id, tenants and token register nothing new (the ledger answers
	// Unchanged) and answer the same enrollment.
	token := body.EnrollmentToken
	if token == "" {
		if token, err = newSecret(enrollmentTokenPrefix); err != nil {
			return err
		}
	}
	var cmd ledger.Command = ledger.RegisterCluster{
		Header: s.header(p), ClusterID: body.ClusterID, Tenants: body.Tenants, TokenHash: sha256.Sum256([]byte(token)),
	}
	if p.kind == kindOwner {
		// A tenant registers clusters of its own, which it then owns.
		if len(body.Tenants) != 1 || body.Tenants[0] != p.tenant || body.OwnerTenant != "" && body.OwnerTenant != p.tenant {
			return errOwnTenantOnly(p, "registers clusters")
		}
		body.OwnerTenant = p.tenant
	}
	if body.OwnerTenant != "" {
		cmd = ledger.RegisterOwnedCluster{
			Header: s.header(p), ClusterID: body.ClusterID, Owner: body.OwnerTenant, TokenHash: sha256.Sum256([]byte(token)),
		}
	}
	res, err := s.propose(r.Context(), cmd)
	if err != nil {
		return err
	}
	noteOf(r).Set("cluster:"+res.Cluster.ID, "tenants", clip(strings.Join(res.Cluster.Tenants, ",")))
	if res.Unchanged {
		// A repeated registration: its CA was made the first time.
	} else if err := s.createClusterCA(r.Context(), p, res.Cluster.ID); err != nil {
		s.log.Warn("creating the cluster's CA failed; its first certificate request creates it", "cluster_id", res.Cluster.ID, "err", err)
	}
	w.Header().Set("Location", "/api/v1/clusters/"+res.Cluster.ID)
	jsonapi.WriteJSON(w, http.StatusCreated, clusterOut{ClusterID: res.Cluster.ID, Tenants: res.Cluster.Tenants, Owner: res.Cluster.Owner, EnrollmentToken: token})
	return nil
}

// getCluster: GET /api/v1/clusters/{id}, for admins, the cluster itself
// and its owner's tenant keys.
func (s *Server) getCluster(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	if err := s.requireCluster(r, p, id); err != nil {
		return err
	}
	var cl ledger.Cluster
	var nodes []ledger.Node
	err := s.view(r, func(tx *bolt.Tx) error {
		var err error
		if cl, err = ledger.GetCluster(tx, id); err != nil {
			return err
		}
		nodes, err = ledger.ClusterNodes(tx, id)
		return err
	})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, clusterOut{ClusterID: cl.ID, Tenants: cl.Tenants, Owner: cl.Owner, Nodes: wireAll(nodes)})
	return nil
}

// deregisterCluster: DELETE /api/v1/clusters/{id} → 204. The cluster's
// nodes are gone (aerolith cluster destroy): its enrollment token stops
// authenticating; its record and metered usage stay. Repeating it is
// harmless; an unknown cluster is 404.
func (s *Server) deregisterCluster(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	if err := s.requireCluster(r, p, id); err != nil {
		return err
	}
	if _, err := s.propose(r.Context(), ledger.DeregisterCluster{Header: s.header(p), ClusterID: id}); err != nil {
		return err
	}
	noteOf(r).Set("cluster:"+clip(id), "deregistered", "true")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// registerNode: POST /api/v1/clusters/{id}/nodes
// {"node_id","http_addr","raft_addr"} → 200 contract.Node. Only the
// cluster's own enrollment token may register its nodes (another
// cluster's answers 404). Registering again refreshes the addresses and
// last_seen, so an agent does it at every start.
func (s *Server) registerNode(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	if p.kind != kindCluster || p.cluster.ID != id {
		return jsonapi.NotFound("cluster %q not found", id)
	}
	body, err := decodeNode(r.Body)
	if err != nil {
		return err
	}
	noteOf(r).Set("node:"+id+"/"+clip(body.NodeID), "http_addr", clip(body.HTTPAddr), "raft_addr", clip(body.RaftAddr))
	h := s.header(p)
	res, err := s.propose(r.Context(), ledger.RegisterNode{
		Header: h, ClusterID: id, NodeID: body.NodeID, HTTPAddr: body.HTTPAddr, RaftAddr: body.RaftAddr, At: h.Time,
	})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, wirePtr(res.Node))
	return nil
}

// policy: GET /api/v1/tenants/{id}/policy → contract.SignedPolicy
// {"policy":{...},"signature","key_id"}, verifiable offline with the key of
// GET /api/v1/policy/public-key (contract.VerifyPolicy). Admins, the
// tenant's read keys and the clusters serving the tenant may read it.
func (s *Server) policy(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	if err := requireTenant(p, id); err != nil {
		return err
	}
	var sp contract.SignedPolicy
	err := s.view(r, func(tx *bolt.Tx) error {
		pol, err := ledger.GetPolicy(tx, id)
		if err != nil {
			return err
		}
		key, err := signingKey(tx)
		if err != nil {
			return err
		}
		sp, err = contract.SignPolicy(pol, key)
		return err
	})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, sp)
	return nil
}

// signingKey returns the policy signing key, or 503 while the leader has
// not proposed one yet (it does so as soon as it leads).
func signingKey(tx *bolt.Tx) (ed25519.PrivateKey, error) {
	key, err := ledger.SigningKey(tx)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, jsonapi.Errorf(http.StatusServiceUnavailable, jsonapi.CodeUnavailable, "the policy signing key is not set up yet; retry shortly")
	}
	return key, err
}

// publicKeyOut is the answer of GET /api/v1/policy/public-key.
type publicKeyOut struct {
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"key_id"`
	// PublicKey is the raw 32-byte ed25519 public key, base64 (standard).
	PublicKey []byte `json:"public_key"`
}

// publicKey: GET /api/v1/policy/public-key.
func (s *Server) publicKey(w http.ResponseWriter, r *http.Request, _ principal) error {
	var out publicKeyOut
	err := s.view(r, func(tx *bolt.Tx) error {
		key, err := signingKey(tx)
		if err != nil {
			return err
		}
		pub := key.Public().(ed25519.PublicKey)
		out = publicKeyOut{Algorithm: "ed25519", KeyID: contract.KeyID(pub), PublicKey: pub}
		return nil
	})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// clusterTenantsOut is the answer of the cluster tenant routes.
type clusterTenantsOut = contract.ClusterTenants

// clusterTenants: GET /api/v1/clusters/{id}/tenants → {cluster_id,
// tenants}, for admins and the cluster itself (its agents refresh their
// tenants with it or with whoami).
func (s *Server) clusterTenants(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	if err := s.requireCluster(r, p, id); err != nil {
		return err
	}
	var cl ledger.Cluster
	err := s.view(r, func(tx *bolt.Tx) error {
		var err error
		cl, err = ledger.GetCluster(tx, id)
		return err
	})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, clusterTenantsOut{ClusterID: cl.ID, Tenants: cl.Tenants})
	return nil
}

// addClusterTenant: POST /api/v1/clusters/{id}/tenants/{tenant} → 200
// {cluster_id, tenants}. The cluster's agents serve the tenant once they
// learn it: at their next tenant refresh (--policy-refresh), or at once
// when a key is created for it or one of its keys is used.
func (s *Server) addClusterTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	id, tenant := r.PathValue("id"), r.PathValue("tenant")
	if err := s.requireClusterTenant(r, p, id, tenant); err != nil {
		return err
	}
	noteOf(r).Set("cluster:"+id, "tenant", clip(tenant))
	res, err := s.propose(r.Context(), ledger.AddClusterTenant{Header: s.header(p), ClusterID: id, Tenant: tenant})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, clusterTenantsOut{ClusterID: res.Cluster.ID, Tenants: res.Cluster.Tenants, Unchanged: res.Unchanged})
	return nil
}

// removeClusterTenant: DELETE
// /api/v1/clusters/{id}/tenants/{tenant}?force=true → 200 {cluster_id,
// tenants}. Without force it is refused (409): billing cannot see whether
// the tenant still has data on the cluster. Forced, the tenant's data is
// kept on the cluster and its keys are refused there until it is added
// back; nothing is deleted.
func (s *Server) removeClusterTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	id, tenant := r.PathValue("id"), r.PathValue("tenant")
	if err := s.requireClusterTenant(r, p, id, tenant); err != nil {
		return err
	}
	var force bool
	if v := r.URL.Query().Get("force"); v != "" {
		var err error
		if force, err = strconv.ParseBool(v); err != nil {
			return jsonapi.Invalid("force: %q is not a boolean (want true or false)", clip(v))
		}
	}
	noteOf(r).Set("cluster:"+id, "tenant", clip(tenant), "force", strconv.FormatBool(force))
	res, err := s.propose(r.Context(), ledger.RemoveClusterTenant{Header: s.header(p), ClusterID: id, Tenant: tenant, Force: force})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, clusterTenantsOut{ClusterID: res.Cluster.ID, Tenants: res.Cluster.Tenants})
	return nil
}

// requireClusterTenant checks that p may add tenant to (or remove it from)
// cluster id: the admin any, a tenant key its own tenant on a cluster its
// tenant owns.
func (s *Server) requireClusterTenant(r *http.Request, p principal, id, tenant string) error {
	if err := s.requireCluster(r, p, id); err != nil {
		return err
	}
	if p.kind == kindOwner && tenant != p.tenant {
		return errOwnTenantOnly(p, "adds or removes the tenant")
	}
	return nil
}
