package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/config"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/nodetls"
	"github.com/aerolithdb/aerolith/internal/pki"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// bootConfig is a --tls-bootstrap configuration enrolled with e.
func bootConfig(t *testing.T, e *billingEnv, token string) config.Config {
	t.Helper()
	c := config.Default()
	c.DataDir = t.TempDir()
	c.BillingURL, c.EnrollmentToken, c.TLSBootstrap = e.url, token, true
	return c
}

// servedCert reads the certificate in a bootstrap TLS directory.
func servedCert(t *testing.T, cfg config.Config) (serial string, names []string) {
	t.Helper()
	b, err := os.ReadFile(cfg.TLSFiles().Cert)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCertificates(b)
	if err != nil {
		t.Fatal(err)
	}
	c := certs[0]
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return c.SerialNumber.Text(16), append(names, c.DNSNames...)
}

func TestCertEnroller(t *testing.T) {
	e := startBilling(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cfg := bootConfig(t, e, e.cluster.EnrollmentToken)
	b, err := newBootstrapBilling(cfg, nil, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	enroll := func(hosts ...string) *certEnroller {
		t.Helper()
		enr := newCertEnroller(cfg, b, "n1", hosts, quietLogger())
		if err := enr.ensure(ctx); err != nil {
			t.Fatalf("ensure: %v", err)
		}
		return enr
	}

	enroll("127.0.0.1", "localhost", "127.0.0.1")
	fi, err := os.Stat(cfg.TLSFiles().Key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("node key: %v, %v; want a 0600 file", err, fi)
	}
	first, names := servedCert(t, cfg)
	if !slices.Equal(names, []string{"127.0.0.1", "localhost"}) {
		t.Fatalf("certificate names = %v", names)
	}
	// A restart with a valid certificate for the same addresses keeps it.
	enroll("localhost", "127.0.0.1")
	if s, _ := servedCert(t, cfg); s != first {
		t.Fatal("a restart replaced a certificate that was still good")
	}
	// A new address needs a new certificate (same key).
	keyBefore, _ := os.ReadFile(cfg.TLSFiles().Key)
	enroll("10.0.0.7")
	second, names := servedCert(t, cfg)
	keyAfter, _ := os.ReadFile(cfg.TLSFiles().Key)
	if second == first || !slices.Equal(names, []string{"10.0.0.7"}) || string(keyBefore) != string(keyAfter) {
		t.Fatalf("after an address change: serial %s (was %s), names %v, key changed %v", second, first, names, string(keyBefore) != string(keyAfter))
	}

	// Renewal: the running node's TLS picks the new certificate up.
	enr := enroll("10.0.0.7")
	tl, err := nodetls.Load(cfg.TLSFiles(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	enr.renewAt = time.Now()
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); enr.run(rctx, tl.Reloader()) }()
	storetest.Eventually(t, waitLimit, func() error {
		if s := tl.Reloader().Certificate().Leaf.SerialNumber.Text(16); s == second {
			return fmt.Errorf("still serving serial %s", s)
		}
		return nil
	})
	stop()
	wg.Wait()

	// A restart while billing is down starts with the stored certificate,
	// also past half its life (then renewed as soon as the node runs).
	e.svc.Close()
	enr = newCertEnroller(cfg, b, "n1", []string{"10.0.0.7"}, quietLogger())
	late := time.Now().Add(20 * time.Hour)
	enr.now = func() time.Time { return late }
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	if err := enr.ensure(dctx); err != nil {
		t.Fatalf("restart with billing down: %v", err)
	}
	if !enr.renewAt.Equal(late) {
		t.Fatalf("renewAt = %v, want at once (%v) for a certificate past half its life", enr.renewAt, late)
	}
}

func TestCertEnrollerRefusals(t *testing.T) {
	e := startBilling(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	// An unknown token is refused for good: ensure fails (naming why)
	// instead of retrying forever.
	cfg := bootConfig(t, e, "aet_unknown-token-0123456789")
	b, err := newBootstrapBilling(cfg, nil, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := newCertEnroller(cfg, b, "n1", []string{"127.0.0.1"}, quietLogger()).ensure(ctx); err == nil || !billingclient.IsUnauthenticated(err) || !strings.Contains(err.Error(), "tls-bootstrap") {
		t.Fatalf("ensure with an unknown token = %v, want a 401 named as tls-bootstrap's", err)
	}

	// Billing's answer is checked before it replaces anything.
	cfg = bootConfig(t, e, e.cluster.EnrollmentToken)
	b, err = newBootstrapBilling(cfg, nil, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	enr := newCertEnroller(cfg, b, "n1", []string{"127.0.0.1"}, quietLogger())
	if err := enr.ensure(ctx); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(cfg.TLSFiles().Cert)
	ca, _ := os.ReadFile(cfg.TLSFiles().CA)
	other, err := pki.NewCA(pki.CAConfig{ClusterID: "elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	otherCert, _, err := pki.IssueNode(other, pki.NodeRequest{NodeID: "n1", IPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	keyB, _, _ := pki.NewNodeKey("")
	csr, _ := pki.NodeCSR(keyB, pki.Identity{ClusterID: e.cluster.ClusterID, NodeID: "n1"}, nil, []string{"127.0.0.1"})
	otherKeyCert, err := b.bc.RequestCertificate(ctx, e.cluster.ClusterID, "n1", csr)
	if err != nil {
		t.Fatal(err)
	}
	n2CSR, _ := pki.NodeCSR(enr.key, pki.Identity{ClusterID: e.cluster.ClusterID, NodeID: "n2"}, nil, []string{"127.0.0.1"})
	n2Cert, err := b.bc.RequestCertificate(ctx, e.cluster.ClusterID, "n2", n2CSR)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  billingclient.NodeCertificate
		want string
	}{
		{"another cluster's CA", billingclient.NodeCertificate{Certificate: string(otherCert), CA: string(other.CertPEM())}, "not the CA of cluster"},
		{"another key", otherKeyCert, "not for this node's key"},
		{"another node", n2Cert, "not for this node of the cluster"},
		{"not chaining", billingclient.NodeCertificate{Certificate: string(otherCert), CA: string(ca)}, "certificate:"},
		{"garbage", billingclient.NodeCertificate{Certificate: "x", CA: string(ca)}, "certificate:"},
	}
	for _, tt := range tests {
		if _, err := enr.check(tt.got, e.cluster.ClusterID); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: check = %v, want %q", tt.name, err, tt.want)
		}
	}
	if now, _ := os.ReadFile(cfg.TLSFiles().Cert); string(now) != string(good) {
		t.Fatal("a refused answer replaced the certificate")
	}
}

func TestDiscoverJoinBilling(t *testing.T) {
	e := startBilling(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cfgs := make([]config.Config, 2)
	results := make([][]string, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range cfgs {
		c := managedConfig(t, e, t.TempDir())
		c.Discover, c.BootstrapExpect = "billing", 2
		cfgs[i] = c
		b, err := newBootstrapBilling(c, nil, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := []string{"n1", "n2"}[i]
			results[i], errs[i] = discoverJoin(ctx, c, b, n, "127.0.0.1:710"+string(rune('0'+i)), "127.0.0.1:720"+string(rune('0'+i)), quietLogger())
		}()
	}
	wg.Wait()
	want := []string{"127.0.0.1:7200", "127.0.0.1:7201"}
	for i := range results {
		if errs[i] != nil || !slices.Equal(results[i], want) {
			t.Fatalf("node %d discovered %v, %v; want %v", i, results[i], errs[i], want)
		}
	}
	// A restart rejoins with what it found, asking nobody: billing is
	// down, and more nodes are expected than it knew.
	e.svc.Close()
	c := cfgs[0]
	c.BootstrapExpect = 3
	b, _ := newBootstrapBilling(c, nil, quietLogger())
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	got, err := discoverJoin(rctx, c, b, "n1", "127.0.0.1:7100", "127.0.0.1:7200", quietLogger())
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("restart: discovered %v, %v; want %v at once", got, err, want)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, discoveredFile)); err != nil {
		t.Fatal(err)
	}
}
