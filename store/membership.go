package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/aerolithdb/aerolith/internal/backoff"
)

// Member is one server in the raft configuration with its replicated Meta.
type Member struct {
	ID       string            `json:"id"`
	RaftAddr string            `json:"raft_addr"`
	Voter    bool              `json:"voter"`
	Leader   bool              `json:"leader"`
	Meta     map[string]string `json:"meta,omitempty"`
}

// nodeInfo is what the node-info RPC reports about a node.
type nodeInfo struct {
	ID           string            `json:"id"`
	RaftAddr     string            `json:"raft_addr"`
	AppliedIndex uint64            `json:"applied_index"`
	HasState     bool              `json:"has_state"`
	Removed      bool              `json:"removed,omitempty"`
	LeaderID     string            `json:"leader_id,omitempty"`
	LeaderAddr   string            `json:"leader_addr,omitempty"`
	Meta         map[string]string `json:"meta,omitempty"`
}

type joinRequest struct {
	ID        string            `json:"id"`
	RaftAddr  string            `json:"raft_addr"`
	Meta      map[string]string `json:"meta,omitempty"`
	Forwarded bool              `json:"forwarded,omitempty"`
}

type removeRequest struct {
	ID        string `json:"id"`
	Forwarded bool   `json:"forwarded,omitempty"`
}

// handleRPC dispatches one internal RPC.
func (s *Store) handleRPC(method byte, payload []byte) ([]byte, error) {
	if s.closed.Load() || s.raftNode() == nil {
		return nil, ErrClosed
	}
	switch method {
	case rpcForwardPropose:
		return s.handleForwardPropose(payload)
	case rpcReadIndex, rpcLeaderApplied:
		return s.handleIndexRPC(method, payload)
	case rpcNodeInfo:
		return json.Marshal(s.nodeInfo())
	case rpcRemoved:
		return nil, s.handleRemovedNotice(payload)
	case rpcMemberCheck:
		return s.handleMemberCheck(payload)
	case rpcAwaitApplied:
		return s.handleAwaitApplied(payload)
	case rpcJoin:
		var req joinRequest
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, fmt.Errorf("bad join request: %v", err)
		}
		ctx, cancel := context.WithTimeout(s.ctx, rpcTimeout)
		defer cancel()
		return nil, unwrapRetry(s.join(ctx, req))
	case rpcRemove:
		var req removeRequest
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, fmt.Errorf("bad remove request: %v", err)
		}
		ctx, cancel := context.WithTimeout(s.ctx, rpcTimeout)
		defer cancel()
		return nil, unwrapRetry(s.remove(ctx, req))
	}
	return nil, fmt.Errorf("unknown rpc method %d", method)
}

func (s *Store) nodeInfo() nodeInfo {
	r := s.raftNode()
	lid, laddr := s.Leader()
	return nodeInfo{
		ID:           s.cfg.NodeID,
		RaftAddr:     s.cfg.AdvertiseAddr,
		AppliedIndex: s.fsm.applied.Load(),
		HasState:     len(r.GetConfiguration().Configuration().Servers) > 0 || s.removed(),
		Removed:      s.removed(),
		LeaderID:     lid,
		LeaderAddr:   laddr,
		Meta:         s.cfg.Meta,
	}
}

func (s *Store) probe(ctx context.Context, addr string) (nodeInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	b, err := s.rpc.call(ctx, addr, rpcNodeInfo, nil)
	if err != nil {
		return nodeInfo{}, unwrapRetry(err)
	}
	var ni nodeInfo
	if err := json.Unmarshal(b, &ni); err != nil {
		return nodeInfo{}, fmt.Errorf("node info from %s: %w", addr, err)
	}
	return ni, nil
}

