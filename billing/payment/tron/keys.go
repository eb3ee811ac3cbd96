package tron

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"golang.org/x/crypto/sha3"
)

// ErrBadSignature is wrapped by every signature decoding or recovery error.
var ErrBadSignature = errors.New("invalid signature")

// SignatureLen is the length of a Tron signature: r, s and the recovery id.
const SignatureLen = 65

// Keccak256 is the legacy (pre-FIPS) Keccak-256 that Tron and Ethereum use.
func Keccak256(parts ...[]byte) [32]byte {
	h := sha3.NewLegacyKeccak256()
	for _, p := range parts {
		h.Write(p)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// PublicKeyAddress is the Tron address of a secp256k1 public key: 0x41 and
// the last 20 bytes of the Keccak-256 hash of the uncompressed key without
// its 0x04 marker.
func PublicKeyAddress(pub *secp256k1.PublicKey) Address {
	h := Keccak256(pub.SerializeUncompressed()[1:])
	var a Address
	a[0] = AddressPrefix
	copy(a[1:], h[12:])
	return a
}

// ParsePrivateKey reads a private key as 64 hex digits (TronLink's export
// format; an optional 0x is accepted).
func ParsePrivateKey(s string) (*secp256k1.PrivateKey, error) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "0x"))
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, errors.New("invalid tron private key: want 64 hex digits")
	}
	var k secp256k1.ModNScalar
	if overflow := k.SetByteSlice(b); overflow || k.IsZero() {
		return nil, errors.New("invalid tron private key: out of range")
	}
	return secp256k1.NewPrivateKey(&k), nil
}

// Sign signs a 32-byte digest and returns r ‖ s ‖ v with v the recovery id
// plus 27, the form TronWeb and TronLink produce (java-tron writes 0/1;
// RecoverSigner accepts both).
func Sign(key *secp256k1.PrivateKey, digest [32]byte) []byte {
	compact := ecdsa.SignCompact(key, digest[:], false)
	// compact is v ‖ r ‖ s with v = 27 + recovery id for uncompressed keys.
	sig := make([]byte, SignatureLen)
	copy(sig, compact[1:])
	sig[64] = compact[0]
	return sig
}

// RecoverSigner returns the address whose key made sig over digest. sig is
// r ‖ s ‖ v with v in {0, 1, 27, 28}; anything else, or a signature that
// recovers no key, is ErrBadSignature.
func RecoverSigner(digest [32]byte, sig []byte) (Address, error) {
	if len(sig) != SignatureLen {
		return Address{}, fmt.Errorf("%w: %d bytes, want %d", ErrBadSignature, len(sig), SignatureLen)
	}
	v := sig[64]
	switch v {
	case 0, 1:
		v += 27
	case 27, 28:
	default:
		return Address{}, fmt.Errorf("%w: recovery id %d, want 0, 1, 27 or 28", ErrBadSignature, sig[64])
	}
	compact := make([]byte, SignatureLen)
	compact[0] = v
	copy(compact[1:], sig[:64])
	pub, _, err := ecdsa.RecoverCompact(compact, digest[:])
	if err != nil {
		return Address{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return PublicKeyAddress(pub), nil
}

// DecodeHex decodes hex with or without a 0x prefix.
func DecodeHex(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	return hex.DecodeString(s)
}
