package store

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"
)

// Internal RPC: length-prefixed frames with request ids, so many requests
// are in flight on one connection and responses come back in any order.
//
//	request:  u32 length | u64 id | u8 method | payload
//	response: u32 length | u64 id | u8 status | payload (result or error text)
//
// length counts everything after itself.
const (
	rpcForwardPropose byte = 1
	rpcReadIndex      byte = 2
	rpcLeaderApplied  byte = 3
	rpcJoin           byte = 4
	rpcRemove         byte = 5
	rpcNodeInfo       byte = 6
	rpcRemoved        byte = 7 // leader → removed node: you were removed
	rpcMemberCheck    byte = 8 // node → leader: am I still a member?
)

// Response status codes; non-zero codes carry an error message and map back
// to the sentinel errors so errors.Is works across nodes.
const (
	statusOK byte = iota
	statusError
	statusNotLeader
	statusNoLeader
	statusNotReady
	statusClosed
	statusTooLarge
	statusLeadershipLost
	statusRemoved
	statusNodeHasState
)

const rpcHeaderLen = 4 + 8 + 1

// errRPCConnClosed marks a call whose connection failed. Wrapped in
// errRetry (isRetry), the request was never handed to the connection (dial
// failure, connection already down) and the peer certainly did not see it;
// otherwise it was sent and the answer was lost (rpcUnanswered), so the
// peer may have acted on it.
var errRPCConnClosed = errors.New("rpc connection failed")

// rpcUnanswered reports whether a call was sent but its connection failed
// before the answer arrived: the peer may or may not have acted on it.
func rpcUnanswered(err error) bool { return !isRetry(err) && errors.Is(err, errRPCConnClosed) }

func statusOf(err error) byte {
	switch {
	case err == nil:
		return statusOK
	case errors.Is(err, ErrNotLeader):
		return statusNotLeader
	case errors.Is(err, ErrNoLeader):
		return statusNoLeader
	case errors.Is(err, ErrNotReady):
		return statusNotReady
	case errors.Is(err, ErrClosed):
		return statusClosed
	case errors.Is(err, ErrTooLarge):
		return statusTooLarge
	case errors.Is(err, ErrLeadershipLost):
		return statusLeadershipLost
	case errors.Is(err, ErrRemoved):
		return statusRemoved
	case errors.Is(err, ErrNodeHasState):
		return statusNodeHasState
	}
	return statusError
}

// remoteError is an error reported by another node.
type remoteError struct {
	status byte
	msg    string
}

func (e *remoteError) Error() string { return e.msg }

func (e *remoteError) Unwrap() error {
	switch e.status {
	case statusNotLeader:
		return ErrNotLeader
	case statusNoLeader:
		return ErrNoLeader
	case statusNotReady:
		return ErrNotReady
	case statusClosed:
		return ErrClosed
	case statusTooLarge:
		return ErrTooLarge
	case statusLeadershipLost:
		return ErrLeadershipLost
	case statusRemoved:
		return ErrRemoved
	case statusNodeHasState:
		return ErrNodeHasState
	}
	return nil
}

func appendFrame(buf []byte, id uint64, code byte, payload []byte) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(9+len(payload)))
	buf = binary.BigEndian.AppendUint64(buf, id)
	buf = append(buf, code)
	return append(buf, payload...)
}

// readFrame reads one frame; maxLen bounds the payload.
func readFrame(r *bufio.Reader, maxLen int) (id uint64, code byte, payload []byte, err error) {
	var hdr [rpcHeaderLen]byte
	if _, err = io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 9 || int64(n)-9 > int64(maxLen) {
		return 0, 0, nil, fmt.Errorf("rpc frame of %d bytes exceeds limit %d", n, maxLen)
	}
	id = binary.BigEndian.Uint64(hdr[4:12])
	code = hdr[12]
	payload, err = readPayload(r, int(n-9))
	if err != nil {
		return 0, 0, nil, err
	}
	return id, code, payload, nil
}

// frameChunk is the most a frame's payload buffer grows by before the
// bytes arrive: a peer that announces a large frame and stalls holds only
// what it sent, not the announced size.
const frameChunk = 1 << 20

