package store_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// Internal RPC method bytes (store/rpc.go) the tests cut.
const (
	methodForwardPropose byte = 1
	methodReadIndex      byte = 2
	methodLeaderApplied  byte = 3
)

// rpcFaults wraps one node's Config.Dial and breaks its outgoing internal
// RPC connections on demand: refusing new ones (nothing is ever sent), or
// cutting one right after it sent a request of a given method (the peer
// gets the request, the answer never comes back).
type rpcFaults struct {
	refuse  atomic.Bool
	cut     atomic.Int32 // method byte to cut after; 0: none
	cutOnce atomic.Bool  // disarm cut after its first use
	cuts    atomic.Int32 // requests cut so far

	mu    sync.Mutex
	conns []*faultConn
}

func (f *rpcFaults) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	fc := &faultConn{TCPConn: c.(*net.TCPConn), f: f, closed: make(chan struct{})}
	return fc, nil
}

// armCut makes the next RPC request of method (every one unless once) reach
// the peer, then half-closes the connection so the answer is lost.
func (f *rpcFaults) armCut(method byte, once bool) {
	f.cutOnce.Store(once)
	f.cut.Store(int32(method))
}

// refuseAll refuses new RPC connections and kills the open ones, waiting
// until the store has seen each of them die (it closes its side), so that
// nothing can be queued on them any more.
func (f *rpcFaults) refuseAll(t *testing.T) {
	t.Helper()
	f.refuse.Store(true)
	f.mu.Lock()
	conns := f.conns
	f.conns = nil
	f.mu.Unlock()
	for _, c := range conns {
		c.TCPConn.Close()
		select {
		case <-c.closed:
		case <-time.After(storetest.WaitTimeout):
			t.Fatal("store never noticed its RPC connection died")
		}
	}
}

type faultConn struct {
	*net.TCPConn
	f      *rpcFaults
	proto  byte
	once   sync.Once
	closed chan struct{}
	deaf   atomic.Bool
}

func (c *faultConn) Write(p []byte) (int, error) {
	if c.proto == 0 && len(p) > 0 {
		// dialProto's first byte names the protocol.
		c.proto = p[0]
		if c.proto == 'P' {
			if c.f.refuse.Load() {
				c.TCPConn.Close()
				return 0, errors.New("test: rpc connection refused")
			}
			c.f.mu.Lock()
			c.f.conns = append(c.f.conns, c)
			c.f.mu.Unlock()
		}
		return c.TCPConn.Write(p)
	}
	if c.proto != 'P' {
		return c.TCPConn.Write(p)
	}
	m := c.f.cut.Load()
	// Frame: u32 length | u64 id | u8 method | payload.
	if m == 0 || len(p) < 13 || int32(p[12]) != m || binary.BigEndian.Uint32(p) < 9 {
		return c.TCPConn.Write(p)
	}
	if c.f.cutOnce.Load() {
		c.f.cut.Store(0)
	}
	// Deaf before the request leaves, so no answer can get through.
	c.deaf.Store(true)
	n, err := c.TCPConn.Write(p)
	if err == nil {
		// The whole request reaches the peer, then EOF.
		c.f.cuts.Add(1)
		_ = c.TCPConn.CloseWrite()
	}
	// Wake a Read blocked on the connection.
	_ = c.TCPConn.SetReadDeadline(time.Now())
	return n, err
}

// Read fails once the connection was cut, dropping whatever the peer sent.
func (c *faultConn) Read(p []byte) (int, error) {
	if c.deaf.Load() {
		return 0, errCut
	}
	n, err := c.TCPConn.Read(p)
	if c.deaf.Load() {
		return 0, errCut
	}
	return n, err
}

var errCut = errors.New("test: connection cut after the request")

func (c *faultConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.TCPConn.Close()
}

