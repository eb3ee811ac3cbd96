package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// rpcAwaitApplied asks a member to answer once it has applied an index
// (payload: uvarint index, uvarint wait in milliseconds); it answers its
// applied index (uvarint), which is below the index when the wait ran out.
const rpcAwaitApplied byte = 9

// maxAwaitAppliedWait bounds how long one rpcAwaitApplied holds its
// handler on the member.
const maxAwaitAppliedWait = 5 * time.Second

// AwaitApplied waits until every member of the cluster configuration
// (voters and non-voters, this node included) has applied index, asking
// each other member over the internal RPC once this node applied it. It returns nil once all have; when ctx ends
// first it returns the ids of the members that had not confirmed, sorted,
// with ctx's error. A member that cannot be reached is asked again until
// ctx ends. Removed nodes are not members and are not asked (they serve
// nothing: ErrRemoved).
func (s *Store) AwaitApplied(ctx context.Context, index uint64) (pending []string, err error) {
	r := s.raftNode()
	if r == nil {
		return nil, errors.New("store: not open")
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	// This node first: once it applied index, its configuration holds
	// every member added before the entry (one added later receives the
	// entry before it serves).
	if err := s.WaitForApplied(ctx, index); err != nil {
		if ctx.Err() != nil {
			return []string{s.cfg.NodeID}, err
		}
		return nil, err
	}
	cf := r.GetConfiguration()
	if err := cf.Error(); err != nil {
		return nil, err
	}
	var (
		mu      sync.Mutex
		waiting = map[string]bool{}
		wg      sync.WaitGroup
	)
	servers := cf.Configuration().Servers
	for _, srv := range servers {
		waiting[string(srv.ID)] = true
	}
	for _, srv := range servers {
		wg.Add(1)
		go func(srv raft.Server) {
			defer wg.Done()
			if s.awaitMember(ctx, srv, index) == nil {
				mu.Lock()
				delete(waiting, string(srv.ID))
				mu.Unlock()
			}
		}(srv)
	}
	wg.Wait()
	for id := range waiting {
		pending = append(pending, id)
	}
	if len(pending) == 0 {
		return nil, nil
	}
	sort.Strings(pending)
	if err := ctx.Err(); err != nil {
		return pending, err
	}
	return pending, fmt.Errorf("store: members %v did not confirm index %d", pending, index)
}

// awaitMember waits until member srv confirms it applied index, or ctx
// ends.
func (s *Store) awaitMember(ctx context.Context, srv raft.Server, index uint64) error {
	if string(srv.ID) == s.cfg.NodeID {
		return s.WaitForApplied(ctx, index)
	}
	for attempt := 0; ; attempt++ {
		wait := maxAwaitAppliedWait
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl))
		}
		if wait <= 0 {
			return ctx.Err()
		}
		resp, err := s.rpc.call(ctx, string(srv.Address), rpcAwaitApplied, encodeAwaitApplied(index, wait))
		if err == nil {
			if applied, n := binary.Uvarint(resp); n > 0 && applied >= index {
				return nil
			}
			continue // the member's wait ran out; ask again
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Unreachable or restarting: ask again after a short pause.
		backoff := min(time.Duration(attempt+1)*10*time.Millisecond, 200*time.Millisecond)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// handleAwaitApplied serves rpcAwaitApplied: it answers this node's applied
// index once it reaches the asked index or the asked wait ran out.
func (s *Store) handleAwaitApplied(payload []byte) ([]byte, error) {
	index, wait, err := decodeAwaitApplied(payload)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(s.ctx, wait)
	defer cancel()
	if err := s.WaitForApplied(ctx, index); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	return binary.AppendUvarint(nil, s.fsm.applied.Load()), nil
}

// encodeAwaitApplied is the payload of rpcAwaitApplied.
func encodeAwaitApplied(index uint64, wait time.Duration) []byte {
	payload := binary.AppendUvarint(nil, index)
	return binary.AppendUvarint(payload, uint64(max(wait, 0)/time.Millisecond))
}

// decodeAwaitApplied reads the payload of rpcAwaitApplied; the wait is
// capped at maxAwaitAppliedWait.
func decodeAwaitApplied(payload []byte) (index uint64, wait time.Duration, err error) {
	index, n := binary.Uvarint(payload)
	if n <= 0 {
		return 0, 0, errors.New("bad await-applied request: no index")
	}
	waitMS, m := binary.Uvarint(payload[n:])
	if m <= 0 {
		return 0, 0, errors.New("bad await-applied request: no wait")
	}
	if n+m != len(payload) {
		return 0, 0, fmt.Errorf("bad await-applied request: %d trailing bytes", len(payload)-n-m)
	}
	if waitMS > uint64(maxAwaitAppliedWait/time.Millisecond) {
		return index, maxAwaitAppliedWait, nil
	}
	return index, time.Duration(waitMS) * time.Millisecond, nil
}
