// Package seal is the cryptographic core of encryption at rest: envelope
// encryption with XChaCha20-Poly1305.
//
// A master key (KeyWrapper: LocalMasterKey from a file or an environment
// variable now, a cloud KMS later) wraps data-encryption keys. A Keyring
// holds each scope's (tenant's) data keys in numbered versions; Seal
// encrypts a value under the scope's current version and binds it to the
// scope and caller-supplied associated data (collection, document id); Open
// finds the version in the value's header, so values written before a
// Rotate stay readable and NeedsReencrypt/Reseal move them forward in the
// background. Writer and Reader encrypt streams in authenticated chunks;
// NewEnvelopeWriter puts a fresh stream key, wrapped by the master key, in
// front of the stream. Key material never appears in errors or in any
// fmt/slog output of this package's types.
//
// # Formats
//
// Every format starts with 0xAE, a kind byte and a format version: 'V'
// sealed value (version, nonce, ciphertext), 'K' key wrapped by a
// LocalMasterKey (master key id, nonce, ciphertext), 'S' stream, 'E'
// envelope stream. The keyring's persistent form is JSON (Export/Load) of
// WrappedDEKs, which hold no key material.
//
// # Wiring
//
// The agent (--master-key-file) loads a LocalMasterKey and builds one
// Keyring. Its state lives in the "keyring" bucket owned by agent/keyring's
// state machine: install commands carry WrappedDEKs made on the proposer
// (NewVersion) and Apply calls Install on every replica; at open and after a
// snapshot restore the keyring is reloaded (Replace). agent/document seals each
// document's data with Seal(tenant, data, collection+id) inside Apply, opens
// it on read, and blinds index values with Blind; a leader-only background
// job reseals documents under older versions after a rotation. store seals
// raft log entries under a node-local log key wrapped by the master key and
// writes snapshots through NewEnvelopeWriter, so neither the bbolt files,
// the raft log nor snapshots hold document data in plaintext. Master key
// rotation (Rewrap) is not wired yet.
package seal
