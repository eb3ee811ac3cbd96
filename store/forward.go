package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// maxForwardInFlight bounds the forward-propose RPCs a follower keeps in
// flight to the leader.
const maxForwardInFlight = 64

// forwardTimeout bounds one forward-propose RPC: a leader that is paused
// (SIGSTOP), partitioned away behind a live connection or whose RPC handler
// is stuck never answers, and without a bound every write forwarded to it
// would wait forever (callers without a deadline) and the in-flight RPC
// slots would fill up. The bound is the larger of LeaderWait and three
// election timeouts: well above any commit under load, and long enough for
// the rest of the cluster to elect another leader. A forward that hits it
// fails with an error that wraps both ErrLeadershipLost (outcome unknown:
// the leader may still commit the batch) and context.DeadlineExceeded.
// Callers with an earlier deadline stop waiting at their own deadline
// (Propose then returns their context's error); the RPC itself still ends
// at forwardTimeout.
func (s *Store) forwardTimeout() time.Duration {
	return max(s.cfg.LeaderWait, 3*s.cfg.ElectionTimeout)
}

// forwarder packs proposals made on a follower into forward-propose RPCs to
// the leader: one RPC carries up to MaxBatch commands, and several RPCs are
// in flight on the one multiplexed connection.
type forwarder struct {
	s   *Store
	q   queue
	sem chan struct{}

	// removal records whether this node was removed from the cluster;
	// read it through Store.removed.
	removal removal
}

func newForwarder(s *Store) *forwarder {
	return &forwarder{s: s, q: newQueue(), sem: make(chan struct{}, maxForwardInFlight)}
}

func (f *forwarder) run() {
	for {
		select {
		case <-f.s.ctx.Done():
			for _, p := range f.q.shut() {
				p.finish(nil, 0, ErrClosed)
			}
			// Wait for in-flight RPCs to hand back their results.
			for range maxForwardInFlight {
				f.sem <- struct{}{}
			}
			return
		case <-f.q.wake:
		}
		for {
			props := f.q.take(f.s.cfg.MaxBatch, batchBytesLimit)
			if len(props) == 0 {
				break
			}
			select {
			case f.sem <- struct{}{}:
			case <-f.s.ctx.Done():
				for _, p := range props {
					p.finish(nil, 0, ErrClosed)
				}
				continue
			}
			go func() {
				defer func() { <-f.sem }()
				f.send(props)
			}()
		}
	}
}

// send forwards one batch and hands each proposal its result.
func (f *forwarder) send(props []*proposal) {
	fail := func(err error) {
		for _, p := range props {
			p.finish(nil, 0, err)
		}
	}
	s := f.s
	_, addr := s.Leader()
	switch {
	case addr == "":
		fail(errRetry{ErrNoLeader})
		return
	case addr == s.cfg.AdvertiseAddr:
		fail(errRetry{ErrNotLeader})
		return
	}
	cmds := make([][]byte, len(props))
	for i, p := range props {
		cmds[i] = p.cmd
	}
	s.metrics.forwardRPCs.Inc()
	s.metrics.forwarded.Add(float64(len(props)))
	timeout := s.forwardTimeout()
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	resp, err := s.rpc.call(ctx, addr, rpcForwardPropose, encodeBatch(cmds))
	cancel()
	if err != nil {
		fail(forwardError(s, addr, timeout, err))
		return
	}
	if err := decodeForwardResponse(resp, props); err != nil {
		fail(fmt.Errorf("forward to leader %s: %w", addr, err))
	}
}

// forwardError classifies the failure of a forward-propose RPC by what the
// leader may have done with the batch.
func forwardError(s *Store, addr string, timeout time.Duration, err error) error {
	switch {
	case s.ctx.Err() != nil:
		return ErrClosed
	case isRetry(err):
		// Never sent (dial failure, connection already down): certainly
		// not applied. Propose retries against the next leader and
		// reports ErrNoLeader if none answers within LeaderWait.
		return errRetry{fmt.Errorf("forward to leader %s: %w", addr, unwrapRetry(err))}
	case errors.Is(err, context.DeadlineExceeded):
		// Maybe sent, never answered (leader paused, partitioned, or
		// stuck): the leader may still commit any of the batch.
		return fmt.Errorf("%w: forward to leader %s: no answer within %v: %w", ErrLeadershipLost, addr, timeout, err)
	case errors.Is(err, ErrNotLeader), errors.Is(err, ErrClosed):
		// The leader refused the whole batch (not leader, or closing)
		// before proposing any of it.
		return errRetry{err}
	case rpcUnanswered(err):
		// Sent, but the connection died before the answer (typically the
		// leader stopped): the leader may have committed any of the batch.
		return fmt.Errorf("%w: forward to leader %s: %v", ErrLeadershipLost, addr, err)
	}
	return fmt.Errorf("forward to leader %s: %w", addr, err)
}

// handleForwardPropose serves a forwarded batch on the leader.
func (s *Store) handleForwardPropose(payload []byte) ([]byte, error) {
	if len(payload) == 0 || payload[0] != entryBatch {
		return nil, fmt.Errorf("%w: bad forward request", errCorruptEntry)
	}
	var cmds [][]byte
	if _, err := decodeBatch(payload[1:], func(_ int, cmd []byte) { cmds = append(cmds, cmd) }); err != nil {
		return nil, err
	}
	props, err := s.proposeBatchLocal(s.ctx, cmds)
	if err != nil {
		return nil, err
	}

	n := binary.MaxVarintLen64
	for _, p := range props {
		n += 1 + 3*binary.MaxVarintLen64 + len(p.result)
	}
	out := make([]byte, 0, n)
	out = binary.AppendUvarint(out, uint64(len(props)))
	for _, p := range props {
		st := statusOf(p.err)
		if p.err != nil && isRetry(p.err) {
			st = statusNotLeader
		}
		out = append(out, st)
		if st == statusOK {
			out = binary.AppendUvarint(out, p.index)
			out = binary.AppendUvarint(out, uint64(len(p.result)))
			out = append(out, p.result...)
		} else {
			msg := p.err.Error()
			out = binary.AppendUvarint(out, uint64(len(msg)))
			out = append(out, msg...)
		}
	}
	return out, nil
}

func decodeForwardResponse(b []byte, props []*proposal) error {
	type item struct {
		data []byte
		idx  uint64
		err  error
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n != uint64(len(props)) {
		return fmt.Errorf("bad forward response: %d results for %d commands", n, len(props))
	}
	b = b[k:]
	items := make([]item, len(props))
	for i := range props {
		if len(b) < 1 {
			return fmt.Errorf("bad forward response: truncated at %d", i)
		}
		st := b[0]
		b = b[1:]
		var idx uint64
		if st == statusOK {
			if idx, k = binary.Uvarint(b); k <= 0 {
				return fmt.Errorf("bad forward response: index %d", i)
			}
			b = b[k:]
		}
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return fmt.Errorf("bad forward response: length %d", i)
		}
		data := b[k : k+int(l)]
		b = b[k+int(l):]
		if l == 0 {
			data = nil
		}
		if st == statusOK {
			items[i] = item{data: data, idx: idx}
			continue
		}
		var err error = &remoteError{status: st, msg: string(data)}
		switch st {
		case statusNotLeader:
			err = errRetry{err}
		case statusClosed:
			// Raft shut down under the command: outcome unknown.
			err = fmt.Errorf("%w: leader shut down: %s", ErrLeadershipLost, data)
		}
		items[i] = item{err: err}
	}
	for i, p := range props {
		p.finish(items[i].data, items[i].idx, items[i].err)
	}
	return nil
}
