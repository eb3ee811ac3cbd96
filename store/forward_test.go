package store_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// blackhole wraps one node's Config.Dial: while muted, whatever the node
// sends on its internal RPC connections is dropped silently, so requests
// stay unanswered on a live connection — what a paused (SIGSTOP) or
// partitioned leader looks like to a follower. Raft traffic passes.
type blackhole struct{ muted atomic.Bool }

func (b *blackhole) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &blackholeConn{Conn: c, b: b}, nil
}

type blackholeConn struct {
	net.Conn
	b     *blackhole
	proto byte
}

func (c *blackholeConn) Write(p []byte) (int, error) {
	if c.proto == 0 && len(p) > 0 {
		// dialProto's first byte names the protocol.
		c.proto = p[0]
		return c.Conn.Write(p)
	}
	if c.proto == 'P' && c.b.muted.Load() {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// TestForwardUnansweredEnds: a write forwarded to a leader that never
// answers ends, for a caller without a deadline, at the forward bound with
// an outcome-unknown error (ErrLeadershipLost wrapping
// context.DeadlineExceeded, which the HTTP API answers with 503); a caller
// with a deadline stops at its own. Once the leader answers again,
// forwarding works.
func TestForwardUnansweredEnds(t *testing.T) {
	holes := make([]*blackhole, 3)
	for i := range holes {
		holes[i] = &blackhole{}
	}
	c := newCluster(t, 3, nil, func(i int, cfg *store.Config) {
		cfg.Dial = holes[i].dial
		cfg.LeaderWait = 500 * time.Millisecond
	})
	leader := c.WaitForLeader()
	f := followers(c, leader)[0]
	put(t, f.Store, "warm", "up")
	holes[f.Index].muted.Store(true)

	tests := []struct {
		name     string
		deadline time.Duration // 0: none
		want     func(error) bool
	}{
		{"no deadline", 0, func(err error) bool {
			return errors.Is(err, store.ErrLeadershipLost) && errors.Is(err, context.DeadlineExceeded)
		}},
		{"caller deadline", 100 * time.Millisecond, func(err error) bool {
			return errors.Is(err, context.DeadlineExceeded)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			done := make(chan error, 1)
			go func() {
				_, _, err := f.Store.Propose(ctx, storetest.Put("unanswered", tc.name))
				done <- err
			}()
			select {
			case err := <-done:
				if !tc.want(err) {
					t.Fatalf("Propose to an unanswering leader = %v, want an outcome-unknown deadline error", err)
				}
			case <-time.After(storetest.WaitTimeout):
				t.Fatalf("Propose to an unanswering leader still waiting after %v", storetest.WaitTimeout)
			}
		})
	}

	holes[f.Index].muted.Store(false)
	put(t, f.Store, "after", "1")
}
