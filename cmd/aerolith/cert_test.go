package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/internal/pki"
)

// certCLI runs a cert command and fails the test unless it exits 0.
func certCLI(t *testing.T, args ...string) string {
	t.Helper()
	r := runCLI(t, "", args...)
	if r.code != 0 {
		t.Fatalf("aerolith %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

func TestCertCACreate(t *testing.T) {
	for _, algo := range []string{"ecdsa", "ed25519"} {
		t.Run(algo, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ca")
			out := certCLI(t, "cert", "ca", "create", "--dir", dir, "--cluster-id", "prod-1", "--algo", algo)
			if !strings.HasPrefix(out, "created CA for cluster prod-1 ("+algo+", valid until ") || !strings.Contains(out, filepath.Join(dir, "ca.key")) {
				t.Errorf("ca create printed %q", out)
			}
			ca, err := pki.LoadCA(dir)
			if err != nil {
				t.Fatal(err)
			}
			if ca.ClusterID != "prod-1" {
				t.Errorf("CA cluster = %q", ca.ClusterID)
			}
			fi, err := os.Stat(filepath.Join(dir, pki.CAKeyFile))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("ca.key mode = %v, %v, want 0600", fi.Mode(), err)
			}
			r := runCLI(t, "", "cert", "ca", "create", "--dir", dir, "--cluster-id", "prod-1")
			if r.code != 1 || !strings.Contains(r.stderr, "a CA key already exists there; use another --dir") {
				t.Errorf("second ca create: exit %d, stderr %q", r.code, r.stderr)
			}
		})
	}
}

func TestCertIssue(t *testing.T) {
	caDir := filepath.Join(t.TempDir(), "ca")
	certCLI(t, "cert", "ca", "create", "--dir", caDir, "--cluster-id", "c-1")
	n1, n2 := filepath.Join(t.TempDir(), "n1"), filepath.Join(t.TempDir(), "n2")
	out := certCLI(t, "cert", "issue", "--ca-dir", caDir, "--node", "n1", "--dns", "n1.internal,localhost", "--ip", "127.0.0.1", "--ip", "::1", "--out", n1, "--ttl", "24h")
	if !strings.HasPrefix(out, "issued node certificate n1 (cluster c-1, valid until ") {
		t.Errorf("issue printed %q", out)
	}
	certCLI(t, "cert", "issue", "--ca-dir", caDir, "--node", "n2", "--ip", "127.0.0.1", "--out", n2, "--algo", "ed25519")

	load := func(dir string) *pki.Reloader {
		t.Helper()
		r, err := pki.LoadReloader(pki.ReloaderConfig{
			CertFile: filepath.Join(dir, pki.CertFile),
			KeyFile:  filepath.Join(dir, pki.KeyFile),
			CAFile:   filepath.Join(dir, pki.CACertFile),
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r1, r2 := load(n1), load(n2)
	leaf := r1.Certificate().Leaf
	if !slices.Equal(leaf.DNSNames, []string{"n1.internal", "localhost"}) || len(leaf.IPAddresses) != 2 {
		t.Errorf("SANs = %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d > 25*60*60*1e9 || d < 24*60*60*1e9 {
		t.Errorf("validity %v, want 24h (and a few minutes of backdating)", d)
	}
	if fi, err := os.Stat(filepath.Join(n1, pki.KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("tls.key mode = %v, %v", fi.Mode(), err)
	}

	// The two issued directories authenticate each other.
	srvCfg, err := pki.ServerConfig(r1, pki.ServerOptions{RequireNode: true})
	if err != nil {
		t.Fatal(err)
	}
	cliCfg, err := pki.ClientConfig(r2, pki.ClientOptions{RequireNode: true})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		tc := tls.Server(c, srvCfg)
		if err = tc.HandshakeContext(context.Background()); err == nil {
			_, err = tc.Write([]byte{1})
		}
		srvErr <- err
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), cliCfg)
	if err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
		t.Fatalf("client read: %v", err)
	}
	if id, _ := pki.PeerIdentity(conn.ConnectionState()); id != (pki.Identity{ClusterID: "c-1", NodeID: "n1"}) {
		t.Errorf("client saw peer %+v", id)
	}
	conn.Close()
	if err := <-srvErr; err != nil {
		t.Fatalf("server: %v", err)
	}

	// A server certificate.
	api := filepath.Join(t.TempDir(), "api")
	out = certCLI(t, "cert", "issue", "--ca-dir", caDir, "--server-only", "--dns", "api.example", "--out", api)
	if !strings.HasPrefix(out, "issued server certificate api.example (cluster c-1") {
		t.Errorf("issue --server-only printed %q", out)
	}
	leaf = load(api).Certificate().Leaf
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("server certificate EKU = %v", leaf.ExtKeyUsage)
	}

	show := certCLI(t, "cert", "show", filepath.Join(n1, pki.CertFile))
	for _, want := range []string{"kind        node", "cluster     c-1", "node        n1", "dns         n1.internal, localhost", "ip          127.0.0.1, ::1"} {
		if !strings.Contains(show, want) {
			t.Errorf("cert show lacks %q:\n%s", want, show)
		}
	}
	if show := certCLI(t, "cert", "show", filepath.Join(caDir, pki.CACertFile)); !strings.Contains(show, "kind        cluster CA") {
		t.Errorf("cert show of the CA:\n%s", show)
	}
	if show := certCLI(t, "cert", "show", filepath.Join(api, pki.CertFile)); !strings.Contains(show, "kind        server") {
		t.Errorf("cert show of the server certificate:\n%s", show)
	}
}

func TestCertErrors(t *testing.T) {
	caDir := filepath.Join(t.TempDir(), "ca")
	certCLI(t, "cert", "ca", "create", "--dir", caDir, "--cluster-id", "c-1")
	out := t.TempDir()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"cert", "ca", "create", "--cluster-id", "c"}, 2, "--dir: required"},
		{[]string{"cert", "ca", "create", "--dir", t.TempDir()}, 2, "--cluster-id: required"},
		{[]string{"cert", "ca", "create", "--dir", t.TempDir(), "--cluster-id", "a/b"}, 2, `--cluster-id: invalid id "a/b"`},
		{[]string{"cert", "ca", "create", "--dir", t.TempDir(), "--cluster-id", "c", "--algo", "rsa"}, 2, `--algo: unknown algorithm "rsa"`},
		{[]string{"cert", "ca", "create", "--dir", t.TempDir(), "--cluster-id", "c", "--ttl", "soon"}, 2, `invalid argument "soon" for "--ttl"`},
		{[]string{"cert", "issue", "--node", "n", "--ip", "127.0.0.1", "--out", out}, 2, "--ca-dir: required"},
		{[]string{"cert", "issue", "--ca-dir", caDir, "--ip", "127.0.0.1", "--out", out}, 2, "--node: required"},
		{[]string{"cert", "issue", "--ca-dir", caDir, "--node", "n", "--ip", "127.0.0.1"}, 2, "--out: required"},
		{[]string{"cert", "issue", "--ca-dir", caDir, "--node", "n", "--out", out}, 2, "--dns, --ip: at least one"},
		{[]string{"cert", "issue", "--ca-dir", caDir, "--node", "n", "--ip", "1.2.3", "--out", out}, 2, `--ip: "1.2.3" is not an IP address`},
		{[]string{"cert", "issue", "--ca-dir", caDir, "--node", "n", "--dns", "a b", "--out", out}, 2, `--dns: "a b" is not a valid DNS name`},
		{[]string{"cert", "issue", "--ca-dir", caDir, "--node", "n", "--ip", "::1", "--out", out, "--ttl", "-1h"}, 2, "--ttl: -1h0m0s is negative"},
		{[]string{"cert", "issue", "--ca-dir", t.TempDir(), "--node", "n", "--ip", "::1", "--out", out}, 1, "--ca-dir: open "},
		{[]string{"cert", "show"}, 2, "want arguments FILE"},
		{[]string{"cert", "show", filepath.Join(caDir, pki.CAKeyFile)}, 1, "no PEM CERTIFICATE block"},
		{[]string{"cert", "bogus"}, 2, `unknown command "bogus"`},
	}
	for _, tt := range tests {
		r := runCLI(t, "", tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("aerolith %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), r.code, r.stderr, tt.code, tt.want)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("failed issues wrote %d files to --out", len(entries))
	}
}
