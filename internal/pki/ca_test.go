package pki

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewCA(t *testing.T) {
	for _, algo := range []Algorithm{"", ECDSAP256, Ed25519} {
		t.Run(string(algo), func(t *testing.T) {
			ca := testCA(t, "c-1", algo)
			c := ca.Cert
			if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
				t.Errorf("CA constraints: IsCA=%v MaxPathLen=%d", c.IsCA, c.MaxPathLen)
			}
			if c.KeyUsage&x509.KeyUsageCertSign == 0 {
				t.Errorf("KeyUsage = %v, want CertSign", c.KeyUsage)
			}
			if id, ok := IdentityOf(c); !ok || id != (Identity{ClusterID: "c-1"}) {
				t.Errorf("IdentityOf(CA) = %+v, %v, want cluster c-1", id, ok)
			}
			if got := c.URIs[0].String(); got != "aerolith://cluster/c-1" {
				t.Errorf("CA URI = %q", got)
			}
			if life := c.NotAfter.Sub(c.NotBefore); life < DefaultCATTL || life > DefaultCATTL+time.Hour {
				t.Errorf("CA lifetime = %v, want about %v", life, DefaultCATTL)
			}
			want := Algorithm(ECDSAP256)
			if algo == Ed25519 {
				want = Ed25519
			}
			if got := algorithmOf(c.PublicKey); got != want {
				t.Errorf("CA algorithm = %q, want %q", got, want)
			}
			if err := c.CheckSignatureFrom(c); err != nil {
				t.Errorf("CA is not self-signed: %v", err)
			}
		})
	}
}