// TestForwardConnectionLost: a forwarded proposal whose connection to the
// leader dies after the request was sent has an unknown outcome
// (ErrLeadershipLost; here it was in fact applied), one whose connection
// could never be made was certainly not applied (ErrNoLeader).
func TestForwardConnectionLost(t *testing.T) {
	faults := make([]*rpcFaults, 3)
	for i := range faults {
		faults[i] = &rpcFaults{}
	}
	c := newCluster(t, 3, nil, func(i int, cfg *store.Config) {
		cfg.Dial = faults[i].dial
		cfg.LeaderWait = 2 * time.Second
	})
	leader := c.WaitForLeader()
	f := followers(c, leader)[0]
	put(t, f.Store, "warm", "up")

	// Sent, answer lost.
	faults[f.Index].armCut(methodForwardPropose, true)
	_, _, err := f.Store.Propose(ctxT(t), storetest.Put("sent", "1"))
	if !errors.Is(err, store.ErrLeadershipLost) || errors.Is(err, store.ErrNoLeader) {
		t.Fatalf("Propose with the answer lost = %v, want ErrLeadershipLost", err)
	}
	if n := faults[f.Index].cuts.Load(); n != 1 {
		t.Fatalf("%d requests cut, want 1", n)
	}
	c.Eventually(func() error {
		v, ok, err := read(ctxT(t), leader.Store, store.Linearizable, "sent")
		if err != nil || !ok || v != "1" {
			return fmt.Errorf("leader read of sent = %q, %v, %v; want it applied", v, ok, err)
		}
		return nil
	})

	// Never sent: no connection can be made to the leader.
	faults[f.Index].refuseAll(t)
	_, _, err = f.Store.Propose(ctxT(t), storetest.Put("unsent", "1"))
	if !errors.Is(err, store.ErrNoLeader) || errors.Is(err, store.ErrLeadershipLost) {
		t.Fatalf("Propose with the leader unreachable = %v, want ErrNoLeader", err)
	}
	faults[f.Index].refuse.Store(false)
	put(t, f.Store, "after", "1")
	if _, ok, err := read(ctxT(t), leader.Store, store.Linearizable, "unsent"); err != nil || ok {
		t.Fatalf("leader read of unsent = present %v, %v; want absent", ok, err)
	}
}

// TestIndexRPCConnectionLost: reads are safe to repeat, so a read-index or
// leader-applied RPC whose answer is lost is asked again; when the leader
// never answers the read fails with ErrNoLeader.
func TestIndexRPCConnectionLost(t *testing.T) {
	faults := make([]*rpcFaults, 3)
	for i := range faults {
		faults[i] = &rpcFaults{}
	}
	c := newCluster(t, 3, nil, func(i int, cfg *store.Config) {
		cfg.Dial = faults[i].dial
		cfg.LeaderWait = time.Second
	})
	leader := c.WaitForLeader()
	f := followers(c, leader)[0]
	put(t, leader.Store, "k", "v")
	for _, tc := range []struct {
		cons   store.Consistency
		method byte
	}{
		{store.Linearizable, methodReadIndex},
		{store.Leader, methodLeaderApplied},
	} {
		fs := faults[f.Index]
		before := fs.cuts.Load()
		fs.armCut(tc.method, true)
		if v, ok, err := read(ctxT(t), f.Store, tc.cons, "k"); err != nil || !ok || v != "v" {
			t.Fatalf("%v read with one answer lost = %q, %v, %v; want v", tc.cons, v, ok, err)
		}
		if n := fs.cuts.Load() - before; n != 1 {
			t.Fatalf("%v read: %d requests cut, want 1", tc.cons, n)
		}
		fs.armCut(tc.method, false)
		_, _, err := read(ctxT(t), f.Store, tc.cons, "k")
		fs.cut.Store(0)
		if !errors.Is(err, store.ErrNoLeader) {
			t.Fatalf("%v read with every answer lost = %v, want ErrNoLeader", tc.cons, err)
		}
	}
}

// TestForwardWhileLeaderStops stops the leader while a follower forwards
// writes: every write fails, if at all, with an error callers (and the HTTP
// API, as 503) recognise: ErrLeadershipLost (outcome unknown) or
// ErrNoLeader, never an unclassified one.
func TestForwardWhileLeaderStops(t *testing.T) {
	c := storetest.NewCluster(t, 3)
	old := c.WaitForLeader()
	f := followers(c, old)[0]
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	var acked, failed atomic.Int32
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				_, _, err := f.Store.Propose(ctx, storetest.Put(fmt.Sprintf("w%d-%d", w, i), "v"))
				switch {
				case err == nil:
					acked.Add(1)
				case ctx.Err() != nil:
				case errors.Is(err, store.ErrLeadershipLost), errors.Is(err, store.ErrNoLeader):
					failed.Add(1)
				default:
					t.Errorf("Propose on %s while the leader stops = %v, want ErrLeadershipLost or ErrNoLeader", f.ID, err)
				}
			}
		}()
	}
	c.Eventually(func() error {
		if n := acked.Load(); n < 20 {
			return fmt.Errorf("%d writes acknowledged", n)
		}
		return nil
	})
	c.Stop(old.Index)
	c.WaitForNewLeader(old)
	before := acked.Load()
	c.Eventually(func() error {
		if n := acked.Load() - before; n < 20 {
			return fmt.Errorf("%d writes acknowledged after the new leader", n)
		}
		return nil
	})
	cancel()
	wg.Wait()
	t.Logf("%d acknowledged, %d failed with a recognised error", acked.Load(), failed.Load())
}
