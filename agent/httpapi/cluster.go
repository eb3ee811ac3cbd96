package httpapi

import (
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/store"
)

// MetaHTTPAddr is the store member metadata key holding a node's advertised
// HTTP address.
const MetaHTTPAddr = "http_addr"

// health: GET /health answers 200 while the process serves HTTP.
func (s *Server) health(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	jsonapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "node_id": s.cfg.NodeID})
	return nil
}

// readyz: GET /readyz answers 200 when the store is ready to serve and 503
// with the reason otherwise.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	if s.cfg.Store.Ready() {
		jsonapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready", "node_id": s.cfg.NodeID})
		return nil
	}
	if s.cfg.Store.Stats().Removed {
		return jsonapi.Errorf(http.StatusServiceUnavailable, jsonapi.CodeUnavailable, "not ready: this node was removed from the cluster")
	}
	if id, _ := s.cfg.Store.Leader(); id == "" {
		return jsonapi.Errorf(http.StatusServiceUnavailable, jsonapi.CodeUnavailable, "not ready: no cluster leader known yet")
	}
	return jsonapi.Errorf(http.StatusServiceUnavailable, jsonapi.CodeUnavailable, "not ready: the store has not caught up with the leader yet")
}

// selfBody identifies this node; /api/v1/cluster/self serves it without
// authentication so joining nodes can turn an HTTP address into a raft one.
type selfBody struct {
	NodeID   string `json:"node_id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// clusterSelf: GET /api/v1/cluster/self.
func (s *Server) clusterSelf(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	jsonapi.WriteJSON(w, http.StatusOK, selfBody{NodeID: s.cfg.NodeID, RaftAddr: s.cfg.RaftAddr, HTTPAddr: s.cfg.HTTPAddr})
	return nil
}

// memberBodyOut is one member in /api/v1/cluster.
type memberOut struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	Voter    bool   `json:"voter"`
	Leader   bool   `json:"leader"`
}

// leaderOut is the leader in /api/v1/cluster.
type leaderOut struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// clusterBody is the answer of /api/v1/cluster.
type clusterBody struct {
	NodeID       string      `json:"node_id"`
	LeaderID     string      `json:"leader_id"`
	Leader       *leaderOut  `json:"leader"`
	State        string      `json:"state"`
	Term         uint64      `json:"term"`
	CommitIndex  uint64      `json:"commit_index"`
	AppliedIndex uint64      `json:"applied_index"`
	Members      []memberOut `json:"members"`
}

// endpointOut is one node in the tenant view of /api/v1/cluster.
type endpointOut struct {
	HTTPAddr string `json:"http_addr"`
	Leader   bool   `json:"leader"`
}

// tenantClusterBody is /api/v1/cluster as a tenant key sees it: where to
// send requests and whether this node serves, nothing of the raft topology
// (raft addresses, terms, indexes, voters), which is the cluster admin's.
type tenantClusterBody struct {
	NodeID    string        `json:"node_id"`
	Ready     bool          `json:"ready"`
	Endpoints []endpointOut `json:"endpoints"`
}

// cluster: GET /api/v1/cluster. The cluster admin gets the topology; a
// tenant key gets the client endpoints (tenantClusterBody).
func (s *Server) cluster(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	members, err := s.cfg.Store.Members(r.Context())
	if err != nil {
		return err
	}
	if !isClusterAdmin(p) {
		jsonapi.WriteJSON(w, http.StatusOK, s.tenantCluster(members))
		return nil
	}
	st := s.cfg.Store.Stats()
	leaderID, leaderAddr := s.cfg.Store.Leader()
	body := clusterBody{
		NodeID:       s.cfg.NodeID,
		LeaderID:     leaderID,
		State:        st.State,
		Term:         st.Term,
		CommitIndex:  st.CommitIndex,
		AppliedIndex: st.AppliedIndex,
		Members:      make([]memberOut, 0, len(members)),
	}
	if leaderID != "" {
		body.Leader = &leaderOut{ID: leaderID, RaftAddr: leaderAddr}
	}
	for _, m := range members {
		httpAddr := m.Meta[MetaHTTPAddr]
		if m.ID == s.cfg.NodeID && httpAddr == "" {
			httpAddr = s.cfg.HTTPAddr
		}
		isLeader := m.Leader || (leaderID != "" && m.ID == leaderID)
		body.Members = append(body.Members, memberOut{ID: m.ID, RaftAddr: m.RaftAddr, HTTPAddr: httpAddr, Voter: m.Voter, Leader: isLeader})
		if isLeader && body.Leader != nil {
			body.Leader.HTTPAddr = httpAddr
			if body.Leader.RaftAddr == "" {
				body.Leader.RaftAddr = m.RaftAddr
			}
		}
	}
	jsonapi.WriteJSON(w, http.StatusOK, body)
	return nil
}

// tenantCluster is the tenant view of members: each node's HTTP address
// (members that never published one are left out) and which one leads.
func (s *Server) tenantCluster(members []store.Member) tenantClusterBody {
	leaderID, _ := s.cfg.Store.Leader()
	body := tenantClusterBody{NodeID: s.cfg.NodeID, Ready: s.cfg.Store.Ready(), Endpoints: make([]endpointOut, 0, len(members))}
	for _, m := range members {
		httpAddr := m.Meta[MetaHTTPAddr]
		if m.ID == s.cfg.NodeID && httpAddr == "" {
			httpAddr = s.cfg.HTTPAddr
		}
		if httpAddr == "" {
			continue
		}
		body.Endpoints = append(body.Endpoints, endpointOut{HTTPAddr: httpAddr, Leader: m.Leader || (leaderID != "" && m.ID == leaderID)})
	}
	return body
}

// joinMember: POST /api/v1/cluster/members adds (or updates) a member.
func (s *Server) joinMember(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	b, err := decodeMember(r.Body)
	if err != nil {
		return err
	}
	noteOf(r).Set("node:"+b.NodeID, "raft_addr", b.RaftAddr)
	var meta map[string]string
	if b.HTTPAddr != "" {
		meta = map[string]string{MetaHTTPAddr: b.HTTPAddr}
	}
	if err := s.cfg.Store.Join(r.Context(), b.NodeID, b.RaftAddr, meta); err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, b)
	return nil
}

// removeMember: DELETE /api/v1/cluster/members/{id} → 204 (idempotent).
func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	if err := s.cfg.Store.Remove(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// tenantOut is the tenant part of /api/v1/stats.
type tenantOut struct {
	Tenant      string `json:"tenant"`
	Collections int    `json:"collections"`
	Documents   int64  `json:"documents"`
	Bytes       int64  `json:"bytes"`
	Indexes     int    `json:"indexes"`
}

// httpOut is the request part of /api/v1/stats.
type httpOut struct {
	RequestsTotal uint64 `json:"requests_total"`
	ClientErrors  uint64 `json:"client_errors_total"`
	ServerErrors  uint64 `json:"server_errors_total"`
}

// statsBody is the answer of /api/v1/stats.
// Store and HTTP are cluster- and node-wide figures, shown to the cluster
// admin only.
type statsBody struct {
	NodeID        string       `json:"node_id"`
	UptimeSeconds int64        `json:"uptime_seconds"`
	Store         *store.Stats `json:"store,omitempty"`
	Data          tenantOut    `json:"data"`
	HTTP          *httpOut     `json:"http,omitempty"`
}

// stats: GET /api/v1/stats. Data is the caller's tenant only; a tenant key
// gets no store (raft) or request figures: they span every tenant and
// describe the cluster's topology. Document figures are this node's local view
// (stale consistency) unless ?consistency= asks otherwise, so stats answer
// even without a leader.
func (s *Server) stats(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	c := store.Stale
	if r.URL.Query().Has("consistency") {
		var err error
		if c, err = consistency(r); err != nil {
			return err
		}
	}
	var ts document.Stats
	err := s.cfg.Store.View(r.Context(), c, func(tx *bolt.Tx) error {
		var err error
		ts, err = document.TenantStats(tx, p.Tenant)
		return err
	})
	if err != nil {
		return err
	}
	body := statsBody{
		NodeID:        s.cfg.NodeID,
		UptimeSeconds: int64(s.cfg.Now().Sub(s.started) / time.Second),
		Data: tenantOut{
			Tenant: p.Tenant, Collections: ts.Collections, Documents: int64(ts.Documents),
			Bytes: ts.Bytes, Indexes: ts.Indexes,
		},
	}
	if isClusterAdmin(p) {
		st := s.cfg.Store.Stats()
		body.Store = &st
		body.HTTP = &httpOut{
			RequestsTotal: s.metrics.counters.total.Load(),
			ClientErrors:  s.metrics.counters.clientErrors.Load(),
			ServerErrors:  s.metrics.counters.serverErrors.Load(),
		}
	}
	jsonapi.WriteJSON(w, http.StatusOK, body)
	return nil
}
