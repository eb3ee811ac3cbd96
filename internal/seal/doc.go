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
// # Wiring plan (not wired yet)
//
// The agent loads the master key (--master-key-file or an AEROLITH_ env
// variable) and builds one Keyring. Its state lives in a replicated bucket
// owned by a keyring state machine: a "new key version" or "re-wrap"
// command carries WrappedDEKs made on the proposer (NewVersion, Rewrap) and
// Apply calls Install on every replica; on start and after a snapshot
// restore the agent calls Load (or Replace) from that bucket. agent/docs
// seals each document value with Seal(tenant, value, collection+id) inside
// Apply and opens it on read; a leader-only background job walks values
// where NeedsReencrypt is true and writes Reseal's result back through raft.
// store wraps snapshots in NewSnapshotWriter/NewSnapshotReader, and the
// proposer seals each raft command's payload under its tenant's scope
// (keyring commands carry only wrapped keys and stay as they are), so
// neither the bbolt files, the raft log nor snapshots hold plaintext.
package seal
