package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawCSR builds a PEM request from a template, signed by a fresh key of
// the given kind ("ecdsa", "p384", "rsa").
func rawCSR(t *testing.T, kind string, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	var key any
	var err error
	switch kind {
	case "ecdsa":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemCSR, Bytes: der})
}

func TestSignNodeCSR(t *testing.T) {
	ca := testCA(t, "c-1", "")
	for _, algo := range []Algorithm{ECDSAP256, Ed25519} {
		t.Run(string(algo), func(t *testing.T) {
			key, _, err := NewNodeKey(algo)
			if err != nil {
				t.Fatal(err)
			}
			csr, err := NodeCSR(key, Identity{ClusterID: "c-1", NodeID: "n1"}, []string{"n1.internal"}, []string{"10.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			certPEM, info, err := SignNodeCSR(ca, NodeCSRRequest{CSR: csr, NodeID: "n1", TTL: time.Hour, Now: now})
			if err != nil {
				t.Fatalf("SignNodeCSR: %v", err)
			}
			cert := parseLeaf(t, certPEM)
			if id, ok := IdentityOf(cert); !ok || id != (Identity{ClusterID: "c-1", NodeID: "n1"}) {
				t.Fatalf("identity = %+v, %v; want c-1/n1", id, ok)
			}
			if !publicKeysEqual(cert.PublicKey, key.Public()) {
				t.Fatal("certificate does not carry the requested public key")
			}
			if got := cert.NotAfter.Sub(now); got < 59*time.Minute || got > time.Hour {
				t.Fatalf("lifetime = %v, want 1h", got)
			}
			if len(cert.IPAddresses) != 1 || cert.IPAddresses[0].String() != "10.0.0.1" || len(cert.DNSNames) != 1 || cert.DNSNames[0] != "n1.internal" {
				t.Fatalf("names = %v %v", cert.IPAddresses, cert.DNSNames)
			}
			if info.Serial != cert.SerialNumber.Text(16) || !info.NotAfter.Equal(cert.NotAfter) {
				t.Fatalf("info = %+v", info)
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca.Cert)
			if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Fatalf("verify: %v", err)
			}
		})
	}
}

func TestSignNodeCSRRefusals(t *testing.T) {
	ca := testCA(t, "c-1", "")
	key, _, err := NewNodeKey("")
	if err != nil {
		t.Fatal(err)
	}
	good := func(id Identity, dns, ips []string) []byte {
		t.Helper()
		b, err := NodeCSR(key, id, dns, ips)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ip := []string{"10.0.0.1"}
	many := make([]string, MaxCSRNames+1)
	for i := range many {
		many[i] = "n" + strconv.Itoa(i) + ".internal"
	}
	tampered := good(Identity{ClusterID: "c-1", NodeID: "n1"}, nil, ip)
	blk, _ := pem.Decode(tampered)
	blk.Bytes[len(blk.Bytes)-5] ^= 0xff
	tests := []struct {
		name    string
		csr     []byte
		node    string
		want    string
		foreign bool
	}{
		{"other cluster", good(Identity{ClusterID: "c-2", NodeID: "n1"}, nil, ip), "n1", "aerolith://cluster/c-2/node/n1", true},
		{"other node", good(Identity{ClusterID: "c-1", NodeID: "n2"}, nil, ip), "n1", "may only obtain aerolith://cluster/c-1/node/n1", true},
		{"http uri", rawCSR(t, "ecdsa", &x509.CertificateRequest{IPAddresses: nil, DNSNames: []string{"a"}, URIs: []*url.URL{{Scheme: "https", Host: "x"}}}), "n1", "not an aerolith identity", true},
		{"two uris", rawCSR(t, "ecdsa", &x509.CertificateRequest{DNSNames: []string{"a"}, URIs: []*url.URL{Identity{ClusterID: "c-1", NodeID: "n1"}.URI(), Identity{ClusterID: "c-1"}.URI()}}), "n1", "2 URIs", false},
		{"bad node id", good(Identity{ClusterID: "c-1", NodeID: "n1"}, nil, ip), "../n1", "node_id: invalid id", false},
		{"empty node id", good(Identity{ClusterID: "c-1", NodeID: "n1"}, nil, ip), "", "node_id: required", false},
		{"too many names", rawCSR(t, "ecdsa", &x509.CertificateRequest{DNSNames: many}), "n1", "at most 16", false},
		{"no names", rawCSR(t, "ecdsa", &x509.CertificateRequest{}), "n1", "at least one DNS name or IP", false},
		{"wildcard", rawCSR(t, "ecdsa", &x509.CertificateRequest{DNSNames: []string{"*.example.com"}}), "n1", "not a valid DNS name", false},
		{"email", rawCSR(t, "ecdsa", &x509.CertificateRequest{DNSNames: []string{"a"}, EmailAddresses: []string{"x@y"}}), "n1", "e-mail", false},
		{"rsa", rawCSR(t, "rsa", &x509.CertificateRequest{DNSNames: []string{"a"}}), "n1", "key algorithm", false},
		{"p384", rawCSR(t, "p384", &x509.CertificateRequest{DNSNames: []string{"a"}}), "n1", "key algorithm ecdsa-P-384", false},
		{"not pem", []byte("hello"), "n1", "no PEM block", false},
		{"a certificate", ca.CertPEM(), "n1", `"CERTIFICATE", want a CERTIFICATE REQUEST`, false},
		{"bad signature", pem.EncodeToMemory(blk), "n1", "csr:", false},
		{"trailing", append(good(Identity{ClusterID: "c-1", NodeID: "n1"}, nil, ip), "junk"...), "n1", "trailing data", false},
		{"huge", []byte(strings.Repeat("a", maxCSRBytes+1)), "n1", "larger than", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := SignNodeCSR(ca, NodeCSRRequest{CSR: tt.csr, NodeID: tt.node})
			if err == nil {
				t.Fatal("SignNodeCSR accepted the request")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if errors.Is(err, ErrForeignIdentity) != tt.foreign {
				t.Fatalf("errors.Is(err, ErrForeignIdentity) = %v, want %v (err %v)", !tt.foreign, tt.foreign, err)
			}
		})
	}
}

func TestParseCA(t *testing.T) {
	ca := testCA(t, "c-1", Ed25519)
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseCA(ca.CertPEM(), keyPEM)
	if err != nil {
		t.Fatalf("ParseCA: %v", err)
	}
	if back.ClusterID != "c-1" || !back.Cert.Equal(ca.Cert) {
		t.Fatalf("ParseCA = %+v", back)
	}
	other := testCA(t, "c-2", "")
	otherKey, _ := other.KeyPEM()
	if _, err := ParseCA(ca.CertPEM(), otherKey); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("ParseCA with a foreign key: %v", err)
	}
	node, _, _ := IssueNode(ca, NodeRequest{NodeID: "n1", IPs: []string{"10.0.0.1"}})
	if _, err := ParseCA(node, keyPEM); err == nil || !strings.Contains(err.Error(), "not an Aerolith cluster CA") {
		t.Fatalf("ParseCA of a node certificate: %v", err)
	}
}

// FuzzSignNodeCSR feeds arbitrary requests to the signer billing runs on
// untrusted input: it must never panic, and whatever it signs names
// exactly the node asked for in the CA's cluster.
func FuzzSignNodeCSR(f *testing.F) {
	ca, err := NewCA(CAConfig{ClusterID: "c-1"})
	if err != nil {
		f.Fatal(err)
	}
	key, _, _ := NewNodeKey("")
	for _, id := range []Identity{{ClusterID: "c-1", NodeID: "n1"}, {ClusterID: "c-2", NodeID: "n1"}} {
		b, err := NodeCSR(key, id, []string{"n1.internal"}, []string{"10.0.0.1"})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "n1")
	}
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"), "n1")
	f.Add(ca.CertPEM(), "x")
	f.Fuzz(func(t *testing.T, csr []byte, node string) {
		certPEM, _, err := SignNodeCSR(ca, NodeCSRRequest{CSR: csr, NodeID: node})
		if err != nil {
			return
		}
		certs, err := ParseCertificates(certPEM)
		if err != nil {
			t.Fatalf("signed an unparsable certificate: %v", err)
		}
		if id, ok := IdentityOf(certs[0]); !ok || id != (Identity{ClusterID: "c-1", NodeID: node}) {
			t.Fatalf("signed identity %+v for node %q", id, node)
		}
		if n := len(certs[0].DNSNames) + len(certs[0].IPAddresses); n == 0 || n > MaxCSRNames {
			t.Fatalf("signed %d names", n)
		}
	})
}