// Join adds node nodeID at raftAddr to the cluster as a non-voter (the
// leader promotes it once it has caught up) and records meta for it. It is
// idempotent: the same id and address is a no-op apart from a Meta update;
// the same id with a new address updates the address. A node that is not
// a member yet but has raft state of its own is refused with
// ErrNodeHasState. Called on a follower it is forwarded to the leader.
func (s *Store) Join(ctx context.Context, nodeID, raftAddr string, meta map[string]string) error {
	if nodeID == "" {
		return errors.New("store: join: node id is empty")
	}
	if err := checkRoutable(raftAddr); err != nil {
		return fmt.Errorf("store: join %s: raft address %v", nodeID, err)
	}
	return s.retryLeader(ctx, func(ctx context.Context) error {
		return s.join(ctx, joinRequest{ID: nodeID, RaftAddr: raftAddr, Meta: meta})
	})
}

// Remove removes nodeID from the cluster and drops its Meta. Removing an
// unknown node is a no-op. Called on a follower it is forwarded to the
// leader.
func (s *Store) Remove(ctx context.Context, nodeID string) error {
	if nodeID == "" {
		return errors.New("store: remove: node id is empty")
	}
	return s.retryLeader(ctx, func(ctx context.Context) error {
		return s.remove(ctx, removeRequest{ID: nodeID})
	})
}

// retryLeader runs f until it succeeds or fails for a reason other than
// leadership, within Config.LeaderWait.
func (s *Store) retryLeader(ctx context.Context, f func(context.Context) error) error {
	if s.raftNode() == nil {
		return errors.New("store: not open")
	}
	var deadline time.Time
	for attempt := 0; ; attempt++ {
		if s.closed.Load() {
			return ErrClosed
		}
		if s.removed() {
			return ErrRemoved
		}
		ch := s.changeCh()
		err := f(ctx)
		if err == nil || !isRetry(err) {
			return unwrapRetry(err)
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(s.cfg.LeaderWait)
		} else if time.Now().After(deadline) {
			return fmt.Errorf("%w: %v", ErrNoLeader, err)
		}
		if werr := s.waitChange(ctx, ch, min(time.Duration(attempt+1)*10*time.Millisecond, 200*time.Millisecond)); werr != nil {
			return werr
		}
	}
}

// forwardToLeader sends a membership request to the leader.
func (s *Store) forwardToLeader(ctx context.Context, method byte, req any) error {
	_, addr, err := s.awaitLeader(ctx)
	if err != nil {
		return err
	}
	if addr == s.cfg.AdvertiseAddr {
		return errRetry{ErrNotLeader}
	}
	b, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	_, err = s.rpc.call(ctx, addr, method, b)
	switch {
	case err == nil, isRetry(err):
	case errors.Is(err, ErrNotLeader):
		err = errRetry{err}
	case rpcUnanswered(err):
		// Join and remove are idempotent: asking again is safe.
		err = errRetry{fmt.Errorf("leader %s: %w", addr, err)}
	}
	return err
}

func (s *Store) join(ctx context.Context, req joinRequest) error {
	r := s.raftNode()
	if r.State() != raft.Leader {
		if req.Forwarded {
			return ErrNotLeader
		}
		req.Forwarded = true
		return s.forwardToLeader(ctx, rpcJoin, req)
	}
	id, addr := raft.ServerID(req.ID), raft.ServerAddress(req.RaftAddr)
	cf := r.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	if !slices.ContainsFunc(cf.Configuration().Servers, func(srv raft.Server) bool { return srv.ID == id }) {
		if err := s.checkJoinable(ctx, req); err != nil {
			return err
		}
	}
	known := false
	for _, srv := range cf.Configuration().Servers {
		switch {
		case srv.ID == id && srv.Address == addr:
			known = true
		case srv.ID == id:
			// Same node, new address: keep its suffrage.
			var f raft.IndexFuture
			if srv.Suffrage == raft.Voter {
				f = r.AddVoter(id, addr, 0, 0)
			} else {
				f = r.AddNonvoter(id, addr, 0, 0)
			}
			if err := awaitFuture(ctx, f); err != nil {
				return mapApplyError(err)
			}
			known = true
			s.log.Info("member address updated", "member", req.ID, "raft_addr", req.RaftAddr)
			s.membership(MembershipEvent{Kind: MembershipAddrChanged, Member: req.ID, RaftAddr: req.RaftAddr})
		case srv.Address == addr:
			// Another id claims this address: the old node is gone.
			if err := awaitFuture(ctx, r.RemoveServer(srv.ID, 0, 0)); err != nil {
				return mapApplyError(err)
			}
			s.log.Info("removed member replaced at its address", "member", srv.ID, "raft_addr", srv.Address)
			s.membership(MembershipEvent{Kind: MembershipRemoved, Member: string(srv.ID), RaftAddr: string(srv.Address), Detail: "replaced at its address by " + req.ID})
		}
	}
	if !known {
		if err := awaitFuture(ctx, r.AddNonvoter(id, addr, 0, 0)); err != nil {
			return mapApplyError(err)
		}
		s.log.Info("member joined as non-voter", "member", req.ID, "raft_addr", req.RaftAddr)
		s.membership(MembershipEvent{Kind: MembershipJoined, Member: req.ID, RaftAddr: req.RaftAddr})
	}
	recs, err := s.fsm.members()
	if err != nil {
		return err
	}
	if rec, ok := recs[req.ID]; ok && rec.RaftAddr == req.RaftAddr && maps.Equal(rec.Meta, req.Meta) {
		return nil
	}
	return s.applyInternal(encodeMember(memberRecord{ID: req.ID, RaftAddr: req.RaftAddr, Meta: req.Meta}))
}

