package api

import (
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// health: GET /health answers 200 while the process serves HTTP.
func (s *Server) health(w http.ResponseWriter, _ *http.Request, _ principal) error {
	jsonapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "node_id": s.cfg.NodeID})
	return nil
}

// readyz: GET /readyz answers 200 when the store can serve and 503 with the
// reason otherwise.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request, _ principal) error {
	if s.cfg.Store.Ready() {
		jsonapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready", "node_id": s.cfg.NodeID})
		return nil
	}
	if id, _ := s.cfg.Store.Leader(); id == "" {
		return jsonapi.Errorf(http.StatusServiceUnavailable, jsonapi.CodeUnavailable, "not ready: no billing leader known yet")
	}
	return jsonapi.Errorf(http.StatusServiceUnavailable, jsonapi.CodeUnavailable, "not ready: this replica has not caught up with the leader yet")
}

// selfBody identifies this replica; /api/v1/cluster/self serves it without
// authentication so replicas started with --join <http address> can find
// its raft address.
type selfBody struct {
	NodeID   string `json:"node_id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// clusterSelf: GET /api/v1/cluster/self.
func (s *Server) clusterSelf(w http.ResponseWriter, _ *http.Request, _ principal) error {
	jsonapi.WriteJSON(w, http.StatusOK, selfBody{NodeID: s.cfg.NodeID, RaftAddr: s.cfg.RaftAddr, HTTPAddr: s.cfg.HTTPAddr})
	return nil
}

// memberOut is one replica in /api/v1/cluster.
type memberOut struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	Voter    bool   `json:"voter"`
	Leader   bool   `json:"leader"`
}

// replicasBody is the answer of /api/v1/cluster: the billing replica set
// as this replica sees it (the same shape as the agent's).
type replicasBody struct {
	NodeID       string      `json:"node_id"`
	LeaderID     string      `json:"leader_id"`
	State        string      `json:"state"`
	Term         uint64      `json:"term"`
	CommitIndex  uint64      `json:"commit_index"`
	AppliedIndex uint64      `json:"applied_index"`
	Members      []memberOut `json:"members"`
}

// replicas: GET /api/v1/cluster (admin).
func (s *Server) replicas(w http.ResponseWriter, r *http.Request, _ principal) error {
	st := s.cfg.Store.Stats()
	ms, err := s.cfg.Store.Members(r.Context())
	if err != nil {
		return err
	}
	body := replicasBody{NodeID: s.cfg.NodeID, LeaderID: st.LeaderID, State: st.State, Term: st.Term,
		CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex, Members: []memberOut{}}
	for _, m := range ms {
		body.Members = append(body.Members, memberOut{ID: m.ID, RaftAddr: m.RaftAddr, HTTPAddr: m.Meta[MetaHTTPAddr], Voter: m.Voter, Leader: m.Leader})
	}
	jsonapi.WriteJSON(w, http.StatusOK, body)
	return nil
}

// whoamiBody is the answer of GET /api/v1/whoami.
type whoamiBody struct {
	// Kind is "admin", "tenant" or "cluster".
	Kind     string    `json:"kind"`
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
		body.Kind, body.TenantID = "tenant", p.tenant
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
