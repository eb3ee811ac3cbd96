package api

import (
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// self is this replica as the cluster routes describe it.
func (s *Server) self() jsonapi.Self {
	return jsonapi.Self{NodeID: s.cfg.NodeID, RaftAddr: s.cfg.RaftAddr, HTTPAddr: s.cfg.HTTPAddr}
}

// health: GET /health answers 200 while the process serves HTTP.
func (s *Server) health(w http.ResponseWriter, _ *http.Request, _ principal) error {
	s.self().Health(w)
	return nil
}

// readyz: GET /readyz answers 200 when the store can serve and 503 with the
// reason otherwise.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request, _ principal) error {
	return s.self().Ready(w, s.cfg.Store, jsonapi.ReadyWords{
		NoLeader: "no billing leader known yet",
		Behind:   "this replica has not caught up with the leader yet",
	})
}

// clusterSelf: GET /api/v1/cluster/self, open so that replicas started
// with --join <http address> can find its raft address.
func (s *Server) clusterSelf(w http.ResponseWriter, _ *http.Request, _ principal) error {
	s.self().ClusterSelf(w)
	return nil
}

// replicas: GET /api/v1/cluster (admin): the billing replica set as this
// replica sees it, in the agent's shape.
func (s *Server) replicas(w http.ResponseWriter, r *http.Request, _ principal) error {
	body, err := s.self().Cluster(r.Context(), s.cfg.Store)
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, body)
	return nil
}

// whoamiBody is the answer of GET /api/v1/whoami.
type whoamiBody struct {
	// Kind is "admin", "tenant" or "cluster".
	Kind string `json:"kind"`
	// Role is a tenant key's role: "read" or "tenant".
	Role     string    `json:"role,omitempty"`
	Actor    string    `json:"actor"`
	TenantID string    `json:"tenant_id,omitempty"`
	Cluster  string    `json:"cluster_id,omitempty"`
	Tenants  []string  `json:"tenants,omitempty"`
	Time     time.Time `json:"time"`
}

// whoami: GET /api/v1/whoami describes the credential used. A cluster's
// tenants are read with the request's consistency (linearizable by
// default): agents refresh the tenants they serve with it, so a tenant
// just added or removed shows at once.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request, p principal) error {
	body := whoamiBody{Actor: p.actor(), Time: s.cfg.Now().UTC()}
	switch p.kind {
	case kindAdmin:
		body.Kind = "admin"
	case kindTenant:
		body.Kind, body.TenantID, body.Role = "tenant", p.tenant, ledger.APIKeyRoleRead
	case kindOwner:
		body.Kind, body.TenantID, body.Role = "tenant", p.tenant, ledger.APIKeyRoleTenant
	case kindCluster:
		cl := p.cluster
		if err := s.view(r, func(tx *bolt.Tx) (err error) { cl, err = ledger.GetCluster(tx, cl.ID); return err }); err != nil {
			return err
		}
		body.Kind, body.Cluster, body.Tenants = "cluster", cl.ID, cl.Tenants
	}
	jsonapi.WriteJSON(w, http.StatusOK, body)
	return nil
}
