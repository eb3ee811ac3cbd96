package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// A node removed from the cluster must stop acting as a member: raft stops
// replicating to it at once, so left alone it would keep the old leader and
// members and serve ever staler reads. It learns of its removal in one of
// two ways:
//
//   - the leader tells it (rpcRemoved), best effort, once the configuration
//     change that removes it has committed;
//   - it asks (rpcMemberCheck) whenever it looks cut off (its own latest
//     configuration lacks it, no leader is known, or the leader went
//     quiet), and now and then anyway, and a leader answers from a
//     committed configuration that it is not a member.
//
// It then marks itself removed (Stats.Removed; Propose and View fail with
// ErrRemoved), and shuts raft down so it neither campaigns nor claims a
// leader (Ready is false).

// removal records whether this node was removed from the cluster.
type removal struct {
	flag   atomic.Bool
	mu     sync.Mutex
	reason string
	ch     chan struct{} // closed once removed; made on first use
}

// mark records the removal; it reports whether this call made it.
func (r *removal) mark(reason string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.flag.Load() {
		return false
	}
	r.reason = reason
	r.flag.Store(true)
	if r.ch == nil {
		r.ch = make(chan struct{})
	}
	close(r.ch)
	return true
}

// done is closed once the node is marked removed.
func (r *removal) done() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ch == nil {
		r.ch = make(chan struct{})
	}
	return r.ch
}

// removed reports whether this node learned it was removed from the
// cluster.
func (s *Store) removed() bool { return s.forwarder.removal.flag.Load() }

// markRemoved records that this node is no longer a member; removalLoop
// then shuts raft down.
func (s *Store) markRemoved(reason string) {
	if !s.forwarder.removal.mark(reason) {
		return
	}
	s.log.Warn("this node was removed from the cluster: it no longer serves reads or writes; "+
		"to make it a member again, wipe its data directory (or start it on a fresh one) and join it",
		"reason", reason)
	s.membership(MembershipEvent{Kind: MembershipRemovedSelf, Member: s.cfg.NodeID, RaftAddr: s.cfg.AdvertiseAddr, Detail: reason})
	s.signalChange()
}

// removedNotice is the payload of rpcRemoved.
type removedNotice struct {
	ID       string `json:"id"`
	Index    uint64 `json:"index"` // of the configuration entry that removed ID
	LeaderID string `json:"leader_id"`
}

// memberCheck is the request of rpcMemberCheck; memberAnswer its answer.
type memberCheck struct {
	ID string `json:"id"`
}

type memberAnswer struct {
	Member   bool   `json:"member"`
	LeaderID string `json:"leader_id"`
}

// notifyRemoved tells the node srv, just removed by the configuration entry
// at index, that it is out. Best effort: a node that misses it finds out on
// its own (checkRemoved).
func (s *Store) notifyRemoved(ctx context.Context, srv raft.Server, index uint64) {
	b, _ := json.Marshal(removedNotice{ID: string(srv.ID), Index: index, LeaderID: s.cfg.NodeID})
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := s.rpc.call(ctx, string(srv.Address), rpcRemoved, b); err != nil {
		s.log.Info("could not tell the removed member; it finds out when it next asks a leader",
			"member", srv.ID, "raft_addr", srv.Address, "error", unwrapRetry(err))
	}
}

// handleRemovedNotice serves rpcRemoved.
func (s *Store) handleRemovedNotice(payload []byte) error {
	var n removedNotice
	if err := json.Unmarshal(payload, &n); err != nil {
		return fmt.Errorf("bad removal notice: %v", err)
	}
	if n.ID != s.cfg.NodeID {
		return fmt.Errorf("removal notice for node %q reached node %q", n.ID, s.cfg.NodeID)
	}
	r := s.raftNode()
	if r.State() == raft.Leader {
		return fmt.Errorf("removal notice from %q ignored: node %q is the leader", n.LeaderID, s.cfg.NodeID)
	}
	if s.inConfig() && r.LastIndex() > n.Index {
		// A member again since (wiped and joined anew): a late notice.
		return nil
	}
	s.markRemoved(fmt.Sprintf("leader %s removed this node", n.LeaderID))
	return nil
}

