package seal

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeyWrapper encrypts and decrypts data keys under a master key that never
// leaves it: LocalMasterKey here, a cloud KMS (AWS KMS, GCP KMS, Azure Key
// Vault) later. aad is authenticated but not encrypted; Unwrap must fail
// unless it is given the aad Wrap was given. Implementations are safe for
// concurrent use, return errors wrapping ErrDecrypt for wrapped keys that are
// malformed or fail authentication, and never put key material in errors.
type KeyWrapper interface {
	// Wrap encrypts plaintextKey; the result is safe to store anywhere.
	Wrap(ctx context.Context, plaintextKey, aad []byte) ([]byte, error)
	// Unwrap returns the key Wrap was given.
	Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error)
	// ID names the master key (not secret; stored next to what it wraps
	// so a keyring holding several wrappers knows which one to ask).
	ID() string
}

// KeySize is the length in bytes of master keys, data keys and stream keys.
const KeySize = chacha20poly1305.KeySize

// maxWrapKey bounds what a LocalMasterKey wraps (data keys are KeySize).
const maxWrapKey = 1024

// Wrapped-key format of LocalMasterKey (all integers big-endian):
//
//	0xAE 'K' 0x01 | id length (1 byte) | id | nonce (24) | XChaCha20-Poly1305(key)
//
// The associated data is everything before the ciphertext followed by the
// caller's aad, so neither the header nor the id can be swapped.
const (
	magic          = 0xAE
	kindWrappedKey = 'K'
	wrapVersion    = 1
)

// LocalMasterKey is a KeyWrapper holding a 32-byte master key in memory,
// loaded from a file (LoadMasterKeyFile), an environment variable
// (MasterKeyFromEnv) or text (ParseMasterKey). It wraps with
// XChaCha20-Poly1305 and a random 24-byte nonce. Its ID is "local:" and 16
// hex digits of an HMAC of the key (a fingerprint, not key material). It is
// safe for concurrent use. Every fmt verb, String, GoString and slog print
// only the ID.
type LocalMasterKey struct {
	aead cipher.AEAD
	id   string
}

var _ KeyWrapper = (*LocalMasterKey)(nil)

// NewLocalMasterKey returns a master key holding a copy of key, which must be
// KeySize bytes.
func NewLocalMasterKey(key []byte) (*LocalMasterKey, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: master key: length %d bytes, want %d", len(key), KeySize)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("seal: master key: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("aerolith seal master key id v1"))
	return &LocalMasterKey{aead: aead, id: "local:" + hex.EncodeToString(mac.Sum(nil)[:8])}, nil
}

// ParseMasterKey reads a master key written as text: 64 hex digits or the
// base64 (standard or URL alphabet, padded or not) of 32 bytes, surrounding
// white space ignored. Errors say what was expected, never what was found.
func ParseMasterKey(text []byte) (*LocalMasterKey, error) {
	key, err := parseKeyText(text)
	if err != nil {
		return nil, fmt.Errorf("seal: master key: %w", err)
	}
	defer clear(key)
	return NewLocalMasterKey(key)
}

// MasterKeyFromEnv reads a master key from the environment variable name,
// in the text forms ParseMasterKey accepts.
func MasterKeyFromEnv(name string) (*LocalMasterKey, error) {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return nil, fmt.Errorf("seal: environment variable %s is not set; it must hold the master key (64 hex digits or base64 of 32 bytes)", name)
	}
	key, err := parseKeyText([]byte(v))
	if err != nil {
		return nil, fmt.Errorf("seal: environment variable %s: %w", name, err)
	}
	defer clear(key)
	return NewLocalMasterKey(key)
}

// LoadMasterKeyFile reads a master key file: exactly 32 raw bytes, or text
// as ParseMasterKey accepts. On Unix the file must not be accessible to group
// or others (mode 0600 or 0400); otherwise it is refused with an error naming
// the mode and the fix.
func LoadMasterKeyFile(path string) (*LocalMasterKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: master key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("seal: master key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("seal: master key file %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("seal: master key file %s: mode %04o gives group or others access; it must be readable by its owner only (chmod 600 %s)", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4097))
	if err != nil {
		return nil, fmt.Errorf("seal: master key file %s: %w", path, err)
	}
	defer clear(data)
	if len(data) > 4096 {
		return nil, fmt.Errorf("seal: master key file %s: larger than 4096 bytes; want 32 raw bytes, 64 hex digits or base64 of 32 bytes", path)
	}
	if len(data) == KeySize {
		return NewLocalMasterKey(data)
	}
	key, err := parseKeyText(data)
	if err != nil {
		return nil, fmt.Errorf("seal: master key file %s: %w (or exactly 32 raw bytes)", path, err)
	}
	defer clear(key)
	return NewLocalMasterKey(key)
}

