package proctest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aerolithdb/aerolith/internal/pki"
)

// TLS of a process cluster (Config.TLS): one CA per cluster in
// Dir/pki (cluster id ClusterID), a node certificate per node in
// Dir/n<i+1>/tls (tls.crt, tls.key, ca.crt; SANs: the node's Host and
// localhost), passed as --tls-cert, --tls-key and --tls-ca. Without TLS
// every agent gets --insecure-http.
//
// Benchmarks compare TLS on and off by running the same workload against
// proctest.New(proctest.Config{..., TLS: true}) and a cluster without it:
// Cluster.URL and Cluster.API switch to https and the CA on their own, and
// Cluster.HTTPClient returns a client (a transport with the CA and tuned
// pools) for a benchmark's own load generators.

// ClusterID is the cluster id of the CA a TLS cluster's certificates come
// from.
const ClusterID = "proctest"

// tlsDirs are the files of a TLS cluster.
const (
	caDirName   = "pki"
	certDirName = "tls"
)

// setupTLS creates (or loads) the cluster's CA; it is a no-op without TLS.
func (c *Cluster) setupTLS() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.cfg.TLS || c.ca != nil {
		return nil
	}
	ca, err := loadOrCreateCA(filepath.Join(c.cfg.Dir, caDirName), ClusterID)
	if err != nil {
		return err
	}
	c.ca = ca
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	c.clientTLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if t, ok := c.api.hc.Transport.(*http.Transport); ok {
		t.TLSClientConfig = c.clientTLS.Clone()
	}
	return nil
}

func loadOrCreateCA(dir, cluster string) (*pki.CA, error) {
	ca, err := pki.LoadCA(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if ca, err = pki.NewCA(pki.CAConfig{ClusterID: cluster, Now: time.Now().Add(-time.Hour)}); err != nil {
			return nil, err
		}
		err = ca.Save(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("proctest: CA: %w", err)
	}
	return ca, nil
}

// TLSEnabled reports whether the cluster runs with TLS (Config.TLS).
func (c *Cluster) TLSEnabled() bool { return c.cfg.TLS }

// CA returns the cluster's CA (nil without TLS or before Start), for tests
// that issue more certificates.
func (c *Cluster) CA() *pki.CA {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ca
}

// CAFile returns the CA bundle clients verify the agents with ("" without
// TLS).
func (c *Cluster) CAFile() string {
	if !c.cfg.TLS {
		return ""
	}
	return filepath.Join(c.cfg.Dir, caDirName, pki.CACertFile)
}

// CertDir returns the directory of node i's certificate files (tls.crt,
// tls.key, ca.crt).
func (c *Cluster) CertDir(i int) string { return filepath.Join(c.nodes[i].dir, certDirName) }

// ClientTLS returns a tls.Config trusting the cluster's CA (nil without
// TLS or before Start).
func (c *Cluster) ClientTLS() *tls.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.clientTLS == nil {
		return nil
	}
	return c.clientTLS.Clone()
}

// HTTPClient returns a new HTTP client for the agents' API: https with the
// cluster's CA when TLS is on, with pools sized for load generators.
func (c *Cluster) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
		TLSClientConfig:     c.ClientTLS(),
		ForceAttemptHTTP2:   false,
	}}
}

// scheme is the URL scheme of the agents' API.
func (c *Cluster) scheme() string {
	if c.cfg.TLS {
		return "https"
	}
	return "http"
}

// tlsFlags returns node i's TLS flags: the certificate files, or
// --insecure-http without TLS.
func (c *Cluster) tlsFlags(i int) []string {
	if !c.cfg.TLS {
		return []string{"--insecure-http"}
	}
	dir := c.CertDir(i)
	return []string{
		"--tls-cert", filepath.Join(dir, pki.CertFile),
		"--tls-key", filepath.Join(dir, pki.KeyFile),
		"--tls-ca", filepath.Join(dir, pki.CACertFile),
	}
}

// ensureCertLocked issues node i's certificate unless it has one; mu is
// held.
func (c *Cluster) ensureCertLocked(i int) error {
	if !c.cfg.TLS {
		return nil
	}
	if _, err := os.Stat(filepath.Join(c.CertDir(i), pki.CertFile)); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	_, err := c.issueLocked(i, time.Time{})
	return err
}

// issueLocked writes a fresh node certificate for node i (issued at now;
// zero means the current time) to its certificate directory; mu is held.
func (c *Cluster) issueLocked(i int, now time.Time) (*x509.Certificate, error) {
	if c.ca == nil {
		return nil, errors.New("proctest: no CA (Config.TLS off, or the cluster never started)")
	}
	n := c.nodes[i]
	certPEM, keyPEM, err := pki.IssueNode(c.ca, pki.NodeRequest{NodeID: n.id, IPs: []string{c.cfg.Host}, DNSNames: []string{"localhost"}, Now: now})
	if err != nil {
		return nil, fmt.Errorf("proctest: issue %s: %w", n.id, err)
	}
	if err := pki.WriteCert(filepath.Join(n.dir, certDirName), certPEM, keyPEM, c.ca.CertPEM()); err != nil {
		return nil, fmt.Errorf("proctest: write %s's certificate: %w", n.id, err)
	}
	certs, err := pki.ParseCertificates(certPEM)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// ReissueCert writes a new node certificate (new key, new serial) for
// node i to the same files and returns it. The running agent picks it up
// on Reload (SIGHUP) or when it next polls its files.
func (c *Cluster) ReissueCert(i int) (*x509.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.issueLocked(i, time.Time{})
}

// Reload sends SIGHUP to node i: the agent re-reads its TLS files.
func (c *Cluster) Reload(i int) error {
	p := c.proc(i)
	if p == nil {
		return fmt.Errorf("reload %s: %w", c.nodes[i].id, ErrNotRunning)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		return fmt.Errorf("reload %s: %w", c.nodes[i].id, err)
	}
	return nil
}