// handleMemberCheck serves rpcMemberCheck on the leader: whether node ID
// is in a committed configuration.
func (s *Store) handleMemberCheck(payload []byte) ([]byte, error) {
	var req memberCheck
	if err := json.Unmarshal(payload, &req); err != nil || req.ID == "" {
		return nil, fmt.Errorf("bad member check request %q", payload)
	}
	r := s.raftNode()
	if r.State() != raft.Leader {
		return nil, ErrNotLeader
	}
	if !s.leaderReady(r) {
		return nil, ErrNotReady
	}
	isMember := func() bool {
		for _, srv := range r.GetConfiguration().Configuration().Servers {
			if srv.ID == raft.ServerID(req.ID) {
				return true
			}
		}
		return false
	}
	ans := memberAnswer{LeaderID: s.cfg.NodeID, Member: isMember()}
	if !ans.Member {
		// The barrier commits every entry before it, so the configuration
		// read before it is committed once it returns: an uncommitted
		// removal that a new leader could drop never makes a node give up.
		if err := r.Barrier(rpcTimeout).Error(); err != nil {
			return nil, unwrapRetry(mapApplyError(err))
		}
	}
	return json.Marshal(ans)
}

// healthyCheckEvery is how many removalLoop ticks a node that looks like
// a healthy member waits between member checks.
const healthyCheckEvery = 10

// removalLoop runs for the life of the store: it checks now and then
// whether this node was removed, and shuts raft down once it was.
func (s *Store) removalLoop() {
	interval := min(max(s.cfg.HeartbeatTimeout, 100*time.Millisecond), 5*time.Second)
	t := time.NewTicker(interval)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-s.ctx.Done():
			return
		case <-s.forwarder.removal.done():
			// Raft shut down here, inside the store's goroutines, so that
			// Close waits for it before closing the files.
			if err := s.raftNode().Shutdown().Error(); err != nil {
				s.log.Warn("stopping raft on a removed node failed", "error", err)
			}
			s.signalChange()
			return
		case <-t.C:
			s.checkRemoved(tick%healthyCheckEvery == 0)
		}
	}
}

// checkRemoved asks a leader whether this node is still a member when it
// looks cut off (or always, if evenHealthy), and marks it removed if a
// leader says it is not.
func (s *Store) checkRemoved(evenHealthy bool) {
	r := s.raftNode()
	if s.closed.Load() || s.removed() {
		return
	}
	switch r.State() {
	case raft.Leader, raft.Shutdown:
		return
	}
	servers := r.GetConfiguration().Configuration().Servers
	if len(servers) == 0 {
		return // in no cluster yet
	}
	self := false
	for _, srv := range servers {
		if srv.ID == raft.ServerID(s.cfg.NodeID) {
			self = true
		}
	}
	_, leader := s.Leader()
	if self && leader != "" && time.Since(r.LastContact()) < 2*s.cfg.HeartbeatTimeout && !evenHealthy {
		return // looks like a member hearing from its leader
	}
	var addrs []string
	if leader != "" && leader != s.cfg.AdvertiseAddr {
		addrs = append(addrs, leader)
	}
	for _, srv := range servers {
		if a := string(srv.Address); srv.ID != raft.ServerID(s.cfg.NodeID) && a != leader {
			addrs = append(addrs, a)
		}
	}
	req, _ := json.Marshal(memberCheck{ID: s.cfg.NodeID})
	for _, a := range addrs {
		ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
		b, err := s.rpc.call(ctx, a, rpcMemberCheck, req)
		cancel()
		if err != nil {
			continue // not the leader, or unreachable
		}
		var ans memberAnswer
		if err := json.Unmarshal(b, &ans); err != nil {
			s.log.Warn("bad member check answer", "from", a, "error", err)
			continue
		}
		if !ans.Member {
			s.markRemoved(fmt.Sprintf("leader %s does not list this node in the cluster configuration", ans.LeaderID))
		}
		return
	}
}
