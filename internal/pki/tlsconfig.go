package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ServerOptions tunes ServerConfig.
type ServerOptions struct {
	// RequireClientCert makes the server demand a client certificate that
	// chains to the current CA bundle (mutual TLS).
	RequireClientCert bool
	// RequireNode also demands that the client certificate be a node
	// certificate of the cluster (raft, the store's internal RPC). It
	// implies RequireClientCert.
	RequireNode bool
}

// ServerConfig returns a tls.Config for a listener: TLS 1.2 or later (1.3
// preferred, as Go negotiates), serving r's current certificate, and with
// RequireClientCert or RequireNode verifying each client against r's
// current CA bundle during the handshake, so a rotated certificate or
// bundle applies to the next connection. It fails when r has no
// certificate, or client verification is asked for without a CA bundle
// (or, for RequireNode, without a known cluster).
func ServerConfig(r *Reloader, o ServerOptions) (*tls.Config, error) {
	m := r.cur.Load()
	if m.cert == nil {
		return nil, errors.New("tls: a server needs a certificate; set the certificate and key files")
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
	}
	if !o.RequireClientCert && !o.RequireNode {
		return cfg, nil
	}
	if m.pool == nil {
		return nil, errors.New("tls: verifying client certificates needs a CA bundle; set the CA file")
	}
	if o.RequireNode && m.cluster == "" {
		return nil, errors.New("tls: verifying nodes needs a cluster id; use a node certificate or a cluster CA bundle")
	}
	// Go's own verification would pin the CA pool at build time; the
	// handshake verifies against the pool current at that moment instead.
	cfg.ClientAuth = tls.RequireAnyClientCert
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		return r.verify(cs.PeerCertificates, x509.ExtKeyUsageClientAuth, "", o.RequireNode)
	}
	return cfg, nil
}

// ClientOptions tunes ClientConfig.
type ClientOptions struct {
	// ServerName is the host name or IP address the server's certificate
	// must be valid for; required unless RequireNode. With RequireNode it
	// is optional: when set, the node's certificate must name it too (the
	// dialed address as an IP or DNS SAN).
	ServerName string
	// RequireNode verifies that the server holds a node certificate of the
	// cluster instead of checking a host name: raft and internal RPC
	// dialers reach peers by advertised addresses, and the node identity
	// (PeerIdentity) is what they trust.
	RequireNode bool
}

// ClientConfig returns a tls.Config for connections to one server: TLS 1.2
// or later, presenting r's current certificate when the server asks for
// one, and verifying the server against r's current CA bundle (the system
// roots when r has none) with o's name or node check. Verification runs in
// VerifyConnection (Go's built-in check is switched off because it would
// pin the bundle); resumed sessions are verified too. For HTTP clients,
// which dial many hosts, use NewTransport.
func ClientConfig(r *Reloader, o ClientOptions) (*tls.Config, error) {
	m := r.cur.Load()
	switch {
	case o.RequireNode && m.pool == nil:
		return nil, errors.New("tls: verifying nodes needs a CA bundle; set the CA file")
	case o.RequireNode && m.cluster == "":
		return nil, errors.New("tls: verifying nodes needs a cluster id; use a node certificate or a cluster CA bundle")
	case !o.RequireNode && o.ServerName == "":
		return nil, errors.New("tls: server name required to verify the server's certificate")
	}
	return &tls.Config{
		MinVersion:           tls.VersionTLS12,
		ServerName:           o.ServerName,
		GetClientCertificate: r.GetClientCertificate,
		InsecureSkipVerify:   true, // verified by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			return r.verify(cs.PeerCertificates, x509.ExtKeyUsageServerAuth, o.ServerName, o.RequireNode)
		},
	}, nil
}

// NewTransport returns an HTTP transport for https URLs whose connections
// verify each server against r's current CA bundle and the request's host
// name, and present r's current client certificate: the client of a long
// running process (an agent reporting to billing) that must follow
// rotations. It uses no proxy. Plain http URLs still work; refusing them is
// the caller's decision.
func NewTransport(r *Reloader) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		cfg, err := ClientConfig(r, ClientOptions{ServerName: host})
		if err != nil {
			return nil, err
		}
		cfg.NextProtos = []string{"h2", "http/1.1"}
		raw, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		conn := tls.Client(raw, cfg)
		if err := conn.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return conn, nil
	}
	return t
}

// verify checks a peer's certificate chain against the current CA bundle:
// chain, validity, extended key usage, and either name (when not empty) or
// node identity of the cluster.
func (r *Reloader) verify(certs []*x509.Certificate, usage x509.ExtKeyUsage, name string, node bool) error {
	m := r.cur.Load()
	if len(certs) == 0 {
		return errors.New("tls: peer presented no certificate")
	}
	if node && m.pool == nil {
		return errors.New("tls: no CA bundle to verify nodes against")
	}
	leaf := certs[0]
	opts := x509.VerifyOptions{
		Roots:         m.pool,
		Intermediates: poolOf(certs[1:]),
		CurrentTime:   r.cfg.Now(),
		KeyUsages:     []x509.ExtKeyUsage{usage},
	}
	opts.DNSName = name // empty: no name check (a node dialed by identity only)
	chains, err := leaf.Verify(opts)
	if err != nil {
		return fmt.Errorf("tls: peer certificate %q rejected: %w", clip(leaf.Subject.CommonName), err)
	}
	if !node {
		return nil
	}
	id, ok := IdentityOf(leaf)
	if !ok || id.NodeID == "" {
		return fmt.Errorf("tls: peer certificate %q is not an Aerolith node certificate", clip(leaf.Subject.CommonName))
	}
	if id.ClusterID != m.cluster {
		return fmt.Errorf("tls: peer node %q belongs to cluster %q, not %q", id.NodeID, id.ClusterID, m.cluster)
	}
	for _, chain := range chains {
		if rid, ok := IdentityOf(chain[len(chain)-1]); ok && rid.NodeID == "" && rid.ClusterID == id.ClusterID {
			return nil
		}
	}
	return fmt.Errorf("tls: peer node %q is not signed by cluster %q's CA", id.NodeID, id.ClusterID)
}

// PeerIdentity returns the Aerolith identity of a connection's verified
// peer (false when it presented no Aerolith certificate). Raft transports
// use it to check that the node on the other end is the one they meant.
func PeerIdentity(cs tls.ConnectionState) (Identity, bool) {
	if len(cs.PeerCertificates) == 0 {
		return Identity{}, false
	}
	return IdentityOf(cs.PeerCertificates[0])
}
