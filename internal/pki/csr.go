package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Certificates through enrollment: a node makes its own key, which never
// leaves it, and sends a certificate request (CSR) to whoever holds the
// cluster's CA (billing, see billing/api), which signs it with SignNodeCSR
// after checking the identity and addresses it asks for.

// MaxCSRNames bounds the DNS names and IP addresses, together, a node
// certificate request may ask for.
const MaxCSRNames = 16

// maxCSRBytes bounds a PEM certificate request: a request with
// MaxCSRNames long names fits several times over.
const maxCSRBytes = 16 << 10

// pemCSR is the PEM block type of a certificate request.
const pemCSR = "CERTIFICATE REQUEST"

// ErrForeignIdentity is returned by SignNodeCSR for a request naming
// another cluster or node than the one it is signed for.
var ErrForeignIdentity = errors.New("the request names another identity")

// NewNodeKey generates a node key of algorithm a (empty: ECDSA P-256) and
// returns it with its PKCS #8 PEM encoding.
func NewNodeKey(a Algorithm) (crypto.Signer, []byte, error) {
	key, err := generateKey(a)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	return key, keyPEM, nil
}

// NodeCSR returns a PEM certificate request signed by key for node
// id.NodeID of cluster id.ClusterID (its URI SAN) at the given DNS names
// and IP addresses. Errors name the bad field.
func NodeCSR(key crypto.Signer, id Identity, dnsNames, ips []string) ([]byte, error) {
	if err := checkID("cluster-id", id.ClusterID); err != nil {
		return nil, err
	}
	if err := checkID("node", id.NodeID); err != nil {
		return nil, err
	}
	names, err := checkNames(dnsNames, ips)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.CertificateRequest{
		Subject:     pkix.Name{Organization: []string{"Aerolith"}, CommonName: id.NodeID},
		DNSNames:    dnsNames,
		IPAddresses: names,
		URIs:        []*url.URL{id.URI()},
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("create certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemCSR, Bytes: der}), nil
}

// checkNames validates the addresses of a node certificate: at least one,
// at most MaxCSRNames, DNS names without wildcards, IPs that can be
// dialed.
func checkNames(dnsNames, ips []string) ([]net.IP, error) {
	if n := len(dnsNames) + len(ips); n == 0 {
		return nil, errors.New("dns, ip: at least one DNS name or IP address is required (the addresses peers dial)")
	} else if n > MaxCSRNames {
		return nil, fmt.Errorf("dns, ip: %d names asked for; at most %d are allowed", n, MaxCSRNames)
	}
	for _, d := range dnsNames {
		if err := checkDNSName(d, false); err != nil {
			return nil, err
		}
	}
	out := make([]net.IP, 0, len(ips))
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("ip: %q is not an IP address", clip(s))
		}
		if ip.IsUnspecified() || ip.IsMulticast() {
			return nil, fmt.Errorf("ip: %s is not an address a peer can dial", ip)
		}
		out = append(out, ip)
	}
	return out, nil
}

// ParseCSR decodes a PEM certificate request (exactly one CERTIFICATE
// REQUEST block) and checks its signature. Input is untrusted and never
// makes it panic; errors say what is wrong.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	if len(data) > maxCSRBytes {
		return nil, fmt.Errorf("csr: larger than %d bytes", maxCSRBytes)
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("csr: no PEM block found (want a PEM CERTIFICATE REQUEST)")
	}
	if block.Type != pemCSR {
		return nil, fmt.Errorf("csr: PEM block is a %q, want a CERTIFICATE REQUEST", clip(block.Type))
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("csr: trailing data after the CERTIFICATE REQUEST block")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("csr: signature does not verify: %w", err)
	}
	return csr, nil
}

// NodeCSRRequest says how SignNodeCSR signs a request.
type NodeCSRRequest struct {
	// CSR is the PEM certificate request (ParseCSR).
	CSR []byte
	// NodeID is the node the certificate is for (the request's URI SAN, if
	// it has one, must name exactly this node of the CA's cluster).
	NodeID string
	// TTL is how long the certificate is valid; zero means DefaultNodeTTL.
	// It is cut to the CA's own expiry.
	TTL time.Duration
	// Now is the issue time; zero means time.Now().
	Now time.Time
}