// checkJoinable refuses, with ErrNodeHasState, a node that is not a
// member but has raft state of its own: a node that formed its own cluster
// (started alone, or with only its own address to join) or was removed
// from this one. Raft would otherwise mix two histories. A node that does
// not answer is not checked: it may not be started yet.
func (s *Store) checkJoinable(ctx context.Context, req joinRequest) error {
	ni, err := s.probe(ctx, req.RaftAddr)
	if err != nil {
		s.log.Debug("joining node did not answer; adding it unchecked", "member", req.ID, "raft_addr", req.RaftAddr, "error", err)
		return nil
	}
	if ni.HasState {
		return fmt.Errorf("%w: node %s at %s already has raft state (it formed or joined another cluster, or was removed from this one); "+
			"wipe its data directory or start it on a fresh one, then join it again", ErrNodeHasState, req.ID, req.RaftAddr)
	}
	return nil
}

func (s *Store) remove(ctx context.Context, req removeRequest) error {
	r := s.raftNode()
	if r.State() != raft.Leader {
		if req.Forwarded {
			return ErrNotLeader
		}
		req.Forwarded = true
		return s.forwardToLeader(ctx, rpcRemove, req)
	}
	if req.ID == s.cfg.NodeID && s.otherVoters() > 0 {
		// A leader asked to leave hands leadership to an up-to-date voter
		// first, so the cluster does not wait an election timeout without
		// a leader; the new leader then removes this node.
		if err := awaitFuture(ctx, r.LeadershipTransfer()); err != nil {
			return mapApplyError(err)
		}
		s.log.Info("leadership transferred before removing this node")
		return errRetry{ErrNotLeader}
	}
	recs, err := s.fsm.members()
	if err != nil {
		return err
	}
	if _, ok := recs[req.ID]; ok {
		if err := s.applyInternal(encodeRemoveMember(req.ID)); err != nil {
			return err
		}
	}
	cf := r.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	for _, srv := range cf.Configuration().Servers {
		if srv.ID == raft.ServerID(req.ID) {
			f := r.RemoveServer(srv.ID, 0, 0)
			if err := awaitFuture(ctx, f); err != nil {
				return mapApplyError(err)
			}
			s.log.Info("member removed", "member", req.ID)
			s.membership(MembershipEvent{Kind: MembershipRemoved, Member: req.ID, RaftAddr: string(srv.Address)})
			if srv.ID == raft.ServerID(s.cfg.NodeID) {
				s.markRemoved("this node, as leader, removed itself")
			} else {
				// Committed: tell the node, so it stops serving.
				s.notifyRemoved(ctx, srv, f.Index())
			}
		}
	}
	return nil
}

