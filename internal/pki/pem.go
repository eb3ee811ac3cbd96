package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
)

// PEM block types written and read by this package.
const (
	pemCertificate = "CERTIFICATE"
	pemPrivateKey  = "PRIVATE KEY"
)

// maxPEMBytes bounds what the loaders read from one file: a certificate
// bundle of a few dozen certificates fits many times over.
const maxPEMBytes = 1 << 20

// ParseCertificates decodes every CERTIFICATE block of a PEM file. Other
// block types (a key kept in the same file) are skipped. It fails when data
// holds no certificate or a certificate block does not parse; input is
// untrusted and never makes it panic.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if len(data) > maxPEMBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxPEMBytes)
	}
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != pemCertificate {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return certs, nil
}

// ParsePrivateKey decodes the first private key block of a PEM file:
// PKCS #8 ("PRIVATE KEY", what this package writes), SEC 1 ("EC PRIVATE
// KEY") or PKCS #1 ("RSA PRIVATE KEY", accepted for user-supplied server
// certificates). Input is untrusted and never makes it panic.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	if len(data) > maxPEMBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxPEMBytes)
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key block found")
		}
		var (
			k   any
			err error
		)
		switch block.Type {
		case pemPrivateKey:
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s block: %w", block.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s block: unsupported key type %T", block.Type, k)
		}
		return s, nil
	}
}

// ParseCertPool decodes a CA bundle: every CERTIFICATE block must parse
// and be a CA certificate.
func ParseCertPool(data []byte) (*x509.CertPool, []*x509.Certificate, error) {
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	for i, c := range certs {
		if !c.IsCA {
			return nil, nil, fmt.Errorf("certificate %d (%q) is not a CA certificate", i+1, c.Subject.CommonName)
		}
		pool.AddCert(c)
	}
	return pool, certs, nil
}

// LoadCertPool reads a CA bundle file (see ParseCertPool). Errors name the
// file.
func LoadCertPool(path string) (*x509.CertPool, error) {
	data, err := readPEMFile(path)
	if err != nil {
		return nil, err
	}
	pool, _, err := ParseCertPool(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pool, nil
}

// readPEMFile reads at most maxPEMBytes of a file; errors name the file.
func readPEMFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError names the file
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEMBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxPEMBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxPEMBytes)
	}
	return data, nil
}

// encodeCert returns der as a PEM CERTIFICATE block.
func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: der})
}

// encodeKey returns key as a PKCS #8 PEM block.
func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// Algorithm names a key algorithm for CA and node keys.
type Algorithm string

// The supported key algorithms. ECDSA P-256 is the default: every TLS
// stack speaks it. Ed25519 keys are smaller and faster to sign with.
const (
	ECDSAP256 Algorithm = "ecdsa"
	Ed25519   Algorithm = "ed25519"
)

// ParseAlgorithm maps a flag value to an Algorithm ("" means ECDSAP256).
func ParseAlgorithm(s string) (Algorithm, error) {
	switch Algorithm(s) {
	case "", ECDSAP256, "ecdsa-p256", "p256":
		return ECDSAP256, nil
	case Ed25519:
		return Ed25519, nil
	}
	return "", fmt.Errorf("algo: unknown algorithm %q; want ecdsa or ed25519", s)
}

// generateKey makes a fresh private key of algorithm a.
func generateKey(a Algorithm) (crypto.Signer, error) {
	switch a {
	case "", ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("algo: unknown algorithm %q; want ecdsa or ed25519", a)
}

// algorithmOf names the algorithm of key (for messages and defaults).
func algorithmOf(key crypto.PublicKey) Algorithm {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return ECDSAP256
		}
		return Algorithm("ecdsa-" + k.Curve.Params().Name)
	case ed25519.PublicKey:
		return Ed25519
	}
	return Algorithm(fmt.Sprintf("%T", key))
}
