package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/aerolithdb/aerolith/internal/backoff"
)

// One TCP port carries raft and the store's internal RPC. The dialer writes
// one byte naming the protocol before anything else.
const (
	muxRaft byte = 'R'
	muxRPC  byte = 'P'
)

// muxHeaderTimeout bounds how long an accepted connection may take to send
// its protocol byte.
const muxHeaderTimeout = 10 * time.Second

var errMuxClosed = errors.New("listener closed")

// mux accepts connections on one listener and routes each by its first byte
// to raft (through raftLayer) or to the RPC handler.
type mux struct {
	ln     net.Listener
	log    *slog.Logger
	rpc    func(net.Conn)
	raftCh chan net.Conn
	done   chan struct{}
	dial   func(ctx context.Context, addr string) (net.Conn, error)
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func newMux(ln net.Listener, dial func(context.Context, string) (net.Conn, error), log *slog.Logger, rpc func(net.Conn)) *mux {
	if dial == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second}
		dial = func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	return &mux{
		ln: ln, log: log, rpc: rpc, dial: dial,
		raftCh: make(chan net.Conn, 16),
		done:   make(chan struct{}),
		conns:  map[net.Conn]struct{}{},
	}
}

// serve accepts until the listener is closed.
func (m *mux) serve() {
	defer m.wg.Done()
	// Transient accept failures back off as net/http's server does.
	bo := backoff.New(5*time.Millisecond, time.Second)
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || !errors.Is(err, net.ErrClosed) {
				// Transient (e.g. too many open files): back off and retry.
				delay := bo.Next()
				m.log.Warn("accept failed", "error", err, "retry_in", delay)
				select {
				case <-time.After(delay):
					continue
				case <-m.done:
					return
				}
			}
			return
		}
		bo.Reset()
		if !m.track(c) {
			c.Close()
			return
		}
		m.wg.Add(1)
		go m.route(c)
	}
}

func (m *mux) track(c net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.conns[c] = struct{}{}
	return true
}

func (m *mux) untrack(c net.Conn) {
	m.mu.Lock()
	delete(m.conns, c)
	m.mu.Unlock()
}

func (m *mux) route(c net.Conn) {
	defer m.wg.Done()
	var b [1]byte
	_ = c.SetReadDeadline(time.Now().Add(muxHeaderTimeout))
	if _, err := io.ReadFull(c, b[:]); err != nil {
		m.untrack(c)
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	switch b[0] {
	case muxRaft:
		select {
		case m.raftCh <- &trackedConn{Conn: c, m: m}:
		case <-m.done:
			m.untrack(c)
			c.Close()
		}
	case muxRPC:
		m.rpc(&trackedConn{Conn: c, m: m})
	default:
		m.log.Warn("unknown protocol on raft port", "remote", c.RemoteAddr().String(), "byte", b[0])
		m.untrack(c)
		c.Close()
	}
}

// close stops accepting, closes every accepted connection and waits for the
// routing goroutines.
func (m *mux) close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	conns := m.conns
	m.conns = nil
	m.mu.Unlock()
	err := m.ln.Close()
	for c := range conns {
		c.Close()
	}
	m.wg.Wait()
	return err
}

// dialProto dials addr and announces proto.
func (m *mux) dialProto(ctx context.Context, addr string, proto byte) (net.Conn, error) {
	c, err := m.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetWriteDeadline(dl)
	}
	if _, err := c.Write([]byte{proto}); err != nil {
		c.Close()
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	_ = c.SetWriteDeadline(time.Time{})
	return c, nil
}

// trackedConn removes itself from the mux's set when closed.
type trackedConn struct {
	net.Conn
	m    *mux
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.m.untrack(c.Conn) })
	return c.Conn.Close()
}

// raftLayer is the raft.StreamLayer over the mux.
type raftLayer struct {
	m      *mux
	addr   net.Addr
	closed chan struct{}
	once   sync.Once
}

var _ raft.StreamLayer = (*raftLayer)(nil)

func (l *raftLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.m.raftCh:
		return c, nil
	case <-l.closed:
		return nil, errMuxClosed
	case <-l.m.done:
		return nil, errMuxClosed
	}
}

func (l *raftLayer) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *raftLayer) Addr() net.Addr { return l.addr }

func (l *raftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return l.m.dialProto(ctx, string(address), muxRaft)
}

// advertiseAddr is the net.Addr raft announces as this node's address.
type advertiseAddr string

func (a advertiseAddr) Network() string { return "tcp" }
func (a advertiseAddr) String() string  { return string(a) }
