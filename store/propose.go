package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// errRetry marks failures where the command was certainly not appended to
// the log (the node was not leader, a transfer was in progress), so Propose
// may safely try again against the current leader.
type errRetry struct{ err error }

func (e errRetry) Error() string { return e.err.Error() }
func (e errRetry) Unwrap() error { return e.err }

func isRetry(err error) bool {
	var r errRetry
	return errors.As(err, &r)
}

// maxInflightEntries bounds the raft entries the leader's batcher keeps in
// flight; see batcher.window. Each entry's future resolves only after it is
// committed and applied, so the window also spans follower fsync and apply.
// A wider window only pays off once requests cross processes and the
// network (in one process BenchmarkPropose cannot tell 1, 2 and 4 apart);
// docs/benchmarks.md has the figures that chose 8.
const maxInflightEntries = 8

// proposal is one command waiting for its result.
type proposal struct {
	cmd       []byte
	done      chan struct{}
	result    []byte
	index     uint64
	err       error
	abandoned atomic.Bool
}

func newProposal(cmd []byte) *proposal {
	return &proposal{cmd: cmd, done: make(chan struct{})}
}

func (p *proposal) finish(result []byte, index uint64, err error) {
	p.result, p.index, p.err = result, index, err
	close(p.done)
}

// queue is a proposal queue drained by one goroutine.
type queue struct {
	mu     sync.Mutex
	items  []*proposal
	wake   chan struct{}
	closed bool
}

func newQueue() queue { return queue{wake: make(chan struct{}, 1)} }

func (q *queue) push(ps ...*proposal) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.items = append(q.items, ps...)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// take removes up to maxN proposals totalling about maxBytes, skipping
// abandoned ones.
func (q *queue) take(maxN, maxBytes int) []*proposal {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*proposal
	size, i := 0, 0
	for ; i < len(q.items) && len(out) < maxN; i++ {
		p := q.items[i]
		if p.abandoned.Load() {
			q.items[i] = nil
			continue
		}
		if len(out) > 0 && size+len(p.cmd) > maxBytes {
			break
		}
		out = append(out, p)
		size += len(p.cmd)
		q.items[i] = nil
	}
	q.items = q.items[i:]
	if len(q.items) == 0 {
		q.items = q.items[:0:0]
	}
	return out
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// shut refuses new proposals and returns the queued ones.
func (q *queue) shut() []*proposal {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	items := q.items
	q.items = nil
	return items
}

// batcher packs queued proposals into raft entries on the leader. It never
// waits to fill a batch: it takes what is queued and hands it to raft, with
// many entries in flight; waitLoop hands back results in log order.
type batcher struct {
	s        *Store
	q        queue
	inflight chan flight
	// window bounds the entries in flight (appended, not yet applied).
	// When it is full, proposals queue up and the next entry carries all
	// of them: batches grow with load without any timer.
	window chan struct{}
}

type flight struct {
	fut   raft.ApplyFuture
	props []*proposal
}

func newBatcher(s *Store) *batcher {
	return &batcher{s: s, q: newQueue(), inflight: make(chan flight, maxInflightEntries), window: make(chan struct{}, maxInflightEntries)}
}

func (b *batcher) run() {
	defer close(b.inflight)
	for {
		select {
		case <-b.s.ctx.Done():
			// Never handed to raft: safe to retry elsewhere.
			for _, p := range b.q.shut() {
				p.finish(nil, 0, errRetry{ErrClosed})
			}
			return
		case <-b.q.wake:
		}
	send:
		for b.q.len() > 0 {
			select {
			case b.window <- struct{}{}:
			case <-b.s.ctx.Done():
				break send // the outer loop fails what is queued
			}
			props := b.q.take(b.s.cfg.MaxBatch, batchBytesLimit)
			if len(props) == 0 {
				<-b.window
				break
			}
			cmds := make([][]byte, len(props))
			for i, p := range props {
				cmds[i] = p.cmd
			}
			fut := b.s.raftNode().Apply(encodeBatch(cmds), 0)
			b.inflight <- flight{fut: fut, props: props}
		}
	}
}

func (b *batcher) waitLoop() {
	for f := range b.inflight {
		err := f.fut.Error()
		<-b.window
		if err != nil {
			err = mapApplyError(err)
			for _, p := range f.props {
				p.finish(nil, 0, err)
			}
			continue
		}
		idx := f.fut.Index()
		switch resp := f.fut.Response().(type) {
		case *batchResult:
			for i, p := range f.props {
				if i < len(resp.results) {
					p.finish(resp.results[i], idx, nil)
				} else {
					p.finish(nil, idx, fmt.Errorf("%w: missing result", errCorruptEntry))
				}
			}
		case error:
			for _, p := range f.props {
				p.finish(nil, idx, resp)
			}
		default:
			for _, p := range f.props {
				p.finish(nil, idx, fmt.Errorf("unexpected apply response %T", resp))
			}
		}
	}
}

// idle reports whether nothing is queued or in flight.
func (b *batcher) idle() bool {
	return len(b.window) == 0 && b.q.len() == 0
}

// nudgeFollowers makes the leader append a no-op entry when nothing else is
// queued, so followers learn the current commit index from that entry's
// AppendEntries at once rather than after CommitTimeout (raft's heartbeats
// do not carry it). Followers waiting for a read index gain at low load;
// under load entries flow anyway. Forwarded writes need no nudge: they
// return once the leader applied them. No-ops skip the
// state file (see fsm.ApplyBatch), so a nudge costs only log appends.
func (s *Store) nudgeFollowers() {
	if s.batcher.q.len() > 0 || len(s.batcher.window) > 1 || !s.nudging.CompareAndSwap(false, true) {
		return
	}
	go func() {
		_ = s.raftNode().Apply([]byte{entryNoop}, 0).Error()
		s.nudging.Store(false)
	}()
}

// mapApplyError translates raft's errors for an Apply future.
func mapApplyError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return errRetry{fmt.Errorf("%w: %v", ErrNotLeader, err)}
	case errors.Is(err, raft.ErrLeadershipLost):
		return ErrLeadershipLost
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	}
	return err
}

