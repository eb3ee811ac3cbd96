package agent

import (
	"context"
	"errors"
	"net"
	"sync"
)

// errIsolated is what a dial answers while the node is isolated.
var errIsolated = errors.New("node isolated from its peers (fault injection)")

// isolator cuts a node off from its peers on the raft port, both ways, as a
// network partition does: while isolated, every open raft and internal RPC
// connection is closed, inbound connections are closed as soon as they are
// accepted and outbound dials fail. The HTTP data API is not affected, so
// clients (and billing) still reach the node, as with a partition between
// the nodes. Only test binaries (build tag faults) switch it; in other
// builds it stays healed and is never wrapped around the listener.
type isolator struct {
	mu       sync.Mutex
	isolated bool
	conns    map[net.Conn]struct{}
	dialer   net.Dialer
}

func newIsolator() *isolator { return &isolator{conns: map[net.Conn]struct{}{}} }

// set isolates (true) or heals (false) the node.
func (i *isolator) set(isolated bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.isolated = isolated
	if isolated {
		for c := range i.conns {
			c.Close()
		}
		clear(i.conns)
	}
}

// track records c unless the node is isolated, in which case it closes c
// and reports false.
func (i *isolator) track(c net.Conn) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.isolated {
		c.Close()
		return false
	}
	i.conns[c] = struct{}{}
	return true
}

func (i *isolator) untrack(c net.Conn) {
	i.mu.Lock()
	delete(i.conns, c)
	i.mu.Unlock()
}

// dial opens an outbound peer connection unless the node is isolated.
func (i *isolator) dial(ctx context.Context, addr string) (net.Conn, error) {
	i.mu.Lock()
	isolated := i.isolated
	i.mu.Unlock()
	if isolated {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errIsolated}
	}
	c, err := i.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if !i.track(c) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errIsolated}
	}
	return &isolatedConn{Conn: c, i: i}, nil
}

// listener wraps ln: connections accepted while isolated are closed at once.
func (i *isolator) listener(ln net.Listener) net.Listener {
	return &isolatedListener{Listener: ln, i: i}
}

type isolatedListener struct {
	net.Listener
	i *isolator
}

func (l *isolatedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.i.track(c) {
			return &isolatedConn{Conn: c, i: l.i}, nil
		}
	}
}

type isolatedConn struct {
	net.Conn
	i    *isolator
	once sync.Once
}

func (c *isolatedConn) Close() error {
	c.once.Do(func() { c.i.untrack(c.Conn) })
	return c.Conn.Close()
}
