package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestIsolator checks the partition the fault-injection build switches:
// isolating closes open peer connections both ways, refuses dials and
// closes inbound connections at once; healing restores both directions.
func TestIsolator(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	iso := newIsolator()
	ln := iso.listener(raw)
	defer ln.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr := raw.Addr().String()

	// Healthy: an outbound dial through the isolator and an inbound
	// connection from a plain dialer both work.
	out, err := iso.dial(ctx, addr)
	if err != nil {
		t.Fatalf("dial while healthy: %v", err)
	}
	in := <-accepted
	roundTrip(t, out, in)
	var d net.Dialer
	plain, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	in2 := <-accepted
	roundTrip(t, plain, in2)

	iso.set(true)
	// Open connections are cut: the plain peer's read sees the close.
	_ = plain.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := plain.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("read on a connection cut by isolation = %v, want EOF or reset", err)
	}
	if _, err := iso.dial(ctx, addr); !errors.Is(err, errIsolated) {
		t.Errorf("dial while isolated = %v, want %v", err, errIsolated)
	}
	// Inbound connections are closed as soon as they are accepted.
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("read on an inbound connection while isolated = %v, want EOF or reset", err)
	}
	c.Close()

	iso.set(false)
	out, err = iso.dial(ctx, addr)
	if err != nil {
		t.Fatalf("dial after healing: %v", err)
	}
	defer out.Close()
	roundTrip(t, out, <-accepted)
}

func roundTrip(t *testing.T, a, b net.Conn) {
	t.Helper()
	if _, err := a.Write([]byte("x")); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, 1)
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(b, buf); err != nil || buf[0] != 'x' {
		t.Fatalf("read = %q, %v; want x", buf, err)
	}
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}
