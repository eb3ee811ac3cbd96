package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// rpcTimeout bounds internal RPCs that have no deadline of their own.
const rpcTimeout = 10 * time.Second

// View runs fn in a bbolt read transaction on this node once the local
// state is as fresh as c demands:
//
//   - Linearizable: the leader's commit index, confirmed by a quorum round
//     shared with concurrent readers, has been applied locally.
//   - Leader: the leader's applied index has been applied locally (on the
//     leader itself: read now).
//   - Stale: read now.
//
// Errors: ErrNotReady when the leader has not applied its first barrier of
// the term; ErrNoLeader when no leader is known within Config.LeaderWait;
// ErrRemoved once this node was removed from the cluster (whatever c);
// ErrClosed; ctx's error; or what fn returned. fn must not retain tx or
// byte slices read from it after returning, and must not call Propose.
func (s *Store) View(ctx context.Context, c Consistency, fn func(tx *bolt.Tx) error) error {
	if s.raftNode() == nil {
		return errors.New("store: not open")
	}
	if s.closed.Load() {
		return ErrClosed
	}
	if s.removed() {
		return ErrRemoved
	}
	var idx uint64
	var err error
	switch c {
	case Stale:
	case Leader:
		idx, err = s.freshIndex(ctx, false)
	case Linearizable:
		idx, err = s.freshIndex(ctx, true)
	default:
		return fmt.Errorf("store: unknown consistency %d", int(c))
	}
	if err != nil {
		return err
	}
	if err := s.WaitForApplied(ctx, idx); err != nil {
		return err
	}
	return s.fsm.view(fn)
}

// freshIndex returns the index this node must apply before reading with
// Linearizable (linear) or Leader consistency, retrying across leader
// changes within Config.LeaderWait.
func (s *Store) freshIndex(ctx context.Context, linear bool) (uint64, error) {
	var deadline time.Time
	for attempt := 0; ; attempt++ {
		if s.closed.Load() {
			return 0, ErrClosed
		}
		if s.removed() {
			return 0, ErrRemoved
		}
		ch := s.changeCh()
		idx, err := s.freshIndexOnce(ctx, linear)
		if err == nil || !isRetry(err) {
			return idx, unwrapRetry(err)
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(s.cfg.LeaderWait)
		} else if time.Now().After(deadline) {
			return 0, fmt.Errorf("%w: %v", ErrNoLeader, err)
		}
		backoff := min(time.Duration(attempt+1)*5*time.Millisecond, 100*time.Millisecond)
		if werr := s.waitChange(ctx, ch, backoff); werr != nil {
			return 0, werr
		}
	}
}

func unwrapRetry(err error) error {
	var r errRetry
	if errors.As(err, &r) {
		return r.err
	}
	return err
}

func (s *Store) freshIndexOnce(ctx context.Context, linear bool) (uint64, error) {
	r := s.raftNode()
	if r.State() == raft.Leader {
		if !s.leaderReady(r) {
			return 0, ErrNotReady
		}
		if !linear {
			return 0, nil // read our own state directly
		}
		return s.leaderRounds.join(ctx)
	}
	if _, _, err := s.awaitLeader(ctx); err != nil {
		return 0, err
	}
	if linear {
		return s.readIndexRPCs.join(ctx)
	}
	return s.appliedIdxRPCs.join(ctx)
}

// verifyRound is one leadership confirmation shared by every reader that
// joined before it started: it records the commit index, then confirms
// with a quorum that this node is still the leader of the same term.
func (s *Store) verifyRound(context.Context) (uint64, error) {
	r := s.raftNode()
	if r.State() != raft.Leader {
		return 0, errRetry{ErrNotLeader}
	}
	if !s.leaderReady(r) {
		return 0, ErrNotReady
	}
	term := r.CurrentTerm()
	idx := r.CommitIndex()
	s.metrics.readIndexRounds.Inc()
	if err := r.VerifyLeader().Error(); err != nil {
		if errors.Is(err, raft.ErrRaftShutdown) {
			return 0, ErrClosed
		}
		return 0, errRetry{fmt.Errorf("%w: %v", ErrNotLeader, err)}
	}
	if r.CurrentTerm() != term {
		return 0, errRetry{ErrNotLeader}
	}
	return idx, nil
}

