// Package pki is Aerolith's per-cluster certificate authority and the TLS
// plumbing built on it.
//
// Every cluster has its own CA (NewCA, Save, LoadCA): a self-signed
// certificate that carries the cluster id as a URI SAN
// (aerolith://cluster/<cluster-id>). Node certificates (IssueNode) are
// short-lived, signed by that CA, valid for both server and client
// authentication so one certificate serves mutual TLS in both directions,
// and name the node in the common name and as a URI SAN
// (aerolith://cluster/<cluster-id>/node/<node-id>). Server certificates
// (IssueServer) are for the HTTP APIs.
//
// A Reloader serves the current certificate and CA bundle from files and
// replaces them when they change (Poll, Run) or on demand (Reload, for
// SIGHUP); a bad new file never replaces a good certificate. ServerConfig
// and ClientConfig build tls.Configs over a Reloader that verify peers
// against the current CA bundle, so rotation needs no restart.
//
// Files are PEM: certificates as CERTIFICATE blocks, keys as PKCS #8
// PRIVATE KEY blocks written with mode 0600, every write atomic (temporary
// file and rename).
package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/aerolithdb/aerolith/internal/atomicfile"
)

// File names inside a CA directory and a certificate output directory.
const (
	CACertFile = "ca.crt"  // the CA certificate (bundle), mode 0644
	CAKeyFile  = "ca.key"  // the CA private key, mode 0600
	CertFile   = "tls.crt" // a node or server certificate, mode 0644
	KeyFile    = "tls.key" // its private key, mode 0600
)

// Validity defaults.
const (
	DefaultCATTL   = 10 * 365 * 24 * time.Hour
	DefaultNodeTTL = 30 * 24 * time.Hour
	// backdate starts a certificate's validity a little before its issue
	// time, so a peer whose clock lags (a VM just booted) accepts it.
	backdate = 5 * time.Minute
)

// URIScheme is the scheme of the URI SANs that carry Aerolith identities.
const URIScheme = "aerolith"

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// idWant describes idPattern in errors.
const idWant = "1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"

// ValidID reports whether id may be a cluster or node id in a certificate:
// 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or
// digit (a superset of the agent's node ids and billing's cluster ids).
func ValidID(id string) bool { return idPattern.MatchString(id) }

// checkID validates id for field; the message names the field.
func checkID(field, id string) error {
	if id == "" {
		return fmt.Errorf("%s: required (%s)", field, idWant)
	}
	if !ValidID(id) {
		return fmt.Errorf("%s: invalid id %q (want %s)", field, clip(id), idWant)
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Identity is what an Aerolith certificate says about its holder.
type Identity struct {
	// ClusterID is the cluster whose CA issued (or is) the certificate.
	ClusterID string
	// NodeID is the node a node certificate belongs to; empty for a CA or
	// a server certificate.
	NodeID string
}

// URI returns the identity as a URI SAN: aerolith://cluster/<cluster-id>
// for a CA, aerolith://cluster/<cluster-id>/node/<node-id> for a node.
func (id Identity) URI() *url.URL {
	p := "/" + id.ClusterID
	if id.NodeID != "" {
		p += "/node/" + id.NodeID
	}
	return &url.URL{Scheme: URIScheme, Host: "cluster", Path: p}
}

// IdentityOf reads the Aerolith identity from cert's URI SANs. It reports
// false when cert carries no aerolith URI, or more than one, or one that
// does not parse.
func IdentityOf(cert *x509.Certificate) (Identity, bool) {
	var (
		found Identity
		n     int
	)
	for _, u := range cert.URIs {
		if u.Scheme != URIScheme {
			continue
		}
		n++
		id, ok := parseIdentityURI(u)
		if !ok {
			return Identity{}, false
		}
		found = id
	}
	if n != 1 {
		return Identity{}, false
	}
	return found, true
}

func parseIdentityURI(u *url.URL) (Identity, bool) {
	if u.Host != "cluster" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return Identity{}, false
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	switch {
	case len(parts) == 1 && ValidID(parts[0]):
		return Identity{ClusterID: parts[0]}, true
	case len(parts) == 3 && ValidID(parts[0]) && parts[1] == "node" && ValidID(parts[2]):
		return Identity{ClusterID: parts[0], NodeID: parts[2]}, true
	}
	return Identity{}, false
}

// CA is a cluster's certificate authority: its certificate and key.
// A CA is safe for concurrent use by the Issue functions.
type CA struct {
	// Cert is the self-signed CA certificate.
	Cert *x509.Certificate
	// Key is the CA's private key.
	Key crypto.Signer
	// ClusterID is the cluster the CA belongs to (from its URI SAN).
	ClusterID string

	certPEM []byte
}

// CertPEM returns the CA certificate as PEM, the CA bundle nodes and
// clients trust.
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// CAConfig says what CA NewCA creates.
type CAConfig struct {
	// ClusterID is the cluster the CA belongs to; required.
	ClusterID string
	// Algorithm of the CA key; empty means ECDSAP256.
	Algorithm Algorithm
	// TTL is how long the CA is valid; zero means DefaultCATTL.
	TTL time.Duration
	// Now is the issue time; zero means time.Now().
	Now time.Time
}

// NewCA creates a cluster CA in memory: a fresh key and a self-signed
// certificate naming the cluster. Save writes it out. Errors name the bad
// field.
func NewCA(cfg CAConfig) (*CA, error) {
	if err := checkID("cluster-id", cfg.ClusterID); err != nil {
		return nil, err
	}
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("ttl: %v is negative", cfg.TTL)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultCATTL
	}
	now := cfg.Now
	if now.IsZero() {
		now = time.Now()
	}
	key, err := generateKey(cfg.Algorithm)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	id := Identity{ClusterID: cfg.ClusterID}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"Aerolith"},
			CommonName:   "Aerolith cluster CA " + cfg.ClusterID,
		},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(cfg.TTL),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		URIs:                  []*url.URL{id.URI()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key, ClusterID: cfg.ClusterID, certPEM: encodeCert(der)}, nil
}

