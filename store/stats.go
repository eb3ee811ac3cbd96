package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// Stats are the figures of one node, served by the HTTP API.
type Stats struct {
	NodeID           string        `json:"node_id"`
	State            string        `json:"state"`
	Term             uint64        `json:"term"`
	LastLogIndex     uint64        `json:"last_log_index"`
	CommitIndex      uint64        `json:"commit_index"`
	AppliedIndex     uint64        `json:"applied_index"`
	SnapshotIndex    uint64        `json:"snapshot_index"`
	LeaderID         string        `json:"leader_id"`
	LeaderAddr       string        `json:"leader_addr"`
	Ready            bool          `json:"ready"`
	NumVoters        int           `json:"num_voters"`
	NumNonvoters     int           `json:"num_nonvoters"`
	DBSizeBytes      int64         `json:"db_size_bytes"`
	LastContact      time.Duration `json:"last_contact_ns"`
	ProposalsPending int64         `json:"proposals_pending"`
	LogStore         string        `json:"log_store"`
	// Removed is true once this node learned it was removed from the
	// cluster; it then serves nothing (ErrRemoved) and State is Shutdown.
	Removed bool `json:"removed"`
}

// Stats returns current figures for this node. Before Open and after Close
// State is "Shutdown".
func (s *Store) Stats() Stats {
	st := Stats{
		NodeID:           s.cfg.NodeID,
		State:            raft.Shutdown.String(),
		AppliedIndex:     s.fsm.applied.Load(),
		ProposalsPending: s.pending.Load(),
		LogStore:         s.cfg.LogStore,
		Removed:          s.removed(),
	}
	r := s.raftNode()
	if r == nil || s.closed.Load() {
		return st
	}
	st.State = r.State().String()
	st.Term = r.CurrentTerm()
	st.LastLogIndex = r.LastIndex()
	st.CommitIndex = r.CommitIndex()
	st.LeaderID, st.LeaderAddr = s.Leader()
	st.Ready = s.Ready()
	if r.State() == raft.Leader {
		st.LastContact = 0
	} else if lc := r.LastContact(); !lc.IsZero() {
		st.LastContact = time.Since(lc)
	}
	if v, err := strconv.ParseUint(r.Stats()["last_snapshot_index"], 10, 64); err == nil {
		st.SnapshotIndex = v
	}
	for _, srv := range r.GetConfiguration().Configuration().Servers {
		switch srv.Suffrage {
		case raft.Voter:
			st.NumVoters++
		case raft.Nonvoter:
			st.NumNonvoters++
		}
	}
	_ = s.fsm.view(func(tx *bolt.Tx) error {
		st.DBSizeBytes = tx.Size()
		return nil
	})
	return st
}

// Snapshot forces a snapshot now (tests and admin). It returns nil when
// there is nothing new to snapshot.
func (s *Store) Snapshot(ctx context.Context) error {
	r := s.raftNode()
	if r == nil {
		return errors.New("store: not open")
	}
	if s.closed.Load() {
		return ErrClosed
	}
	done := make(chan error, 1)
	go func() { done <- r.Snapshot().Error() }()
	select {
	case err := <-done:
		if errors.Is(err, raft.ErrNothingNewToSnapshot) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: snapshot: %w", err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LeadershipTransfer hands leadership to the most up-to-date other voter.
// It returns ErrNotLeader on a follower.
func (s *Store) LeadershipTransfer(ctx context.Context) error {
	r := s.raftNode()
	if r == nil {
		return errors.New("store: not open")
	}
	if s.closed.Load() {
		return ErrClosed
	}
	if r.State() != raft.Leader {
		return ErrNotLeader
	}
	done := make(chan error, 1)
	go func() { done <- r.LeadershipTransfer().Error() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("store: leadership transfer: %w", mapApplyError(err))
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
