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
const MetaHTTPAddr = jsonapi.MetaHTTPAddr

// self is this node as the cluster routes describe it.
func (s *Server) self() jsonapi.Self {
	return jsonapi.Self{NodeID: s.cfg.NodeID, RaftAddr: s.cfg.RaftAddr, HTTPAddr: s.cfg.HTTPAddr}
}

// health: GET /health answers 200 while the process serves HTTP.
func (s *Server) health(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	s.self().Health(w)
	return nil
}

// readyz: GET /readyz answers 200 when the store is ready to serve and 503
// with the reason otherwise.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	return s.self().Ready(w, s.cfg.Store, jsonapi.ReadyWords{
		Removed:  "this node was removed from the cluster",
		NoLeader: "no cluster leader known yet",
		Behind:   "the store has not caught up with the leader yet",
	})
}

// clusterSelf: GET /api/v1/cluster/self, open so that joining nodes can
// turn an HTTP address into a raft one.
func (s *Server) clusterSelf(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	s.self().ClusterSelf(w)
	return nil
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
	if !isClusterAdmin(p) {
		members, err := s.cfg.Store.Members(r.Context())
		if err != nil {
			return err
		}
		jsonapi.WriteJSON(w, http.StatusOK, s.tenantCluster(members))
		return nil
	}
	body, err := s.self().Cluster(r.Context(), s.cfg.Store)
	if err != nil {
		return err
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
		httpAddr := s.self().MemberHTTPAddr(m)
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