// leaderIndexRPC asks the leader for its read index (rpcReadIndex) or its
// applied index (rpcLeaderApplied).
func (s *Store) leaderIndexRPC(ctx context.Context, method byte) (uint64, error) {
	_, addr := s.Leader()
	switch {
	case addr == "":
		return 0, errRetry{ErrNoLeader}
	case addr == s.cfg.AdvertiseAddr:
		return 0, errRetry{ErrNotLeader}
	}
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	if method == rpcReadIndex {
		s.metrics.readIndexRPCs.Inc()
	}
	// Our applied index lets the leader see whether we lag its answer.
	resp, err := s.rpc.call(ctx, addr, method, binary.AppendUvarint(nil, s.fsm.applied.Load()))
	if err != nil {
		return 0, indexRPCError(addr, err, ctx.Err() != nil)
	}
	idx, n := binary.Uvarint(resp)
	if n <= 0 {
		return 0, fmt.Errorf("bad index response from %s", addr)
	}
	return idx, nil
}

// indexRPCError classifies the failure of a read-index or leader-applied
// RPC. Asking for an index changes nothing, so every failure of the leader
// to answer (unreachable, connection lost, not leader any more, closing,
// no answer in time) is worth asking again, and reported as ErrNoLeader
// once LeaderWait has passed. timedOut means the call's context expired.
func indexRPCError(addr string, err error, timedOut bool) error {
	switch {
	case isRetry(err):
		return errRetry{fmt.Errorf("leader %s: %w", addr, unwrapRetry(err))}
	case errors.Is(err, ErrNotLeader):
		return errRetry{err}
	case errors.Is(err, ErrClosed), rpcUnanswered(err):
		return errRetry{fmt.Errorf("leader %s: %w", addr, err)}
	case timedOut:
		return errRetry{fmt.Errorf("leader %s did not answer: %w", addr, err)}
	}
	return err
}

// handleIndexRPC serves rpcReadIndex and rpcLeaderApplied on the leader.
func (s *Store) handleIndexRPC(method byte, payload []byte) ([]byte, error) {
	r := s.raftNode()
	if r.State() != raft.Leader {
		return nil, ErrNotLeader
	}
	if !s.leaderReady(r) {
		return nil, ErrNotReady
	}
	var idx uint64
	if method == rpcReadIndex {
		var err error
		if idx, err = s.leaderRounds.join(s.ctx); err != nil {
			return nil, unwrapRetry(err)
		}
	} else {
		idx = s.fsm.applied.Load()
	}
	if theirs, n := binary.Uvarint(payload); n > 0 && theirs < idx {
		s.nudgeFollowers()
	}
	return binary.AppendUvarint(nil, idx), nil
}

// rounds shares one in-flight call of fn among concurrent callers. A caller
// joins the next round that starts after it arrived, so every result
// reflects a call begun after the caller asked.
type rounds struct {
	fn      func(ctx context.Context) (uint64, error)
	mu      sync.Mutex
	running bool
	next    *round
}

type round struct {
	done chan struct{}
	idx  uint64
	err  error
}

func newRounds(fn func(context.Context) (uint64, error)) *rounds {
	return &rounds{fn: fn}
}

func (r *rounds) join(ctx context.Context) (uint64, error) {
	r.mu.Lock()
	if r.next == nil {
		r.next = &round{done: make(chan struct{})}
	}
	rd := r.next
	if !r.running {
		r.running = true
		r.next = nil
		go r.run(rd)
	}
	r.mu.Unlock()
	select {
	case <-rd.done:
		return rd.idx, rd.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (r *rounds) run(rd *round) {
	for rd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
		rd.idx, rd.err = r.fn(ctx)
		cancel()
		close(rd.done)
		r.mu.Lock()
		rd = r.next
		r.next = nil
		if rd == nil {
			r.running = false
		}
		r.mu.Unlock()
	}
}