// readPayload reads n bytes, growing the buffer as they arrive.
func readPayload(r io.Reader, n int) ([]byte, error) {
	if n <= frameChunk {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	b := make([]byte, 0, frameChunk)
	for len(b) < n {
		k := min(n-len(b), frameChunk)
		b = slices.Grow(b, k)
		m, err := io.ReadFull(r, b[len(b):len(b)+k])
		b = b[:len(b)+m]
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// frameWriter owns the write side of a connection: frames are queued and
// flushed together, so one syscall carries many small frames under load.
type frameWriter struct {
	c    net.Conn
	out  chan []byte
	dead chan struct{}
	once sync.Once
	err  error
}

func newFrameWriter(c net.Conn) *frameWriter {
	w := &frameWriter{c: c, out: make(chan []byte, 512), dead: make(chan struct{})}
	go w.run()
	return w
}

func (w *frameWriter) run() {
	bw := bufio.NewWriterSize(w.c, 64<<10)
	for {
		var f []byte
		select {
		case f = <-w.out:
		case <-w.dead:
			return
		}
		if _, err := bw.Write(f); err != nil {
			w.fail(err)
			return
		}
		if len(w.out) == 0 {
			if err := bw.Flush(); err != nil {
				w.fail(err)
				return
			}
		}
	}
}

func (w *frameWriter) fail(err error) {
	w.once.Do(func() {
		w.err = err
		close(w.dead)
		w.c.Close()
	})
}

// send queues a frame; it fails once the connection is dead.
func (w *frameWriter) send(ctx context.Context, f []byte) error {
	select {
	case w.out <- f:
		return nil
	case <-w.dead:
		return errRPCConnClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// rpcClient holds one multiplexed connection to one peer, redialled on
// demand after a failure.
type rpcClient struct {
	addr     string
	dial     func(ctx context.Context) (net.Conn, error)
	maxFrame int

	mu   sync.Mutex
	conn *clientConn
}

type clientConn struct {
	w       *frameWriter
	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan rpcResponse
}

type rpcResponse struct {
	status  byte
	payload []byte
	err     error
}

func (cl *rpcClient) getConn(ctx context.Context) (*clientConn, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cc := cl.conn; cc != nil {
		select {
		case <-cc.w.dead:
		default:
			return cc, nil
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := cl.dial(dctx)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", cl.addr, err)
	}
	cc := &clientConn{w: newFrameWriter(c), pending: map[uint64]chan rpcResponse{}}
	go cc.readLoop(c, cl.maxFrame)
	cl.conn = cc
	return cc, nil
}

func (cc *clientConn) readLoop(c net.Conn, maxFrame int) {
	r := bufio.NewReaderSize(c, 64<<10)
	var err error
	for {
		var id uint64
		var status byte
		var payload []byte
		id, status, payload, err = readFrame(r, maxFrame)
		if err != nil {
			break
		}
		cc.mu.Lock()
		ch := cc.pending[id]
		delete(cc.pending, id)
		cc.mu.Unlock()
		if ch != nil {
			ch <- rpcResponse{status: status, payload: payload}
		}
	}
	cc.w.fail(err)
	cc.mu.Lock()
	pending := cc.pending
	cc.pending = nil
	cc.mu.Unlock()
	for _, ch := range pending {
		ch <- rpcResponse{err: fmt.Errorf("%w before the answer: %w", errRPCConnClosed, err)}
	}
}

// call sends one request and waits for its response. A non-OK status is
// returned as a *remoteError.
func (cl *rpcClient) call(ctx context.Context, method byte, payload []byte) ([]byte, error) {
	cc, err := cl.getConn(ctx)
	if err != nil {
		// Nothing was sent.
		return nil, errRetry{fmt.Errorf("%w: %w", errRPCConnClosed, err)}
	}
	ch := make(chan rpcResponse, 1)
	cc.mu.Lock()
	if cc.pending == nil {
		cc.mu.Unlock()
		return nil, errRetry{errRPCConnClosed}
	}
	cc.nextID++
	id := cc.nextID
	cc.pending[id] = ch
	cc.mu.Unlock()
	frame := appendFrame(make([]byte, 0, rpcHeaderLen+len(payload)), id, method, payload)
	if err := cc.w.send(ctx, frame); err != nil {
		cc.forget(id)
		if errors.Is(err, errRPCConnClosed) {
			return nil, errRetry{err}
		}
		return nil, err
	}
	select {
	case resp := <-ch:
		if resp.err != nil {
			return nil, resp.err
		}
		if resp.status != statusOK {
			return nil, &remoteError{status: resp.status, msg: string(resp.payload)}
		}
		return resp.payload, nil
	case <-ctx.Done():
		cc.forget(id)
		return nil, ctx.Err()
	}
}

func (cc *clientConn) forget(id uint64) {
	cc.mu.Lock()
	if cc.pending != nil {
		delete(cc.pending, id)
	}
	cc.mu.Unlock()
}

func (cl *rpcClient) close() {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.conn != nil {
		cl.conn.w.fail(errRPCConnClosed)
		cl.conn = nil
	}
}

// rpcClients keeps one rpcClient per peer address.
type rpcClients struct {
	m        *mux
	maxFrame int
	mu       sync.Mutex
	byAddr   map[string]*rpcClient
	closed   bool
}

func (p *rpcClients) get(addr string) (*rpcClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if cl, ok := p.byAddr[addr]; ok {
		return cl, nil
	}
	cl := &rpcClient{addr: addr, maxFrame: p.maxFrame, dial: func(ctx context.Context) (net.Conn, error) {
		return p.m.dialProto(ctx, addr, muxRPC)
	}}
	p.byAddr[addr] = cl
	return cl, nil
}

func (p *rpcClients) call(ctx context.Context, addr string, method byte, payload []byte) ([]byte, error) {
	cl, err := p.get(addr)
	if err != nil {
		return nil, err
	}
	return cl.call(ctx, method, payload)
}

func (p *rpcClients) close() {
	p.mu.Lock()
	p.closed = true
	clients := p.byAddr
	p.byAddr = nil
	p.mu.Unlock()
	for _, cl := range clients {
		cl.close()
	}
}

// serveRPC serves one incoming RPC connection: each request runs in its own
// goroutine, responses share the connection's frameWriter.
func (s *Store) serveRPC(c net.Conn) {
	w := newFrameWriter(c)
	r := bufio.NewReaderSize(c, 64<<10)
	var wg sync.WaitGroup
	for {
		id, method, payload, err := readFrame(r, s.maxFrame)
		if err != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.handleRPC(method, payload)
			var frame []byte
			if err != nil {
				frame = appendFrame(nil, id, statusOf(err), []byte(err.Error()))
			} else {
				frame = appendFrame(make([]byte, 0, rpcHeaderLen+len(res)), id, statusOK, res)
			}
			_ = w.send(s.ctx, frame)
		}()
	}
	w.fail(errRPCConnClosed)
	wg.Wait()
}
