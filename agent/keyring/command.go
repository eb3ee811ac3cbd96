// Package keyring replicates the agent's per-tenant data-encryption keys
// for encryption at rest, and re-encrypts documents after a rotation.
//
// The keys live in a seal.Keyring on every node; its replicated state (the
// data keys wrapped by the cluster's master key, no key material) is kept
// in the "keyring" bucket of the state file, one entry per tenant and
// version. It changes only through install commands (tag CommandTag) that
// carry keys made on the proposer (seal.Keyring.NewVersion), which
// StateMachine applies with Install on every replica: a version that does
// not follow the tenant's current one, or a different key under an
// existing version, is rejected alike everywhere (two nodes racing to
// create a tenant's first key: one wins, the other's proposal fails with
// a conflict and it uses the winner's). On open and after a snapshot
// restore the keyring is reloaded from the bucket (StateMachine.Load).
//
// Manager is the proposer side: Ensure gives a tenant its first key
// before its first write, Rotate proposes a new current version, and Run
// (on the leader) walks documents still sealed under older versions and
// proposes small reseal commands for them, in rate-limited batches.
package keyring

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aerolithdb/aerolith/internal/seal"
)

// CommandTag is the first byte of every keyring command.
const CommandTag byte = 'K'

// MaxKeysPerCommand bounds the keys one install command carries.
const MaxKeysPerCommand = 64

// exported is seal's keyring encoding (seal.ParseKeys).
type exported struct {
	Format int               `json:"format"`
	Keys   []seal.WrappedDEK `json:"keys"`
}

// EncodeInstall encodes a command installing keys (1 to MaxKeysPerCommand).
func EncodeInstall(keys ...seal.WrappedDEK) ([]byte, error) {
	if len(keys) == 0 || len(keys) > MaxKeysPerCommand {
		return nil, fmt.Errorf("keyring: install: %d keys, want 1 to %d", len(keys), MaxKeysPerCommand)
	}
	b, err := json.Marshal(exported{Format: 1, Keys: keys})
	if err != nil {
		return nil, fmt.Errorf("keyring: install: %w", err)
	}
	return append([]byte{CommandTag}, b...), nil
}

// DecodeInstall decodes EncodeInstall's command strictly: the tag, then
// seal's keyring encoding (unknown fields, trailing data, invalid or
// duplicate keys are errors), with 1 to MaxKeysPerCommand keys. It never
// panics on arbitrary input.
func DecodeInstall(cmd []byte) ([]seal.WrappedDEK, error) {
	if len(cmd) == 0 || cmd[0] != CommandTag {
		return nil, errors.New("keyring: command: missing tag")
	}
	keys, err := seal.ParseKeys(cmd[1:])
	if err != nil {
		return nil, fmt.Errorf("keyring: command: %w", err)
	}
	if len(keys) == 0 || len(keys) > MaxKeysPerCommand {
		return nil, fmt.Errorf("keyring: command: %d keys, want 1 to %d", len(keys), MaxKeysPerCommand)
	}
	return keys, nil
}

// Result codes of an applied command (the first byte of the result).
const (
	resultOK       byte = 0
	resultConflict byte = 1
	resultInvalid  byte = 2
)

// ErrConflict is returned to the proposer of keys that were rejected
// because the tenant's keys changed meanwhile (seal.ErrVersionConflict on
// the replicas).
var ErrConflict = errors.New("keyring: key version conflict")

// ErrInvalid is returned to the proposer of a command the replicas could
// not decode or install.
var ErrInvalid = errors.New("keyring: invalid command")

func encodeResult(code byte, msg string) []byte { return append([]byte{code}, msg...) }

// DecodeResult turns an applied command's result into nil, ErrConflict or
// ErrInvalid (with the replica's message).
func DecodeResult(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty result", ErrInvalid)
	}
	switch b[0] {
	case resultOK:
		return nil
	case resultConflict:
		return fmt.Errorf("%w: %s", ErrConflict, b[1:])
	}
	return fmt.Errorf("%w: %s", ErrInvalid, b[1:])
}