// applyInternal commits a store-internal entry on the leader.
func (s *Store) applyInternal(data []byte) error {
	f := s.raftNode().Apply(data, 0)
	if err := f.Error(); err != nil {
		return mapApplyError(err)
	}
	if err, ok := f.Response().(error); ok && err != nil {
		return err
	}
	return nil
}

// Members returns the servers of the raft configuration known to this node
// with their replicated Meta, sorted by id.
func (s *Store) Members(ctx context.Context) ([]Member, error) {
	r := s.raftNode()
	if r == nil {
		return nil, errors.New("store: not open")
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cf := r.GetConfiguration()
	if err := cf.Error(); err != nil {
		return nil, err
	}
	recs, err := s.fsm.members()
	if err != nil {
		return nil, err
	}
	_, lid := r.LeaderWithID()
	var out []Member
	for _, srv := range cf.Configuration().Servers {
		m := Member{
			ID:       string(srv.ID),
			RaftAddr: string(srv.Address),
			Voter:    srv.Suffrage == raft.Voter,
			Leader:   srv.ID == lid,
		}
		if rec, ok := recs[m.ID]; ok {
			m.Meta = maps.Clone(rec.Meta)
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, nil
}

// clusterLoop forms or joins a cluster as configured, then makes sure this
// node's address and Meta are recorded. It starts removalLoop first.
func (s *Store) clusterLoop(hasState bool) {
	s.goRun(s.removalLoop)
	if !hasState {
		var err error
		switch others := s.otherJoinAddrs(); {
		case s.cfg.BootstrapExpect > 0:
			err = s.discoverAndBootstrap(others)
		case len(others) > 0:
			err = s.joinCluster(others)
		default:
			err = s.bootstrap([]raft.Server{{ID: raft.ServerID(s.cfg.NodeID), Address: raft.ServerAddress(s.cfg.AdvertiseAddr)}})
		}
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Error("forming cluster failed", "error", err)
			}
			return
		}
	}
	s.publishSelf()
}

func (s *Store) otherJoinAddrs() []string {
	var out []string
	for _, a := range s.cfg.Join {
		if a == s.cfg.AdvertiseAddr || a == s.cfg.RaftAddr || slices.Contains(out, a) {
			continue
		}
		out = append(out, a)
	}
	return out
}

func (s *Store) bootstrap(servers []raft.Server) error {
	slices.SortFunc(servers, func(a, b raft.Server) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	err := s.raftNode().BootstrapCluster(raft.Configuration{Servers: servers}).Error()
	if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err == nil {
		s.log.Info("bootstrapped cluster", "servers", len(servers))
		s.membership(MembershipEvent{Kind: MembershipBootstrap, Member: s.cfg.NodeID, RaftAddr: s.cfg.AdvertiseAddr, Detail: fmt.Sprintf("%d servers", len(servers))})
	}
	return nil
}

// discoverAndBootstrap probes the Join addresses until BootstrapExpect
// distinct nodes without state are known (then every one of them
// bootstraps the same sorted voter set) or a probed node belongs to a
// cluster with a leader (then this node joins it).
func (s *Store) discoverAndBootstrap(others []string) error {
	b := backoff.New(50*time.Millisecond, time.Second)
	for {
		if s.hasConfig() {
			return nil // someone else's cluster already contacted us
		}
		infos := s.probeAll(others)
		known := map[string]string{s.cfg.NodeID: s.cfg.AdvertiseAddr}
		for _, ni := range infos {
			if ni.HasState && ni.LeaderAddr != "" && ni.ID != s.cfg.NodeID {
				s.log.Info("found existing cluster; joining", "via", ni.RaftAddr, "leader", ni.LeaderID)
				return s.joinCluster([]string{ni.RaftAddr})
			}
			if !ni.HasState {
				known[ni.ID] = ni.RaftAddr
			}
		}
		if len(known) >= s.cfg.BootstrapExpect {
			var servers []raft.Server
			for id, addr := range known {
				servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(addr)})
			}
			return s.bootstrap(servers)
		}
		if err := b.Wait(s.ctx); err != nil {
			return err
		}
	}
}

