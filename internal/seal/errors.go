package seal

import "errors"

// Sentinel errors. Callers branch on them with errors.Is; the wrapping error
// may add what was being opened (a scope, a file name, a key version) but
// never key material or plaintext.
var (
	// ErrDecrypt means a ciphertext, wrapped key or stream failed
	// authentication or is malformed: it was tampered with, truncated,
	// reordered, moved to another scope or record (different associated
	// data), or sealed under another key. It deliberately says no more.
	ErrDecrypt = errors.New("seal: decryption failed")

	// ErrUnknownKeyVersion means a ciphertext names a key version (or a
	// scope) the keyring does not hold: typically a replica that has not yet
	// applied the raft entry installing that version, or data from another
	// cluster.
	ErrUnknownKeyVersion = errors.New("seal: unknown key version")

	// ErrNoKey means Seal was asked to encrypt for a scope that has no data
	// key yet. Create one with NewVersion and Install (or Rotate).
	ErrNoKey = errors.New("seal: scope has no data key")

	// ErrKeyUnavailable means the keyring holds the wrapped form of a data
	// key but could not unwrap it on this node: its master key is not
	// configured here or the key service failed. The keyring state is
	// intact; Unlock retries.
	ErrKeyUnavailable = errors.New("seal: data key not unwrapped on this node")

	// ErrVersionConflict means Install was given a key version that does
	// not follow the scope's current version, or that differs from the key
	// already installed under that version. On a raft replica this is the
	// deterministic rejection of a proposal made from a stale keyring; the
	// proposer retries with a fresh NewVersion.
	ErrVersionConflict = errors.New("seal: key version conflict")

	// ErrWrongMasterKey means a wrapped key names a master key other than
	// the one asked to unwrap it.
	ErrWrongMasterKey = errors.New("seal: wrapped under another master key")
)