// Propose replicates cmd and returns the StateMachine's result for it and
// the raft index of the entry that carried it. It returns after the entry is
// committed and applied on the leader. A following Linearizable or Leader
// View on any node sees the write; a Stale View sees it once that node
// applied index (WaitForApplied), which on the leader is already the case.
// Concurrent calls are coalesced into shared raft entries. On a follower the
// command is forwarded to the leader (coalesced into shared RPCs).
//
// Errors: ErrTooLarge (cmd above MaxCommandBytes), ErrNoLeader (no leader
// within Config.LeaderWait), ErrLeadershipLost (outcome unknown; also when a
// leader never answered a forwarded command within the larger of LeaderWait
// and three ElectionTimeouts, then wrapping context.DeadlineExceeded too),
// ErrRemoved (this node was removed from the cluster), ErrClosed,
// or ctx's error (outcome unknown once the command was sent).
func (s *Store) Propose(ctx context.Context, cmd []byte) (result []byte, index uint64, err error) {
	if len(cmd) > s.cfg.MaxCommandBytes {
		return nil, 0, fmt.Errorf("%w: %d bytes, limit %d (MaxCommandBytes)", ErrTooLarge, len(cmd), s.cfg.MaxCommandBytes)
	}
	if s.raftNode() == nil {
		return nil, 0, errors.New("store: not open")
	}
	s.metrics.proposals.Inc()
	s.pending.Add(1)
	start := time.Now()
	defer func() {
		s.pending.Add(-1)
		if err != nil {
			s.metrics.proposalsFailed.Inc()
		} else {
			s.metrics.proposeDuration.Observe(time.Since(start).Seconds())
		}
	}()
	var deadline time.Time
	for attempt := 0; ; attempt++ {
		if s.closed.Load() {
			return nil, 0, ErrClosed
		}
		if s.removed() {
			return nil, 0, ErrRemoved
		}
		ch := s.changeCh()
		result, index, err = s.proposeOnce(ctx, cmd)
		if err == nil || !isRetry(err) {
			return result, index, err
		}
		// Not appended anywhere: wait for a leader change, then retry,
		// within LeaderWait.
		if deadline.IsZero() {
			deadline = time.Now().Add(s.cfg.LeaderWait)
		} else if time.Now().After(deadline) {
			return nil, 0, fmt.Errorf("%w: %v", ErrNoLeader, err)
		}
		backoff := min(time.Duration(attempt+1)*5*time.Millisecond, 100*time.Millisecond)
		if werr := s.waitChange(ctx, ch, backoff); werr != nil {
			return nil, 0, werr
		}
	}
}

func (s *Store) proposeOnce(ctx context.Context, cmd []byte) ([]byte, uint64, error) {
	if s.IsLeader() {
		p := newProposal(cmd)
		if err := s.batcher.q.push(p); err != nil {
			return nil, 0, err
		}
		return s.awaitProposal(ctx, p)
	}
	_, addr, err := s.awaitLeader(ctx)
	if err != nil {
		return nil, 0, err
	}
	if addr == s.cfg.AdvertiseAddr {
		// We are the leader by address but not (or no longer) by state.
		return nil, 0, errRetry{ErrNotLeader}
	}
	p := newProposal(cmd)
	if err := s.forwarder.q.push(p); err != nil {
		return nil, 0, err
	}
	// No wait for this node's own apply: linearizable and leader reads on
	// any node already see the write (their read index covers it); a
	// stale read here may not until the entry reaches this node. Callers
	// that need that can WaitForApplied(index) themselves.
	return s.awaitProposal(ctx, p)
}

func (s *Store) awaitProposal(ctx context.Context, p *proposal) ([]byte, uint64, error) {
	select {
	case <-p.done:
		return p.result, p.index, p.err
	case <-ctx.Done():
		p.abandoned.Store(true)
		return nil, 0, ctx.Err()
	}
}

// proposeBatchLocal submits cmds to the leader's batcher and waits for all
// of them; it serves forwarded proposals.
func (s *Store) proposeBatchLocal(ctx context.Context, cmds [][]byte) ([]*proposal, error) {
	if !s.IsLeader() {
		return nil, ErrNotLeader
	}
	props := make([]*proposal, len(cmds))
	for i, c := range cmds {
		if len(c) > s.cfg.MaxCommandBytes {
			return nil, fmt.Errorf("%w: command %d has %d bytes, limit %d", ErrTooLarge, i, len(c), s.cfg.MaxCommandBytes)
		}
		props[i] = newProposal(c)
	}
	if err := s.batcher.q.push(props...); err != nil {
		return nil, err
	}
	for _, p := range props {
		select {
		case <-p.done:
		case <-ctx.Done():
			// Some commands may be committed already.
			return nil, fmt.Errorf("%w: leader shutting down", ErrLeadershipLost)
		}
	}
	return props, nil
}