func (s *Store) probeAll(addrs []string) []nodeInfo {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var out []nodeInfo
	for _, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ni, err := s.probe(s.ctx, a)
			if err != nil {
				return
			}
			mu.Lock()
			out = append(out, ni)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// joinCluster asks the given addresses, in turn and with backoff, to add
// this node, until one accepts.
func (s *Store) joinCluster(addrs []string) error {
	req := joinRequest{ID: s.cfg.NodeID, RaftAddr: s.cfg.AdvertiseAddr, Meta: s.cfg.Meta}
	b, _ := json.Marshal(req)
	bo := backoff.New(50*time.Millisecond, 5*time.Second)
	for {
		for _, a := range addrs {
			if s.hasConfig() {
				return nil
			}
			ctx, cancel := context.WithTimeout(s.ctx, rpcTimeout)
			_, err := s.rpc.call(ctx, a, rpcJoin, b)
			cancel()
			if err == nil {
				s.log.Info("joined cluster", "via", a)
				return nil
			}
			if s.ctx.Err() != nil {
				return s.ctx.Err()
			}
			s.log.Debug("join attempt failed", "via", a, "error", err)
		}
		if err := bo.Wait(s.ctx); err != nil {
			return err
		}
	}
}

func (s *Store) hasConfig() bool {
	return len(s.raftNode().GetConfiguration().Configuration().Servers) > 0
}

// publishSelf records this node's address and Meta through the leader once
// the node is part of a configuration. A node that was removed does not
// re-add itself, and stops trying once it knows it was removed.
func (s *Store) publishSelf() {
	b := backoff.New(50*time.Millisecond, 2*time.Second)
	for !s.removed() {
		if s.inConfig() {
			ctx, cancel := context.WithTimeout(s.ctx, rpcTimeout)
			err := s.Join(ctx, s.cfg.NodeID, s.cfg.AdvertiseAddr, s.cfg.Meta)
			cancel()
			if err == nil {
				return
			}
			if s.ctx.Err() != nil {
				return
			}
			s.log.Debug("publishing member record failed", "error", err)
		}
		if b.Wait(s.ctx) != nil {
			return
		}
	}
}

func (s *Store) inConfig() bool {
	for _, srv := range s.raftNode().GetConfiguration().Configuration().Servers {
		if srv.ID == raft.ServerID(s.cfg.NodeID) {
			return true
		}
	}
	return false
}

// promoteLoop, on the leader, promotes non-voters whose applied index has
// reached the leader's commit index of the previous check.
func (s *Store) promoteLoop(ctx context.Context) {
	interval := min(max(s.cfg.HeartbeatTimeout/4, 20*time.Millisecond), 500*time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	prev := map[raft.ServerID]uint64{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r := s.raftNode()
		if r.State() != raft.Leader {
			return
		}
		cur := r.CommitIndex()
		seen := map[raft.ServerID]bool{}
		for _, srv := range r.GetConfiguration().Configuration().Servers {
			if srv.Suffrage != raft.Nonvoter {
				continue
			}
			seen[srv.ID] = true
			target, ok := prev[srv.ID]
			prev[srv.ID] = cur
			if !ok {
				continue
			}
			ni, err := s.probe(ctx, string(srv.Address))
			if err != nil || ni.ID != string(srv.ID) || ni.AppliedIndex < target {
				continue
			}
			if err := awaitFuture(ctx, r.AddVoter(srv.ID, srv.Address, 0, 0)); err != nil {
				if ctx.Err() != nil {
					return
				}
				s.log.Warn("promoting non-voter failed", "member", srv.ID, "error", err)
				continue
			}
			s.metrics.promotions.Inc()
			s.log.Info("promoted non-voter to voter", "member", srv.ID, "applied_index", ni.AppliedIndex)
			s.membership(MembershipEvent{Kind: MembershipPromoted, Member: string(srv.ID), RaftAddr: string(srv.Address)})
		}
		for id := range prev {
			if !seen[id] {
				delete(prev, id)
			}
		}
	}
}

// membership reports ev to Config.OnMembership, if set.
func (s *Store) membership(ev MembershipEvent) {
	if s.cfg.OnMembership != nil {
		s.cfg.OnMembership(ev)
	}
}