// GenerateMasterKey creates a new random master key and writes it, as base64
// text and a newline, to a new file at path with mode 0600, fsynced. It
// refuses to overwrite an existing file: replacing a master key makes
// everything wrapped under it unreadable.
func GenerateMasterKey(path string) (*LocalMasterKey, error) {
	key := make([]byte, KeySize)
	defer clear(key)
	rand.Read(key)
	text := make([]byte, base64.StdEncoding.EncodedLen(KeySize)+1)
	defer clear(text)
	base64.StdEncoding.Encode(text, key)
	text[len(text)-1] = '\n'

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("seal: master key file %s already exists; refusing to overwrite it (data wrapped under it would become unreadable)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("seal: create master key file: %w", err)
	}
	if _, err := f.Write(text); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("seal: write master key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("seal: sync master key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("seal: close master key file %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return NewLocalMasterKey(key)
}

// parseKeyText decodes hex or base64 text of a KeySize key. Its errors
// describe the expected form only.
func parseKeyText(text []byte) ([]byte, error) {
	s := bytes.TrimSpace(text)
	if len(s) == 2*KeySize {
		key := make([]byte, KeySize)
		if _, err := hex.Decode(key, s); err == nil {
			return key, nil
		}
		clear(key)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if enc.DecodedLen(len(s)) < KeySize || enc.DecodedLen(len(s)) > KeySize+2 {
			continue
		}
		key := make([]byte, enc.DecodedLen(len(s)))
		n, err := enc.Decode(key, s)
		if err == nil && n == KeySize {
			return key[:n], nil
		}
		clear(key)
	}
	return nil, fmt.Errorf("want 64 hex digits or base64 of %d bytes (%d characters of text)", KeySize, len(s))
}

// ID returns the key's fingerprint id, "local:" and 16 hex digits.
func (k *LocalMasterKey) ID() string { return k.id }

// Wrap encrypts plaintextKey (1 to 1024 bytes) under the master key.
func (k *LocalMasterKey) Wrap(ctx context.Context, plaintextKey, aad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(plaintextKey) == 0 || len(plaintextKey) > maxWrapKey {
		return nil, fmt.Errorf("seal: key to wrap: length %d bytes, want 1 to %d", len(plaintextKey), maxWrapKey)
	}
	hdrLen := 4 + len(k.id) + chacha20poly1305.NonceSizeX
	out := make([]byte, hdrLen, hdrLen+len(plaintextKey)+chacha20poly1305.Overhead)
	out[0], out[1], out[2], out[3] = magic, kindWrappedKey, wrapVersion, byte(len(k.id))
	copy(out[4:], k.id)
	nonce := out[4+len(k.id) : hdrLen]
	rand.Read(nonce)
	return k.aead.Seal(out, nonce, plaintextKey, joinAAD(out, aad)), nil
}

// Unwrap decrypts a key Wrap returned. A wrapped key that is malformed or
// fails authentication (tampered, other aad) yields ErrDecrypt; one wrapped
// under another master key yields ErrWrongMasterKey naming both ids.
func (k *LocalMasterKey) Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	id, hdrLen, err := parseWrappedHeader(wrapped)
	if err != nil {
		return nil, err
	}
	if id != k.id {
		return nil, fmt.Errorf("%w: key wrapped under master key %q, this one is %q", ErrWrongMasterKey, id, k.id)
	}
	nonce := wrapped[4+len(id) : hdrLen]
	key, err := k.aead.Open(nil, nonce, wrapped[hdrLen:], joinAAD(wrapped[:hdrLen], aad))
	if err != nil {
		return nil, ErrDecrypt
	}
	return key, nil
}

// WrappedKeyMasterID returns the master key id recorded in a key wrapped by
// a LocalMasterKey, or ErrDecrypt if it is not one.
func WrappedKeyMasterID(wrapped []byte) (string, error) {
	id, _, err := parseWrappedHeader(wrapped)
	return id, err
}

// parseWrappedHeader checks the LocalMasterKey wrapped-key header and
// returns the master key id and the header length.
func parseWrappedHeader(w []byte) (id string, hdrLen int, err error) {
	if len(w) < 4 || w[0] != magic || w[1] != kindWrappedKey || w[2] != wrapVersion {
		return "", 0, ErrDecrypt
	}
	idLen := int(w[3])
	hdrLen = 4 + idLen + chacha20poly1305.NonceSizeX
	if len(w) < hdrLen+chacha20poly1305.Overhead+1 {
		return "", 0, ErrDecrypt
	}
	return string(w[4 : 4+idLen]), hdrLen, nil
}

// joinAAD returns header followed by aad in a new slice.
func joinAAD(header, aad []byte) []byte {
	out := make([]byte, 0, len(header)+len(aad))
	return append(append(out, header...), aad...)
}

// String returns "seal.LocalMasterKey(<id>)".
func (k LocalMasterKey) String() string { return "seal.LocalMasterKey(" + k.id + ")" }

// GoString is String: %#v never shows key material.
func (k LocalMasterKey) GoString() string { return k.String() }

// Format prints String for every verb (%x and %#v included).
func (k LocalMasterKey) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// LogValue makes slog print only the id.
func (k LocalMasterKey) LogValue() slog.Value { return slog.StringValue(k.String()) }