// ErrCAExists is returned by Save when the directory already holds a CA key.
var ErrCAExists = errors.New("a CA key already exists there")

// Save writes the CA to dir as ca.crt (0644) and ca.key (0600), creating
// dir (0700) if needed. It never overwrites a CA key: an existing ca.key
// fails with ErrCAExists.
func (ca *CA) Save(dir string) error {
	if dir == "" {
		return errors.New("dir: required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("dir: %w", err)
	}
	keyPath := filepath.Join(dir, CAKeyFile)
	if _, err := os.Lstat(keyPath); err == nil {
		return fmt.Errorf("dir: %s: %w", keyPath, ErrCAExists)
	}
	keyPEM, err := encodeKey(ca.Key)
	if err != nil {
		return fmt.Errorf("encode CA key: %w", err)
	}
	if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
		return fmt.Errorf("write CA key: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, CACertFile), ca.certPEM, 0o644); err != nil {
		return fmt.Errorf("write CA certificate: %w", err)
	}
	return nil
}

// LoadCA reads a CA written by Save from dir. It fails when a file is
// missing or malformed, when the key does not belong to the certificate,
// when the certificate is not an Aerolith cluster CA, or when ca.key is
// readable by group or others.
func LoadCA(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	certPEM, err := readPEMFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("ca-dir: %w", err)
	}
	certs, err := ParseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("ca-dir: %s: %w", certPath, err)
	}
	cert := certs[0]
	if !cert.IsCA {
		return nil, fmt.Errorf("ca-dir: %s is not a CA certificate", certPath)
	}
	id, ok := IdentityOf(cert)
	if !ok || id.NodeID != "" {
		return nil, fmt.Errorf("ca-dir: %s is not an Aerolith cluster CA (no aerolith://cluster/<id> URI)", certPath)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(keyPath); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("ca-dir: %s has mode %#o, readable by others; chmod 600 it", keyPath, fi.Mode().Perm())
		}
	}
	keyPEM, err := readPEMFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("ca-dir: %w", err)
	}
	ca, err := caOf(cert, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("ca-dir: %s: %w", keyPath, err)
	}
	return ca, nil
}

// caOf pairs a CA certificate (already checked to be a cluster CA) with
// its PEM key.
func caOf(cert *x509.Certificate, keyPEM []byte) (*CA, error) {
	id, _ := IdentityOf(cert)
	key, err := ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, errors.New("the key does not belong to the CA certificate")
	}
	return &CA{Cert: cert, Key: key, ClusterID: id.ClusterID, certPEM: encodeCert(cert.Raw)}, nil
}

// publicKeysEqual compares two public keys of any supported type.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// newSerial returns a random positive 128-bit serial number.
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
