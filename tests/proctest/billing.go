package proctest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/pki"
)

// BillingConfig describes one `aerolith billing serve` process.
type BillingConfig struct {
	// Binary is the aerolith binary (see BuildBinary). Required.
	Binary string
	// Dir holds the data directory (Dir/data) and the log (Dir/billing.log).
	// Required.
	Dir string
	// LogLevel is passed as --log-level; default "warn".
	LogLevel string
	// ExtraArgs are appended to the command line (--tiers, --period, ...).
	ExtraArgs []string
	// TLS serves billing's API over HTTPS with a node certificate of its
	// own CA (Dir/pki; CAFile); off, billing gets --insecure-http.
	TLS bool
}

// Billing is a running billing process on loopback: a single-node billing
// cluster with a random admin key.
type Billing struct {
	cmd  *exec.Cmd
	url  string
	key  string
	log  string
	done chan struct{}
	err  error // Wait's result, valid after done
	// caFile and hc: the CA bundle ("" without TLS) and the client that
	// trusts it.
	caFile string
	hc     *http.Client
}

// StartBilling starts billing and waits until it answers API calls (its
// raft leader is elected), for at most StartupTimeout or until ctx ends.
func StartBilling(ctx context.Context, cfg BillingConfig) (*Billing, error) {
	if cfg.Binary == "" || cfg.Dir == "" {
		return nil, errors.New("proctest: BillingConfig: Binary and Dir are required")
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	ports, err := FreePorts("127.0.0.1", 2)
	if err != nil {
		return nil, err
	}
	kb := make([]byte, 16)
	if _, err := rand.Read(kb); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	b := &Billing{
		url: "http://127.0.0.1:" + strconv.Itoa(ports[0]), key: "bk-" + hex.EncodeToString(kb),
		log: filepath.Join(cfg.Dir, "billing.log"), done: make(chan struct{}),
		hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}},
	}
	tlsArgs := []string{"--insecure-http"}
	if cfg.TLS {
		if tlsArgs, err = b.setupTLS(cfg.Dir); err != nil {
			return nil, err
		}
	}
	logf, err := os.Create(b.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	args := append([]string{"billing", "serve", "--node-id", "b1", "--data-dir", filepath.Join(cfg.Dir, "data"),
		"--http-addr", "127.0.0.1:" + strconv.Itoa(ports[0]), "--raft-addr", "127.0.0.1:" + strconv.Itoa(ports[1]),
		"--admin-key", b.key, "--log-level", cfg.LogLevel}, append(tlsArgs, cfg.ExtraArgs...)...)
	b.cmd = exec.Command(cfg.Binary, args...)
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	b.cmd.SysProcAttr = sysProcAttr()
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start billing: %w", err)
	}
	go func() { b.err = b.cmd.Wait(); close(b.done) }()
	probe, err := billingclient.New(billingclient.Config{URL: b.url, Key: b.key, Timeout: 2 * time.Second, MaxRetries: -1, HTTPClient: b.hc})
	if err != nil {
		b.Stop()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, StartupTimeout)
	defer cancel()
	err = poll(ctx, "billing ready", func() (bool, error, error) {
		select {
		case <-b.done:
			return false, nil, fmt.Errorf("billing exited (%v):\n%s", b.err, b.LogTail(30))
		default:
		}
		// A tenant list needs the ledger's leader: billing serves the API.
		if _, err := probe.ListTenants(ctx, billingclient.ListTenantsOptions{Limit: 1}); err != nil {
			return false, err, nil
		}
		return true, nil, nil
	})
	if err != nil {
		b.Stop()
		return nil, err
	}
	return b, nil
}

// PID is the billing process's id.
func (b *Billing) PID() int { return b.cmd.Process.Pid }

// URL is billing's base URL.
func (b *Billing) URL() string { return b.url }

// CAFile is the CA bundle billing's certificate chains to ("" without
// TLS): agents take it as --billing-ca.
func (b *Billing) CAFile() string { return b.caFile }

// HTTPClient is an HTTP client trusting billing's certificate.
func (b *Billing) HTTPClient() *http.Client { return b.hc }

// setupTLS creates billing's CA and node certificate under dir and
// returns the TLS flags.
func (b *Billing) setupTLS(dir string) ([]string, error) {
	ca, err := loadOrCreateCA(filepath.Join(dir, caDirName), ClusterID+"-billing")
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := pki.IssueNode(ca, pki.NodeRequest{NodeID: "b1", IPs: []string{"127.0.0.1"}, DNSNames: []string{"localhost"}})
	if err != nil {
		return nil, err
	}
	certDir := filepath.Join(dir, certDirName)
	if err := pki.WriteCert(certDir, certPEM, keyPEM, ca.CertPEM()); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	b.hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	b.url = "https" + strings.TrimPrefix(b.url, "http")
	b.caFile = filepath.Join(certDir, pki.CACertFile)
	return []string{"--tls-cert", filepath.Join(certDir, pki.CertFile), "--tls-key", filepath.Join(certDir, pki.KeyFile), "--tls-ca", b.caFile}, nil
}

// AdminKey is billing's admin key.
func (b *Billing) AdminKey() string { return b.key }

// Admin returns a billing client authenticated with the admin key.
func (b *Billing) Admin() (*billingclient.Client, error) {
	return billingclient.New(billingclient.Config{URL: b.url, Key: b.key, Timeout: 10 * time.Second, HTTPClient: b.hc})
}

// LogTail returns the last n lines of billing's log.
func (b *Billing) LogTail(n int) string {
	raw, _ := os.ReadFile(b.log)
	return tail(raw, n)
}

// Stop ends the process with SIGTERM, and SIGKILL after 30 seconds.
func (b *Billing) Stop() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}
