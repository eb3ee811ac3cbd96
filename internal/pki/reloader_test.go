package pki

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadReloaderErrors(t *testing.T) {
	ca := testCA(t, "c-1", "")
	dir := nodeDir(t, ca, "n1")
	cfg := dirConfig(dir)
	otherDir := nodeDir(t, testCA(t, "c-2", ""), "n1")
	expiredDir := t.TempDir()
	oldCA, err := NewCA(CAConfig{ClusterID: "c-1", Now: time.Now().Add(-3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := IssueNode(oldCA, NodeRequest{NodeID: "n1", IPs: []string{"127.0.0.1"}, TTL: time.Hour, Now: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteCert(expiredDir, certPEM, keyPEM, oldCA.CertPEM()); err != nil {
		t.Fatal(err)
	}
	with := func(f func(*ReloaderConfig)) ReloaderConfig {
		c := cfg
		f(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  ReloaderConfig
		want string
	}{
		{"nothing", ReloaderConfig{}, "nothing to load"},
		{"cert without key", with(func(c *ReloaderConfig) { c.KeyFile = "" }), "set both or neither"},
		{"missing cert", with(func(c *ReloaderConfig) { c.CertFile = filepath.Join(dir, "nope") }), "tls: certificate: open"},
		{"key of another cert", with(func(c *ReloaderConfig) { c.KeyFile = filepath.Join(otherDir, KeyFile) }), "does not belong to certificate"},
		{"foreign CA bundle", with(func(c *ReloaderConfig) { c.CAFile = filepath.Join(otherDir, CACertFile) }), "does not chain to CA bundle"},
		{"leaf as bundle", with(func(c *ReloaderConfig) { c.CAFile = c.CertFile }), "is not a CA certificate"},
		{"key as cert", with(func(c *ReloaderConfig) { c.CertFile = c.KeyFile }), "no PEM CERTIFICATE block"},
		{"cluster mismatch", with(func(c *ReloaderConfig) { c.ClusterID = "c-9" }), `belongs to cluster "c-1", not "c-9"`},
		{"bad cluster id", with(func(c *ReloaderConfig) { c.ClusterID = "a b" }), "cluster-id: invalid id"},
		{"expired", dirConfig(expiredDir), "expired at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadReloader(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadReloader error = %v, want %q", err, tt.want)
			}
		})
	}
	r, err := LoadReloader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.ClusterID() != "c-1" || r.Certificate() == nil || r.NotAfter().IsZero() {
		t.Errorf("loaded reloader: cluster %q, cert %v", r.ClusterID(), r.Certificate())
	}
	caOnly, err := LoadReloader(ReloaderConfig{CAFile: cfg.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	if caOnly.ClusterID() != "c-1" || caOnly.Certificate() != nil {
		t.Errorf("CA-only reloader: cluster %q, cert %v", caOnly.ClusterID(), caOnly.Certificate())
	}
	if c, err := caOnly.GetClientCertificate(nil); err != nil || len(c.Certificate) != 0 {
		t.Errorf("CA-only GetClientCertificate = %v, %v, want an empty certificate", c, err)
	}
	if _, err := caOnly.GetCertificate(nil); err == nil {
		t.Error("CA-only GetCertificate succeeded")
	}
}

// reissue writes a fresh node certificate for node into dir.
func reissue(t *testing.T, ca *CA, dir, node string, bundle []byte) []byte {
	t.Helper()
	certPEM, keyPEM, err := IssueNode(ca, NodeRequest{NodeID: node, DNSNames: []string{"localhost"}, IPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteCert(dir, certPEM, keyPEM, bundle); err != nil {
		t.Fatal(err)
	}
	return certPEM
}

func TestReloaderPoll(t *testing.T) {
	ca := testCA(t, "c-1", "")
	dir := nodeDir(t, ca, "n1")
	var logs bytes.Buffer
	cfg := dirConfig(dir)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	r, err := LoadReloader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	first := r.Certificate()

	if changed, err := r.Poll(); changed || err != nil {
		t.Fatalf("Poll without change = %v, %v, want false, nil", changed, err)
	}

	// A new pair is picked up.
	certPEM := reissue(t, ca, dir, "n1", nil)
	if changed, err := r.Poll(); !changed || err != nil {
		t.Fatalf("Poll after rotation = %v, %v, want true, nil", changed, err)
	}
	if got := r.Certificate(); got == first || !bytes.Equal(got.Leaf.Raw, parseLeaf(t, certPEM).Raw) {
		t.Fatal("Poll did not switch to the new certificate")
	}
	good := r.Certificate()

	// Bad new files keep the good certificate, each failure reported.
	bad := []struct {
		name  string
		write func()
		want  string
	}{
		{"truncated cert", func() { os.WriteFile(cfg.CertFile, []byte("-----BEGIN CERTIFICATE-----\nAAAA"), 0o644) }, "no PEM CERTIFICATE block"},
		{"cert without its key", func() {
			c, _, _ := IssueNode(ca, NodeRequest{NodeID: "n1", IPs: []string{"127.0.0.1"}})
			os.WriteFile(cfg.CertFile, c, 0o644)
		}, "does not belong to certificate"},
		{"removed key", func() { os.Remove(cfg.KeyFile) }, "no such file"},
		{"other cluster", func() { reissue(t, testCA(t, "c-2", ""), dir, "n1", nil) }, "does not chain to CA bundle"},
		{"other cluster with its bundle", func() {
			other := testCA(t, "c-2", "")
			reissue(t, other, dir, "n1", other.CertPEM())
		}, `belongs to cluster "c-2", not "c-1"`},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			logs.Reset()
			b.write()
			changed, err := r.Poll()
			if changed || err == nil || !strings.Contains(err.Error(), b.want) {
				t.Fatalf("Poll = %v, %v, want false and %q", changed, err, b.want)
			}
			if r.Certificate() != good {
				t.Fatal("a bad file replaced the certificate in use")
			}
			if !strings.Contains(logs.String(), "keeping the certificates in use") {
				t.Errorf("failure not logged: %q", logs.String())
			}
			logs.Reset()
			if _, err2 := r.Poll(); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("second Poll error = %v, want %v again", err2, err)
			}
			if logs.Len() != 0 {
				t.Errorf("an unchanged failure was logged again: %q", logs.String())
			}
			if err := r.Reload(); err == nil {
				t.Error("Reload of bad files succeeded")
			}
			if c, err := r.GetCertificate(nil); c != good || err != nil {
				t.Errorf("GetCertificate = %v, %v, want the good certificate", c, err)
			}
			// Restore a good set for the next case.
			if err := WriteCert(dir, certPEMOf(good), keyPEMOf(t, good), ca.CertPEM()); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Poll(); err != nil {
				t.Fatalf("Poll after repair: %v", err)
			}
		})
	}

	// Reload re-reads even when nothing changed.
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
}

func TestReloaderRunStops(t *testing.T) {
	ca := testCA(t, "c-1", "")
	cfg := dirConfig(nodeDir(t, ca, "n1"))
	cfg.Interval = time.Hour
	r, err := LoadReloader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}
