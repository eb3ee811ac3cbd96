package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/pki"
)

// TestServeTLS runs a replica with a node certificate: its API answers
// over HTTPS to a client trusting the CA, and refuses plain HTTP.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA(pki.CAConfig{ClusterID: "billing-test"})
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := pki.IssueNode(ca, pki.NodeRequest{NodeID: "b1", IPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	certDir := filepath.Join(dir, "tls")
	if err := pki.WriteCert(certDir, cert, key, ca.CertPEM()); err != nil {
		t.Fatal(err)
	}
	s, _ := startService(t, filepath.Join(dir, "data"), func(c *Config) {
		c.InsecureHTTP = false
		c.TLSCert, c.TLSKey, c.TLSCA = filepath.Join(certDir, pki.CertFile), filepath.Join(certDir, pki.KeyFile), filepath.Join(certDir, pki.CACertFile)
	})
	hc := caClient(t, filepath.Join(certDir, pki.CACertFile))
	c, err := client.New(client.Config{URL: "https://" + s.HTTPAddr(), Key: testAdminKey, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PublicKey(context.Background()); err != nil {
		t.Fatalf("PublicKey over https: %v", err)
	}
	resp, err := http.Get("http://" + s.HTTPAddr() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain http to the https port = %d, want 400", resp.StatusCode)
	}
}

// caClient returns an HTTP client trusting the CA bundle in file.
func caClient(t *testing.T, file string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(file)
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("read CA %s: %v", file, err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}
