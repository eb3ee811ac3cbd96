// Package apiclienttest holds test doubles for clients of the project's
// HTTP APIs.
package apiclienttest

import (
	"net"
	"sync"
	"testing"
)

// SilentAddr listens on loopback and accepts TCP connections without ever
// reading or writing, as a stopped (SIGSTOPped) process's socket does (the
// kernel completes the TCP handshake): a plain HTTP request is taken and
// never answered, a TLS handshake never completes. It returns host:port;
// the listener and its connections close when the test ends.
func SilentAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