// IssuedCert describes a certificate SignNodeCSR issued, for audit
// records and answers.
type IssuedCert struct {
	Serial   string // hex
	NotAfter time.Time
	DNSNames []string
	IPs      []string
}

// SignNodeCSR issues a node certificate of ca for a certificate request:
// aerolith://cluster/<ca's cluster>/node/<NodeID>, server and client
// authentication, the DNS names and IPs the request asks for (at most
// MaxCSRNames), its public key (ECDSA P-256 or Ed25519). The request must
// not ask for e-mail addresses or other URIs. A request naming another
// cluster or node fails with ErrForeignIdentity; other errors name what
// is wrong with the request.
func SignNodeCSR(ca *CA, req NodeCSRRequest) (certPEM []byte, info IssuedCert, err error) {
	if ca == nil {
		return nil, IssuedCert{}, errors.New("ca: no CA given")
	}
	if err := checkID("node_id", req.NodeID); err != nil {
		return nil, IssuedCert{}, err
	}
	csr, err := ParseCSR(req.CSR)
	if err != nil {
		return nil, IssuedCert{}, err
	}
	want := Identity{ClusterID: ca.ClusterID, NodeID: req.NodeID}
	if len(csr.URIs) > 1 {
		return nil, IssuedCert{}, fmt.Errorf("csr: %d URIs asked for; a node certificate carries exactly its own identity (%s)", len(csr.URIs), want.URI())
	}
	if len(csr.URIs) == 1 {
		got, ok := parseIdentityURI(csr.URIs[0])
		if !ok || csr.URIs[0].Scheme != URIScheme {
			return nil, IssuedCert{}, fmt.Errorf("%w: csr asks for URI %q, not an aerolith identity (want %s)", ErrForeignIdentity, clip(csr.URIs[0].String()), want.URI())
		}
		if got != want {
			return nil, IssuedCert{}, fmt.Errorf("%w: csr asks for %s, but this enrollment may only obtain %s", ErrForeignIdentity, got.URI(), want.URI())
		}
	}
	if len(csr.EmailAddresses) > 0 {
		return nil, IssuedCert{}, errors.New("csr: e-mail addresses are not allowed in a node certificate")
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, IssuedCert{}, fmt.Errorf("csr: key algorithm %s is not accepted; use ecdsa (P-256) or ed25519", algorithmOf(k))
		}
	case ed25519.PublicKey:
	default:
		return nil, IssuedCert{}, fmt.Errorf("csr: key algorithm %s is not accepted; use ecdsa (P-256) or ed25519", algorithmOf(k))
	}
	ips := make([]string, len(csr.IPAddresses))
	for i, ip := range csr.IPAddresses {
		ips[i] = ip.String()
	}
	if _, err := checkNames(csr.DNSNames, ips); err != nil {
		return nil, IssuedCert{}, err
	}
	certPEM, _, err = issue(ca, leafRequest{
		commonName: req.NodeID,
		dns:        csr.DNSNames,
		ips:        ips,
		ttl:        req.TTL,
		now:        req.Now,
		usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		uri:        &want,
		pub:        csr.PublicKey,
	})
	if err != nil {
		return nil, IssuedCert{}, err
	}
	certs, err := ParseCertificates(certPEM)
	if err != nil {
		return nil, IssuedCert{}, fmt.Errorf("parse issued certificate: %w", err)
	}
	return certPEM, IssuedCert{Serial: certs[0].SerialNumber.Text(16), NotAfter: certs[0].NotAfter, DNSNames: csr.DNSNames, IPs: ips}, nil
}

// KeyPEM returns the CA's private key as PKCS #8 PEM, for a holder that
// keeps CAs in its own storage (billing's replicated state) rather than
// in files (Save).
func (ca *CA) KeyPEM() ([]byte, error) { return encodeKey(ca.Key) }

// ParseCA rebuilds a CA from its certificate and key PEM (CertPEM,
// KeyPEM). It fails when either does not parse, when the certificate is
// not an Aerolith cluster CA, or when the key does not belong to it.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	certs, err := ParseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	cert := certs[0]
	if id, ok := IdentityOf(cert); !cert.IsCA || !ok || id.NodeID != "" {
		return nil, errors.New("ca certificate: not an Aerolith cluster CA (no aerolith://cluster/<id> URI)")
	}
	ca, err := caOf(cert, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("ca key: %w", err)
	}
	return ca, nil
}