func TestNewCAErrors(t *testing.T) {
	tests := []struct {
		cfg  CAConfig
		want string
	}{
		{CAConfig{}, "cluster-id: required"},
		{CAConfig{ClusterID: "bad/id"}, `cluster-id: invalid id "bad/id"`},
		{CAConfig{ClusterID: "-x"}, "cluster-id: invalid id"},
		{CAConfig{ClusterID: strings.Repeat("a", 129)}, "cluster-id: invalid id"},
		{CAConfig{ClusterID: "c", Algorithm: "rsa"}, `algo: unknown algorithm "rsa"`},
		{CAConfig{ClusterID: "c", TTL: -time.Hour}, "ttl: -1h0m0s is negative"},
	}
	for _, tt := range tests {
		_, err := NewCA(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewCA(%+v) error = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestSaveLoadCA(t *testing.T) {
	for _, algo := range []Algorithm{ECDSAP256, Ed25519} {
		t.Run(string(algo), func(t *testing.T) {
			ca := testCA(t, "c-1", algo)
			dir := filepath.Join(t.TempDir(), "ca")
			if err := ca.Save(dir); err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]os.FileMode{CAKeyFile: 0o600, CACertFile: 0o644} {
				fi, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != want {
					t.Errorf("%s mode = %#o, want %#o", name, fi.Mode().Perm(), want)
				}
			}
			got, err := LoadCA(dir)
			if err != nil {
				t.Fatalf("LoadCA: %v", err)
			}
			if got.ClusterID != "c-1" || !got.Cert.Equal(ca.Cert) || !publicKeysEqual(got.Key.Public(), ca.Key.Public()) {
				t.Errorf("LoadCA returned another CA: %+v", got)
			}
			if err := ca.Save(dir); !errors.Is(err, ErrCAExists) {
				t.Errorf("second Save error = %v, want ErrCAExists", err)
			}
		})
	}
}

func TestLoadCAErrors(t *testing.T) {
	ca := testCA(t, "c-1", "")
	other := testCA(t, "c-2", "")
	keyPEM, _ := encodeKey(other.Key)
	nodeCert, nodeKey, err := IssueNode(ca, NodeRequest{NodeID: "n1", IPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{"missing", func(dir string) { os.Remove(filepath.Join(dir, CACertFile)) }, "no such file"},
		{"garbage cert", func(dir string) { os.WriteFile(filepath.Join(dir, CACertFile), []byte("nope"), 0o644) }, "no PEM CERTIFICATE block"},
		{"wide key mode", func(dir string) { os.Chmod(filepath.Join(dir, CAKeyFile), 0o644) }, "readable by others; chmod 600"},
		{"foreign key", func(dir string) { os.WriteFile(filepath.Join(dir, CAKeyFile), keyPEM, 0o600) }, "does not belong to"},
		{"not a CA", func(dir string) {
			os.WriteFile(filepath.Join(dir, CACertFile), nodeCert, 0o644)
			os.WriteFile(filepath.Join(dir, CAKeyFile), nodeKey, 0o600)
		}, "is not a CA certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := ca.Save(dir); err != nil {
				t.Fatal(err)
			}
			tt.setup(dir)
			_, err := LoadCA(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "ca-dir: ") {
				t.Errorf("LoadCA error = %v, want ca-dir: ...%q", err, tt.want)
			}
		})
	}
}

func TestIssueNode(t *testing.T) {
	for _, algo := range []Algorithm{ECDSAP256, Ed25519} {
		t.Run(string(algo), func(t *testing.T) {
			ca := testCA(t, "c-1", algo)
			now := time.Now()
			certPEM, keyPEM, err := IssueNode(ca, NodeRequest{
				NodeID:   "node-1",
				DNSNames: []string{"n1.example", "localhost"},
				IPs:      []string{"10.0.0.1", "::1"},
				Now:      now,
			})
			if err != nil {
				t.Fatal(err)
			}
			c := parseLeaf(t, certPEM)
			if c.Subject.CommonName != "node-1" {
				t.Errorf("CN = %q, want node-1", c.Subject.CommonName)
			}
			if len(c.URIs) != 1 || c.URIs[0].String() != "aerolith://cluster/c-1/node/node-1" {
				t.Errorf("URIs = %v", c.URIs)
			}
			if id, ok := IdentityOf(c); !ok || id != (Identity{"c-1", "node-1"}) {
				t.Errorf("IdentityOf = %+v, %v", id, ok)
			}
			if !slices.Equal(c.DNSNames, []string{"n1.example", "localhost"}) || len(c.IPAddresses) != 2 || c.IPAddresses[1].String() != "::1" {
				t.Errorf("SANs = %v %v", c.DNSNames, c.IPAddresses)
			}
			if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
				t.Errorf("ExtKeyUsage = %v, want server and client auth", c.ExtKeyUsage)
			}
			if c.IsCA {
				t.Error("node certificate is a CA")
			}
			if want := now.Add(DefaultNodeTTL); !c.NotAfter.Equal(want.Truncate(time.Second)) {
				t.Errorf("NotAfter = %v, want %v", c.NotAfter, want)
			}
			if err := c.CheckSignatureFrom(ca.Cert); err != nil {
				t.Errorf("not signed by the CA: %v", err)
			}
			key, err := ParsePrivateKey(keyPEM)
			if err != nil || !publicKeysEqual(key.Public(), c.PublicKey) {
				t.Errorf("key does not match certificate: %v", err)
			}
			switch key.(type) {
			case *ecdsa.PrivateKey:
				if algo != ECDSAP256 {
					t.Errorf("key type %T for algo %s", key, algo)
				}
			case ed25519.PrivateKey:
				if algo != Ed25519 {
					t.Errorf("key type %T for algo %s", key, algo)
				}
			}
		})
	}
}

