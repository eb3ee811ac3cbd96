package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aerolithdb/aerolith/internal/atomicfile"
)

// NodeRequest says what node certificate IssueNode creates.
type NodeRequest struct {
	// NodeID is the node's id (the agent's --node-id); required. It becomes
	// the common name and the URI SAN aerolith://cluster/<cluster>/node/<id>.
	NodeID string
	// DNSNames and IPs are the addresses peers and clients reach the node
	// at; at least one is required.
	DNSNames []string
	IPs      []string
	// TTL is how long the certificate is valid; zero means DefaultNodeTTL.
	// It is cut to the CA's own expiry.
	TTL time.Duration
	// Algorithm of the node key; empty means the CA's algorithm.
	Algorithm Algorithm
	// Now is the issue time; zero means time.Now().
	Now time.Time
}

// IssueNode issues a node certificate signed by ca and returns it and its
// fresh private key as PEM: everything a VM needs at boot besides the CA
// bundle (ca.CertPEM). The certificate is valid for server and client
// authentication (mutual TLS between agents in both directions). Errors
// name the bad field (node, dns, ip, ttl, algo) or the CA's problem.
func IssueNode(ca *CA, req NodeRequest) (certPEM, keyPEM []byte, err error) {
	if err := checkID("node", req.NodeID); err != nil {
		return nil, nil, err
	}
	if ca == nil {
		return nil, nil, errors.New("ca: no CA given")
	}
	return issue(ca, leafRequest{
		commonName: req.NodeID,
		dns:        req.DNSNames,
		ips:        req.IPs,
		ttl:        req.TTL,
		algo:       req.Algorithm,
		now:        req.Now,
		usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		uri:        &Identity{ClusterID: ca.ClusterID, NodeID: req.NodeID},
	})
}

// ServerRequest says what server certificate IssueServer creates.
type ServerRequest struct {
	// Name is the common name; empty means the first DNS name or IP.
	Name string
	// DNSNames and IPs are the names clients use to reach the server; at
	// least one is required.
	DNSNames []string
	IPs      []string
	// TTL is how long the certificate is valid; zero means DefaultNodeTTL.
	// It is cut to the CA's own expiry.
	TTL time.Duration
	// Algorithm of the key; empty means the CA's algorithm.
	Algorithm Algorithm
	// Now is the issue time; zero means time.Now().
	Now time.Time
}

// IssueServer issues a server certificate for an HTTP API (the data API,
// billing) signed by ca: server authentication only, no node identity, so
// it cannot stand in for a node in mutual TLS. Errors name the bad field.
func IssueServer(ca *CA, req ServerRequest) (certPEM, keyPEM []byte, err error) {
	name := req.Name
	switch {
	case name != "":
	case len(req.DNSNames) > 0:
		name = req.DNSNames[0]
	case len(req.IPs) > 0:
		name = req.IPs[0]
	}
	return issue(ca, leafRequest{
		commonName: name,
		dns:        req.DNSNames,
		ips:        req.IPs,
		ttl:        req.TTL,
		algo:       req.Algorithm,
		now:        req.Now,
		usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		wildcards:  true,
	})
}

// leafRequest is what IssueNode and IssueServer have in common.
type leafRequest struct {
	commonName string
	dns, ips   []string
	ttl        time.Duration
	algo       Algorithm
	now        time.Time
	usages     []x509.ExtKeyUsage
	uri        *Identity
	wildcards  bool
	// pub, when set, is the holder's public key (from a certificate
	// request): no key is generated and issue returns no key PEM.
	pub crypto.PublicKey
}

func issue(ca *CA, req leafRequest) (certPEM, keyPEM []byte, err error) {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return nil, nil, errors.New("ca: no CA given")
	}
	if len(req.dns) == 0 && len(req.ips) == 0 {
		return nil, nil, errors.New("dns, ip: at least one DNS name or IP address is required (the addresses peers dial)")
	}
	for _, d := range req.dns {
		if err := checkDNSName(d, req.wildcards); err != nil {
			return nil, nil, err
		}
	}
	ips := make([]net.IP, 0, len(req.ips))
	for _, s := range req.ips {
		ip := net.ParseIP(strings.TrimSpace(s))
		if ip == nil {
			return nil, nil, fmt.Errorf("ip: %q is not an IP address", clip(s))
		}
		ips = append(ips, ip)
	}
	if req.ttl < 0 {
		return nil, nil, fmt.Errorf("ttl: %v is negative", req.ttl)
	}
	if req.ttl == 0 {
		req.ttl = DefaultNodeTTL
	}
	now := req.now
	if now.IsZero() {
		now = time.Now()
	}
	if now.After(ca.Cert.NotAfter) {
		return nil, nil, fmt.Errorf("ca: certificate of cluster %s expired at %s; create a new CA", ca.ClusterID, ca.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(ca.Cert.NotBefore) {
		return nil, nil, fmt.Errorf("ca: certificate of cluster %s is not valid before %s (check the clock)", ca.ClusterID, ca.Cert.NotBefore.UTC().Format(time.RFC3339))
	}
	var key crypto.Signer
	pub := req.pub
	if pub == nil {
		algo := req.algo
		if algo == "" {
			algo = algorithmOf(ca.Cert.PublicKey)
		}
		if _, err := ParseAlgorithm(string(algo)); err != nil {
			return nil, nil, err
		}
		if key, err = generateKey(algo); err != nil {
			return nil, nil, err
		}
		pub = key.Public()
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(req.ttl)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	notBefore := now.Add(-backdate)
	if notBefore.Before(ca.Cert.NotBefore) {
		notBefore = ca.Cert.NotBefore
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"Aerolith"},
			CommonName:   req.commonName,
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           req.usages,
		BasicConstraintsValid: true,
		DNSNames:              req.dns,
		IPAddresses:           ips,
	}
	if req.uri != nil {
		tmpl.URIs = []*url.URL{req.uri.URI()}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign certificate: %w", err)
	}
	if key == nil {
		return encodeCert(der), nil, nil
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	return encodeCert(der), keyPEM, nil
}

// checkDNSName validates a DNS SAN: dot-separated labels of letters,
// digits and '-', at most 253 characters; "*." may lead when wildcard.
func checkDNSName(name string, wildcard bool) error {
	bad := func(why string) error { return fmt.Errorf("dns: %q is not a valid DNS name: %s", clip(name), why) }
	s := name
	if wildcard && strings.HasPrefix(s, "*.") {
		s = s[2:]
	}
	if s == "" {
		return bad("empty")
	}
	if len(s) > 253 {
		return bad("longer than 253 characters")
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return bad("each label must have 1-63 characters")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return bad("a label must not start or end with '-'")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return bad("only letters, digits, '-' and '.' are allowed")
			}
		}
	}
	return nil
}

// WriteCert writes a certificate and its key to dir as tls.crt (0644) and
// tls.key (0600), and the CA bundle as ca.crt when caPEM is not empty,
// creating dir (0700) if needed. Each file is replaced atomically (key
// first), so a Reloader watching dir sees the old pair or the new one.
func WriteCert(dir string, certPEM, keyPEM, caPEM []byte) error {
	if dir == "" {
		return errors.New("out: required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("out: %w", err)
	}
	files := []struct {
		name string
		data []byte
		perm os.FileMode
	}{{KeyFile, keyPEM, 0o600}, {CertFile, certPEM, 0o644}, {CACertFile, caPEM, 0o644}}
	for _, f := range files {
		if len(f.data) == 0 {
			continue
		}
		if err := atomicfile.Write(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return fmt.Errorf("out: write %s: %w", f.name, err)
		}
	}
	return nil
}
