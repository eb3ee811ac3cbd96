package pki

import (
	"context"
	"crypto/tls"
	"net"
	"time"
)

// PeerListener wraps ln, the raft port's listener, so that every accepted
// connection is a TLS server connection demanding a node certificate of
// r's cluster (mutual TLS). The handshake runs on the connection's first
// Read or Write, under the reader's deadline, so a slow or plain-text
// client never holds up Accept; a failed handshake fails that Read. It
// suits store.Config.Listener.
func PeerListener(ln net.Listener, r *Reloader) (net.Listener, error) {
	cfg, err := ServerConfig(r, ServerOptions{RequireNode: true})
	if err != nil {
		return nil, err
	}
	return tls.NewListener(ln, cfg), nil
}

// PeerDialer returns the dial function of the raft port's outgoing
// connections (store.Config.Dial): TLS presenting r's current node
// certificate, the server verified as a node of r's cluster. The handshake
// completes, within ctx, before the function returns.
func PeerDialer(r *Reloader) (func(ctx context.Context, addr string) (net.Conn, error), error) {
	cfg, err := ClientConfig(r, ClientOptions{RequireNode: true})
	if err != nil {
		return nil, err
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{KeepAlive: 30 * time.Second}, Config: cfg}
	return func(ctx context.Context, addr string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	}, nil
}
