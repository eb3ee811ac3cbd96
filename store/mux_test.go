package store

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMuxRoutes checks that the first byte of a connection picks raft or
// RPC and that anything else is closed.
func TestMuxRoutes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rpcConns := make(chan net.Conn, 1)
	m := newMux(ln, nil, slog.New(slog.DiscardHandler), func(c net.Conn) { rpcConns <- c })
	m.wg.Add(1)
	go m.serve()
	defer m.close()
	layer := &raftLayer{m: m, addr: advertiseAddr(ln.Addr().String()), closed: make(chan struct{})}
	ctx := context.Background()

	rc, err := layer.Dial("ignored-by-mux-test", time.Second)
	if err == nil {
		rc.Close()
		t.Fatalf("dial of a bad address succeeded")
	}
	if _, err := m.dialProto(ctx, ln.Addr().String(), muxRaft); err != nil {
		t.Fatal(err)
	}
	if c, err := layer.Accept(); err != nil || c == nil {
		t.Fatalf("raft Accept = %v, %v", c, err)
	}
	if _, err := m.dialProto(ctx, ln.Addr().String(), muxRPC); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-rpcConns:
		c.Close()
	case <-time.After(30 * time.Second):
		t.Fatal("rpc connection not routed")
	}
	bad, err := m.dialProto(ctx, ln.Addr().String(), 'X')
	if err != nil {
		t.Fatal(err)
	}
	bad.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := bad.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read on unknown protocol = %v, want EOF (closed)", err)
	}
	// After close, Accept fails and tracked connections are closed.
	m.close()
	if _, err := layer.Accept(); err == nil {
		t.Fatalf("Accept after close succeeded")
	}
}

func TestFrameLimits(t *testing.T) {
	var buf strings.Builder
	buf.Write(appendFrame(nil, 7, rpcReadIndex, []byte("hello")))
	id, code, payload, err := readFrame(bufio.NewReader(strings.NewReader(buf.String())), 16)
	if err != nil || id != 7 || code != rpcReadIndex || string(payload) != "hello" {
		t.Fatalf("readFrame = %d %d %q %v", id, code, payload, err)
	}
	if _, _, _, err := readFrame(bufio.NewReader(strings.NewReader(buf.String())), 4); err == nil {
		t.Fatalf("readFrame accepted a payload above the limit")
	}
}

func TestSlogWriter(t *testing.T) {
	var mu sync.Mutex
	var got []string
	h := &captureHandler{f: func(level slog.Level, msg string) {
		mu.Lock()
		got = append(got, level.String()+" "+msg)
		mu.Unlock()
	}}
	hl := newHCLogger(slog.New(h))
	hl.Info("chatter")
	hl.Warn("careful", "peer", "n2")
	hl.Error("broken")
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "WARN careful" || got[1] != "ERROR broken" {
		t.Fatalf("forwarded %q, want the warning and the error only", got)
	}
}

type captureHandler struct{ f func(slog.Level, string) }

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.f(r.Level, r.Message)
	return nil
}
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *captureHandler) WithGroup(string) slog.Handler      { return h }
