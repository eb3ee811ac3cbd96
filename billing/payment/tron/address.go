package tron

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/mr-tron/base58"
)

// AddressPrefix is the first byte of every Tron account and contract
// address on mainnet, Shasta and Nile alike.
const AddressPrefix = 0x41

// AddressLen is the length of an address in bytes: the prefix and the 20
// bytes of the Keccak-256 hash of the public key (or contract id).
const AddressLen = 21

// ErrBadAddress is wrapped by every address parsing error.
var ErrBadAddress = errors.New("invalid tron address")

// Address is a Tron address: 0x41 followed by 20 bytes. The zero value is
// not a valid address (IsZero reports it).
type Address [AddressLen]byte

// ParseAddress reads an address in either of the forms TronGrid uses: the
// base58check form (T…, 34 characters) or 42 hex digits starting 41 (an
// optional 0x is accepted). The checksum and the prefix are checked.
func ParseAddress(s string) (Address, error) {
	var a Address
	if s == "" {
		return a, fmt.Errorf("%w: empty", ErrBadAddress)
	}
	if strings.HasPrefix(s, "T") {
		return parseBase58(s)
	}
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(h) != 2*AddressLen {
		return a, fmt.Errorf("%w: %q is neither base58 (T…) nor 42 hex digits", ErrBadAddress, clip(s))
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return a, fmt.Errorf("%w: %q: bad hex", ErrBadAddress, clip(s))
	}
	return AddressFromBytes(b)
}

func parseBase58(s string) (Address, error) {
	var a Address
	if len(s) > 40 {
		return a, fmt.Errorf("%w: %q is too long", ErrBadAddress, clip(s))
	}
	raw, err := base58.Decode(s)
	if err != nil {
		return a, fmt.Errorf("%w: %q: not base58", ErrBadAddress, clip(s))
	}
	if len(raw) != AddressLen+4 {
		return a, fmt.Errorf("%w: %q decodes to %d bytes, want %d", ErrBadAddress, clip(s), len(raw), AddressLen+4)
	}
	body, sum := raw[:AddressLen], raw[AddressLen:]
	if want := checksum(body); !bytes.Equal(sum, want[:]) {
		return a, fmt.Errorf("%w: %q: bad checksum", ErrBadAddress, clip(s))
	}
	return AddressFromBytes(body)
}

// AddressFromBytes takes 21 bytes starting 0x41.
func AddressFromBytes(b []byte) (Address, error) {
	var a Address
	if len(b) != AddressLen {
		return a, fmt.Errorf("%w: %d bytes, want %d", ErrBadAddress, len(b), AddressLen)
	}
	if b[0] != AddressPrefix {
		return a, fmt.Errorf("%w: prefix 0x%02x, want 0x41", ErrBadAddress, b[0])
	}
	copy(a[:], b)
	return a, nil
}

// AddressFromEVM makes the Tron address of a 20-byte EVM-style address, as
// event logs carry them (log.address, indexed address topics).
func AddressFromEVM(b []byte) (Address, error) {
	var a Address
	if len(b) != AddressLen-1 {
		return a, fmt.Errorf("%w: %d bytes, want 20", ErrBadAddress, len(b))
	}
	a[0] = AddressPrefix
	copy(a[1:], b)
	return a, nil
}

// MustAddress is ParseAddress for constants; it panics on a bad address.
func MustAddress(s string) Address {
	a, err := ParseAddress(s)
	if err != nil {
		panic(err)
	}
	return a
}

// String returns the base58check form (T…).
func (a Address) String() string {
	sum := checksum(a[:])
	return base58.Encode(append(a[:], sum[:]...))
}

// Hex returns the 42 hex digits TronGrid's wallet API uses (41…).
func (a Address) Hex() string { return hex.EncodeToString(a[:]) }

// IsZero reports the zero value (no address).
func (a Address) IsZero() bool { return a == Address{} }

// EVM returns the 20 bytes after the prefix.
func (a Address) EVM() []byte { return append([]byte(nil), a[1:]...) }

// MarshalText writes the base58 form, so addresses in JSON and YAML are
// the ones users see in wallets.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText accepts both forms ParseAddress does.
func (a *Address) UnmarshalText(b []byte) error {
	p, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = p
	return nil
}

func checksum(b []byte) [4]byte {
	h1 := sha256.Sum256(b)
	h2 := sha256.Sum256(h1[:])
	var c [4]byte
	copy(c[:], h2[:4])
	return c
}

// clip shortens untrusted input quoted in an error.
func clip(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}