func TestIssueTTLCutToCA(t *testing.T) {
	now := time.Now()
	ca, err := NewCA(CAConfig{ClusterID: "c", TTL: 48 * time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := IssueNode(ca, NodeRequest{NodeID: "n", IPs: []string{"127.0.0.1"}, TTL: 720 * time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if c := parseLeaf(t, certPEM); !c.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("NotAfter = %v, want the CA's %v", c.NotAfter, ca.Cert.NotAfter)
	}
}

func TestIssueErrors(t *testing.T) {
	ca := testCA(t, "c-1", "")
	expired, err := NewCA(CAConfig{ClusterID: "old", TTL: time.Hour, Now: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ip := []string{"127.0.0.1"}
	tests := []struct {
		name string
		ca   *CA
		req  NodeRequest
		want string
	}{
		{"no node", ca, NodeRequest{IPs: ip}, "node: required"},
		{"bad node", ca, NodeRequest{NodeID: "a/b", IPs: ip}, `node: invalid id "a/b"`},
		{"no sans", ca, NodeRequest{NodeID: "n"}, "dns, ip: at least one"},
		{"bad ip", ca, NodeRequest{NodeID: "n", IPs: []string{"300.1.1.1"}}, `ip: "300.1.1.1" is not an IP address`},
		{"bad dns", ca, NodeRequest{NodeID: "n", DNSNames: []string{"a..b"}}, `dns: "a..b" is not a valid DNS name`},
		{"dns chars", ca, NodeRequest{NodeID: "n", DNSNames: []string{"a_b"}}, `dns: "a_b"`},
		{"dns hyphen", ca, NodeRequest{NodeID: "n", DNSNames: []string{"-a"}}, "must not start or end with '-'"},
		{"wildcard node", ca, NodeRequest{NodeID: "n", DNSNames: []string{"*.a"}}, `dns: "*.a"`},
		{"negative ttl", ca, NodeRequest{NodeID: "n", IPs: ip, TTL: -time.Second}, "ttl: -1s is negative"},
		{"bad algo", ca, NodeRequest{NodeID: "n", IPs: ip, Algorithm: "dsa"}, `algo: unknown algorithm "dsa"`},
		{"expired ca", expired, NodeRequest{NodeID: "n", IPs: ip}, "ca: certificate of cluster old expired at"},
		{"nil ca", nil, NodeRequest{NodeID: "n", IPs: ip}, "ca: no CA given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := IssueNode(tt.ca, tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("IssueNode(%+v) error = %v, want %q", tt.req, err, tt.want)
			}
		})
	}
}

func TestIssueServer(t *testing.T) {
	ca := testCA(t, "c-1", "")
	certPEM, _, err := IssueServer(ca, ServerRequest{DNSNames: []string{"*.api.example", "api.example"}, IPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	c := parseLeaf(t, certPEM)
	if c.Subject.CommonName != "*.api.example" {
		t.Errorf("CN = %q, want the first DNS name", c.Subject.CommonName)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("ExtKeyUsage = %v, want server auth only", c.ExtKeyUsage)
	}
	if _, ok := IdentityOf(c); ok || len(c.URIs) != 0 {
		t.Errorf("server certificate carries a node identity: %v", c.URIs)
	}
	if _, _, err := IssueServer(ca, ServerRequest{}); err == nil || !strings.Contains(err.Error(), "dns, ip:") {
		t.Errorf("IssueServer without SANs error = %v", err)
	}
}

func TestIdentityOf(t *testing.T) {
	tests := []struct {
		uris []string
		want Identity
		ok   bool
	}{
		{[]string{"aerolith://cluster/c"}, Identity{ClusterID: "c"}, true},
		{[]string{"spiffe://x/y", "aerolith://cluster/c/node/n"}, Identity{"c", "n"}, true},
		{[]string{"aerolith://cluster/c", "aerolith://cluster/d"}, Identity{}, false},
		{[]string{"aerolith://other/c"}, Identity{}, false},
		{[]string{"aerolith://cluster/c/node"}, Identity{}, false},
		{[]string{"aerolith://cluster/c/peer/n"}, Identity{}, false},
		{[]string{"aerolith://cluster/c/node/n?x=1"}, Identity{}, false},
		{[]string{"aerolith://cluster/c%2Fd"}, Identity{}, false},
		{nil, Identity{}, false},
	}
	for _, tt := range tests {
		c := &x509.Certificate{}
		for _, s := range tt.uris {
			u, err := url.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			c.URIs = append(c.URIs, u)
		}
		got, ok := IdentityOf(c)
		if got != tt.want || ok != tt.ok {
			t.Errorf("IdentityOf(%v) = %+v, %v, want %+v, %v", tt.uris, got, ok, tt.want, tt.ok)
		}
	}
}
