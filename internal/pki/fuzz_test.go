package pki

import (
	"bytes"
	"testing"
	"time"
)

// fuzzSeeds returns a valid node certificate, its key and its CA bundle.
func fuzzSeeds(f *testing.F) (certPEM, keyPEM, caPEM []byte) {
	f.Helper()
	ca, err := NewCA(CAConfig{ClusterID: "c-1", Now: time.Now().Add(-time.Hour)})
	if err != nil {
		f.Fatal(err)
	}
	certPEM, keyPEM, err = IssueNode(ca, NodeRequest{NodeID: "n1", IPs: []string{"127.0.0.1"}})
	if err != nil {
		f.Fatal(err)
	}
	return certPEM, keyPEM, ca.CertPEM()
}

// FuzzParsePEM feeds untrusted bytes to each PEM parser: none panics, and
// whatever parses re-encodes to something that parses the same.
func FuzzParsePEM(f *testing.F) {
	certPEM, keyPEM, caPEM := fuzzSeeds(f)
	for _, seed := range [][]byte{
		certPEM, keyPEM, caPEM,
		append(append([]byte{}, certPEM...), keyPEM...),
		certPEM[:len(certPEM)/2],
		[]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
		[]byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"),
		[]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"),
		nil,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if certs, err := ParseCertificates(data); err == nil {
			if len(certs) == 0 {
				t.Fatal("ParseCertificates succeeded with no certificate")
			}
			var again []byte
			for _, c := range certs {
				again = append(again, encodeCert(c.Raw)...)
			}
			round, err := ParseCertificates(again)
			if err != nil || len(round) != len(certs) {
				t.Fatalf("re-encoded certificates do not parse: %v", err)
			}
			_, _ = IdentityOf(certs[0])
		}
		if key, err := ParsePrivateKey(data); err == nil {
			enc, err := encodeKey(key)
			if err != nil {
				return // a key type PKCS #8 cannot hold
			}
			back, err := ParsePrivateKey(enc)
			if err != nil || !publicKeysEqual(back.Public(), key.Public()) {
				t.Fatalf("re-encoded key does not parse to the same key: %v", err)
			}
		}
		if pool, cas, err := ParseCertPool(data); err == nil {
			if pool == nil || len(cas) == 0 {
				t.Fatal("ParseCertPool succeeded without certificates")
			}
			for _, c := range cas {
				if !c.IsCA {
					t.Fatal("ParseCertPool accepted a non-CA certificate")
				}
			}
		}
	})
}

// FuzzReloaderFiles feeds untrusted certificate, key and bundle files to
// the Reloader's loader: it never panics, and it accepts a set only when
// the key belongs to the certificate.
func FuzzReloaderFiles(f *testing.F) {
	certPEM, keyPEM, caPEM := fuzzSeeds(f)
	f.Add(certPEM, keyPEM, caPEM)
	f.Add(keyPEM, certPEM, caPEM)
	f.Add(certPEM, keyPEM, certPEM)
	f.Add(caPEM, keyPEM, caPEM)
	f.Add(bytes.Repeat(certPEM, 3), keyPEM, append(caPEM, caPEM...))
	f.Add([]byte{}, []byte{}, []byte{})
	r := &Reloader{cfg: ReloaderConfig{CertFile: "tls.crt", KeyFile: "tls.key", CAFile: "ca.crt", Now: time.Now}}
	f.Fuzz(func(t *testing.T, cert, key, ca []byte) {
		m, err := r.parse(files{cert: cert, key: key, ca: ca})
		if err != nil {
			return
		}
		if m.cert == nil || m.pool == nil {
			t.Fatal("accepted a set without certificate or bundle")
		}
		k, err := ParsePrivateKey(key)
		if err != nil || !publicKeysEqual(k.Public(), m.cert.Leaf.PublicKey) {
			t.Fatalf("accepted a key that does not belong to the certificate: %v", err)
		}
	})
}
