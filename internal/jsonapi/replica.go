package jsonapi

import (
	"context"
	"net/http"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/store"
)

// Replica is what an API needs from the replicated store it serves
// (*store.Store implements it): the agent's data API and the billing API
// each declare their Store as this plus what only they use.
type Replica interface {
	// Propose replicates cmd and returns the state machine's result;
	// followers forward to the leader.
	Propose(ctx context.Context, cmd []byte) ([]byte, uint64, error)
	// View runs fn in a read transaction with the given consistency.
	View(ctx context.Context, c store.Consistency, fn func(tx *bolt.Tx) error) error
	// Members lists the cluster configuration.
	Members(ctx context.Context) ([]store.Member, error)
	// Leader returns the current leader's id and raft address ("" if none).
	Leader() (id, raftAddr string)
	// Ready reports whether the store can serve (leader known, barrier applied).
	Ready() bool
	// Stats returns the store's current figures.
	Stats() store.Stats
}

var _ Replica = (*store.Store)(nil)

// MetaHTTPAddr is the store member metadata key holding a node's
// advertised HTTP address.
const MetaHTTPAddr = "http_addr"

// Self is a node's identity and advertised addresses: what GET /health,
// /readyz, /api/v1/cluster/self and /api/v1/cluster say of the node
// serving them.
type Self struct {
	NodeID, RaftAddr, HTTPAddr string
}

// Health answers GET /health: 200 while the process serves HTTP.
func (s Self) Health(w http.ResponseWriter) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "node_id": s.NodeID})
}

// ReadyWords are one API's reasons for a 503 from /readyz.
type ReadyWords struct {
	// Removed, when set, is the reason of a node removed from the cluster.
	Removed string
	// NoLeader: no leader known yet; Behind: the replica has not applied
	// what the leader committed.
	NoLeader, Behind string
}

// Ready answers GET /readyz: 200 when st can serve, otherwise the 503 it
// returns with the reason.
func (s Self) Ready(w http.ResponseWriter, st Replica, words ReadyWords) error {
	if st.Ready() {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ready", "node_id": s.NodeID})
		return nil
	}
	notReady := func(reason string) error {
		return Errorf(http.StatusServiceUnavailable, CodeUnavailable, "not ready: %s", reason)
	}
	if words.Removed != "" && st.Stats().Removed {
		return notReady(words.Removed)
	}
	if id, _ := st.Leader(); id == "" {
		return notReady(words.NoLeader)
	}
	return notReady(words.Behind)
}

// ClusterSelf answers GET /api/v1/cluster/self, which is open so that a
// node started with --join <http address> can find the raft address.
func (s Self) ClusterSelf(w http.ResponseWriter) {
	WriteJSON(w, http.StatusOK, StartingBody{NodeID: s.NodeID, RaftAddr: s.RaftAddr, HTTPAddr: s.HTTPAddr})
}

// MemberOut is one member in /api/v1/cluster.
type MemberOut struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	Voter    bool   `json:"voter"`
	Leader   bool   `json:"leader"`
}

// LeaderOut is the leader in /api/v1/cluster.
type LeaderOut struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// ClusterBody is the answer of GET /api/v1/cluster to an operator: the
// raft topology as this node sees it.
type ClusterBody struct {
	NodeID       string      `json:"node_id"`
	LeaderID     string      `json:"leader_id"`
	Leader       *LeaderOut  `json:"leader"`
	State        string      `json:"state"`
	Term         uint64      `json:"term"`
	CommitIndex  uint64      `json:"commit_index"`
	AppliedIndex uint64      `json:"applied_index"`
	Members      []MemberOut `json:"members"`
}

// MemberHTTPAddr is the HTTP address m published, or this node's own
// when m is this node and has not published one yet.
func (s Self) MemberHTTPAddr(m store.Member) string {
	if addr := m.Meta[MetaHTTPAddr]; addr != "" || m.ID != s.NodeID {
		return addr
	}
	return s.HTTPAddr
}

// Cluster returns the topology of st as this node sees it: the members
// with their HTTP addresses, which one leads, and the raft figures.
func (s Self) Cluster(ctx context.Context, st Replica) (ClusterBody, error) {
	members, err := st.Members(ctx)
	if err != nil {
		return ClusterBody{}, err
	}
	stats := st.Stats()
	leaderID, leaderAddr := st.Leader()
	body := ClusterBody{
		NodeID:       s.NodeID,
		LeaderID:     leaderID,
		State:        stats.State,
		Term:         stats.Term,
		CommitIndex:  stats.CommitIndex,
		AppliedIndex: stats.AppliedIndex,
		Members:      make([]MemberOut, 0, len(members)),
	}
	if leaderID != "" {
		body.Leader = &LeaderOut{ID: leaderID, RaftAddr: leaderAddr}
	}
	for _, m := range members {
		httpAddr := s.MemberHTTPAddr(m)
		isLeader := m.Leader || (leaderID != "" && m.ID == leaderID)
		body.Members = append(body.Members, MemberOut{ID: m.ID, RaftAddr: m.RaftAddr, HTTPAddr: httpAddr, Voter: m.Voter, Leader: isLeader})
		if isLeader && body.Leader != nil {
			body.Leader.HTTPAddr = httpAddr
			if body.Leader.RaftAddr == "" {
				body.Leader.RaftAddr = m.RaftAddr
			}
		}
	}
	return body, nil
}
