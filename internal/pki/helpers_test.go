package pki

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"testing"
)

// testCA creates a CA for cluster in memory.
func testCA(t *testing.T, cluster string, algo Algorithm) *CA {
	t.Helper()
	ca, err := NewCA(CAConfig{ClusterID: cluster, Algorithm: algo})
	if err != nil {
		t.Fatalf("NewCA(%q): %v", cluster, err)
	}
	return ca
}

// nodeDir issues a node certificate for 127.0.0.1 and localhost and writes
// it with ca's bundle into a fresh directory, which it returns.
func nodeDir(t *testing.T, ca *CA, node string) string {
	t.Helper()
	dir := t.TempDir()
	certPEM, keyPEM, err := IssueNode(ca, NodeRequest{NodeID: node, DNSNames: []string{"localhost"}, IPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatalf("IssueNode(%q): %v", node, err)
	}
	if err := WriteCert(dir, certPEM, keyPEM, ca.CertPEM()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// dirConfig is the ReloaderConfig of a directory written by WriteCert.
func dirConfig(dir string) ReloaderConfig {
	return ReloaderConfig{
		CertFile: filepath.Join(dir, CertFile),
		KeyFile:  filepath.Join(dir, KeyFile),
		CAFile:   filepath.Join(dir, CACertFile),
	}
}

// loadDir loads a Reloader over a directory written by WriteCert.
func loadDir(t *testing.T, dir string) *Reloader {
	t.Helper()
	r, err := LoadReloader(dirConfig(dir))
	if err != nil {
		t.Fatalf("LoadReloader(%s): %v", dir, err)
	}
	return r
}

// parseLeaf returns the first certificate of a PEM file's content.
func parseLeaf(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	certs, err := ParseCertificates(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

// keyPair builds a tls.Certificate straight from PEM, bypassing the
// Reloader's checks (to present an expired or foreign certificate).
func keyPair(t *testing.T, certPEM, keyPEM []byte) tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// certPEMOf encodes a tls.Certificate's chain as PEM.
func certPEMOf(c *tls.Certificate) []byte {
	var out []byte
	for _, der := range c.Certificate {
		out = append(out, encodeCert(der)...)
	}
	return out
}

// keyPEMOf encodes a tls.Certificate's key as PEM.
func keyPEMOf(t *testing.T, c *tls.Certificate) []byte {
	t.Helper()
	k, err := encodeKey(c.PrivateKey.(crypto.Signer))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
