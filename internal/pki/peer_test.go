package pki

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// echoOnce accepts connections on ln and echoes the first byte of each;
// the error of each connection's read goes to errs.
func echoOnce(ln net.Listener, errs chan<- error) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(time.Minute))
			var b [1]byte
			if _, err := io.ReadFull(c, b[:]); err != nil {
				errs <- err
				return
			}
			_, err := c.Write(b[:])
			errs <- err
		}()
	}
}

func TestPeerListenerAndDialer(t *testing.T) {
	env := newEnv(t, "c-1", "")
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := PeerListener(raw, env.node(t, "n1"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errs := make(chan error, 8)
	go echoOnce(ln, errs)
	addr := raw.Addr().String()
	ctx := context.Background()

	// A node of the cluster gets through.
	dial, err := PeerDialer(env.node(t, "n2"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := dial(ctx, addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if _, err := c.Write([]byte{'R'}); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil || b[0] != 'R' {
		t.Fatalf("echo = %q, %v", b, err)
	}
	c.Close()
	if err := <-errs; err != nil {
		t.Fatalf("server: %v", err)
	}

	// A node of another cluster's CA is refused by both sides.
	foreignDial, err := PeerDialer(newEnv(t, "c-2", "").node(t, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := foreignDial(ctx, addr); err == nil {
		c.Close()
		t.Error("a foreign node's dial succeeded")
	}
	if err := <-errs; err == nil || !strings.Contains(err.Error(), "bad certificate") {
		t.Errorf("server read from a foreign node: %v, want a failed handshake", err)
	}

	// Plain TCP (the raft protocol byte, unencrypted) never reaches the
	// application.
	pc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pc.Write([]byte("R\x00\x00\x00\x00\x00\x00\x00\x00"))
	if err := <-errs; err == nil || !strings.Contains(err.Error(), "first record does not look like a TLS handshake") {
		t.Errorf("server read from a plain-text client: %v, want a failed handshake", err)
	}
	pc.Close()

	if _, err := PeerListener(raw, loadCAOnly(t, env)); err == nil {
		t.Error("PeerListener without a certificate succeeded")
	}
}

// loadCAOnly returns a Reloader with env's CA bundle and no certificate.
func loadCAOnly(t *testing.T, env testEnv) *Reloader {
	t.Helper()
	dir := t.TempDir()
	if err := WriteCert(dir, nil, nil, env.ca.CertPEM()); err != nil {
		t.Fatal(err)
	}
	r, err := LoadReloader(ReloaderConfig{CAFile: dir + "/" + CACertFile})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
