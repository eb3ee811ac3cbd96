package security

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/pki"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// certFiles issues a node certificate of ca for id into dir and returns
// the agent's TLS flags.
func certFiles(t *testing.T, ca *pki.CA, id, dir string, now time.Time, ttl time.Duration) []string {
	t.Helper()
	cert, key, err := pki.IssueNode(ca, pki.NodeRequest{NodeID: id, IPs: []string{"127.0.0.1"}, Now: now, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteCert(dir, cert, key, ca.CertPEM()); err != nil {
		t.Fatal(err)
	}
	return []string{"--tls-cert", filepath.Join(dir, pki.CertFile), "--tls-key", filepath.Join(dir, pki.KeyFile), "--tls-ca", filepath.Join(dir, pki.CACertFile)}
}

// probeCert returns a client certificate: a node certificate of ca.
func probeCert(t *testing.T, ca *pki.CA, id string, now time.Time, ttl time.Duration) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := pki.IssueNode(ca, pki.NodeRequest{NodeID: id, IPs: []string{"127.0.0.1"}, Now: now, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// raftServerSerial completes a mutual TLS handshake with the raft port at
// addr, presenting client, and returns the serial of the node's
// certificate (verified against ca).
func raftServerSerial(ca *pki.CA, client tls.Certificate, addr string) (*big.Int, error) {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{client}})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// dialRefused reports whether a TLS handshake with addr presenting certs
// fails (the server refuses it: the error shows on the first read after
// the handshake under TLS 1.3).
func dialRefused(addr string, certs []tls.Certificate) error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true, Certificates: certs})
	if err != nil {
		return nil // refused during the handshake
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte{'P'}); err != nil {
		return nil
	}
	if _, err := c.Read(make([]byte, 1)); err != nil {
		return nil
	}
	return fmt.Errorf("handshake with %s accepted", addr)
}

// handshakeFailures sums aerolith_tls_handshake_failures_total over the
// running nodes' /metrics.
func handshakeFailures(ctx context.Context, c *proctest.Cluster) (float64, error) {
	var sum float64
	hc := c.API().HTTPClient()
	for i := 0; i < c.N(); i++ {
		if !c.Running(i) {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(i)+"/metrics", nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+c.AdminKey())
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, `aerolith_tls_handshake_failures_total{port="raft"} `); ok {
				v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
				if err == nil {
					sum += v
				}
			}
		}
		resp.Body.Close()
	}
	return sum, nil
}

// logsContain reports whether any node's log holds s.
func logsContain(c *proctest.Cluster, s string) bool {
	for i := 0; i < c.N(); i++ {
		b, _ := os.ReadFile(c.LogPath(i))
		if strings.Contains(string(b), s) {
			return true
		}
	}
	return false
}
