package seal

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sealed value format (integers big-endian):
//
//	0xAE 'V' 0x01 | key version (4) | nonce (24) | XChaCha20-Poly1305 ciphertext and tag
//
// The associated data is the 31-byte header, the scope (2-byte length, then
// its bytes) and the caller's aad, so a value copied to another scope or
// record, or relabelled with another version, fails to open. The first byte
// can never start UTF-8 text, so sealed values and plaintext JSON are told
// apart (IsSealed) while data is being migrated.
const (
	kindValue    = 'V'
	valueVersion = 1
	valueHeader  = 3 + 4 + chacha20poly1305.NonceSizeX

	// Overhead is how many bytes Seal adds to a plaintext.
	Overhead = valueHeader + chacha20poly1305.Overhead
)

// Seal encrypts plaintext for scope under the scope's current data key,
// binding aad (e.g. collection and document id) and scope. It returns
// ErrNoKey if scope has no key, ErrKeyUnavailable if its current key is not
// unwrapped on this node. Each call draws a fresh random nonce.
func (k *Keyring) Seal(scope string, plaintext, aad []byte) ([]byte, error) {
	k.mu.RLock()
	sk := k.scopes[scope]
	var dk *dataKey
	if sk != nil {
		dk = sk.versions[sk.current]
	}
	k.mu.RUnlock()
	if dk == nil {
		return nil, fmt.Errorf("%w: scope %q", ErrNoKey, scope)
	}
	if dk.aead == nil {
		return nil, fmt.Errorf("%w: scope %q version %d", ErrKeyUnavailable, scope, dk.w.Version)
	}
	out := make([]byte, valueHeader, len(plaintext)+Overhead)
	out[0], out[1], out[2] = magic, kindValue, valueVersion
	binary.BigEndian.PutUint32(out[3:7], dk.w.Version)
	rand.Read(out[7:valueHeader])
	return dk.aead.Seal(out, out[7:valueHeader], plaintext, valueAAD(out[:valueHeader], scope, aad)), nil
}

// Open decrypts a value Seal returned for the same scope and aad, with the
// key version named in its header, so values sealed before a rotation stay
// readable. Errors: ErrDecrypt for anything malformed, tampered, or sealed
// for another scope or aad; ErrUnknownKeyVersion if the keyring does not hold
// that version of scope; ErrKeyUnavailable if it holds it but could not
// unwrap it here.
func (k *Keyring) Open(scope string, ciphertext, aad []byte) ([]byte, error) {
	version, err := KeyVersion(ciphertext)
	if err != nil {
		return nil, err
	}
	k.mu.RLock()
	dk := k.lookup(scope, version)
	k.mu.RUnlock()
	if dk == nil {
		return nil, fmt.Errorf("%w: scope %q has no key version %d", ErrUnknownKeyVersion, scope, version)
	}
	if dk.aead == nil {
		return nil, fmt.Errorf("%w: scope %q version %d", ErrKeyUnavailable, scope, version)
	}
	pt, err := dk.aead.Open(nil, ciphertext[7:valueHeader], ciphertext[valueHeader:], valueAAD(ciphertext[:valueHeader], scope, aad))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// Reseal opens a sealed value and seals it again under scope's current key:
// the step of background re-encryption after Rotate. Plaintext input is
// refused (ErrDecrypt) rather than guessed at; seal it with Seal.
func (k *Keyring) Reseal(scope string, ciphertext, aad []byte) ([]byte, error) {
	pt, err := k.Open(scope, ciphertext, aad)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return k.Seal(scope, pt, aad)
}

// NeedsReencrypt reports whether a stored value is not sealed under scope's
// current key version: plaintext (not IsSealed), or sealed under an older
// (or unknown) version. It only reads the header; it does not authenticate.
func (k *Keyring) NeedsReencrypt(scope string, value []byte) bool {
	v, err := KeyVersion(value)
	if err != nil {
		return true
	}
	cur, ok := k.Current(scope)
	return !ok || v != cur
}

// IsSealed reports whether b has the shape of a value Seal returned (a
// header check, not authentication).
func IsSealed(b []byte) bool {
	return len(b) >= Overhead && b[0] == magic && b[1] == kindValue && b[2] == valueVersion
}

// KeyVersion returns the key version named in a sealed value's header, or
// ErrDecrypt if b is not shaped like a sealed value.
func KeyVersion(b []byte) (uint32, error) {
	if !IsSealed(b) {
		return 0, ErrDecrypt
	}
	return binary.BigEndian.Uint32(b[3:7]), nil
}

// valueAAD is the associated data of a sealed value.
func valueAAD(header []byte, scope string, aad []byte) []byte {
	b := make([]byte, 0, len(header)+2+len(scope)+len(aad))
	b = append(b, header...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(scope)))
	b = append(b, scope...)
	return append(b, aad...)
}
