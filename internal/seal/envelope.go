package seal

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
)

// Envelope stream format: a stream (see Writer) under a fresh random key
// that travels wrapped in front of it:
//
//	0xAE 'E' 0x01 | master key id length (1) | id | wrapped key length (2) | wrapped key | stream
//
// The envelope header is part of every chunk's associated data. Anyone
// holding the master key can read the stream without any other state —
// which is what a raft snapshot needs: a node restoring one has no keyring
// yet, since the keyring is inside the snapshot.
const (
	kindEnvelope    = 'E'
	envelopeVersion = 1
)

// streamKeyAAD binds a wrapped stream key to its use.
var streamKeyAAD = []byte("aerolith seal stream key v1")

// NewEnvelopeWriter returns a Writer sealing to w under a fresh random key,
// itself wrapped by wrapper (the I/O call a KMS wrapper makes happens here).
// Close must be called.
func NewEnvelopeWriter(ctx context.Context, w io.Writer, wrapper KeyWrapper) (*Writer, error) {
	key := make([]byte, KeySize)
	defer clear(key)
	rand.Read(key)
	wrapped, err := wrapper.Wrap(ctx, key, streamKeyAAD)
	if err != nil {
		return nil, fmt.Errorf("seal: wrap stream key under %s: %w", wrapper.ID(), err)
	}
	id := wrapper.ID()
	if len(id) == 0 || len(id) > maxID || len(wrapped) == 0 || len(wrapped) > maxWrapped {
		return nil, fmt.Errorf("seal: envelope: master key id (%d bytes) or wrapped key (%d bytes) out of range", len(id), len(wrapped))
	}
	h := make([]byte, 0, 4+len(id)+2+len(wrapped))
	h = append(h, magic, kindEnvelope, envelopeVersion, byte(len(id)))
	h = append(h, id...)
	h = binary.BigEndian.AppendUint16(h, uint16(len(wrapped)))
	h = append(h, wrapped...)
	return newWriter(w, key, DefaultChunkSize, h)
}

// NewEnvelopeReader reads the envelope header from r, unwraps the stream key
// with whichever of wrappers has the master key id the header names, and
// returns a Reader of the rest. Errors: ErrDecrypt for a malformed or
// tampered header, ErrKeyUnavailable if no wrapper has that id.
func NewEnvelopeReader(ctx context.Context, r io.Reader, wrappers ...KeyWrapper) (*Reader, error) {
	fixed := make([]byte, 4)
	if err := readHeader(r, fixed); err != nil {
		return nil, err
	}
	if fixed[0] != magic || fixed[1] != kindEnvelope || fixed[2] != envelopeVersion || fixed[3] == 0 {
		return nil, ErrDecrypt
	}
	idAndLen := make([]byte, int(fixed[3])+2)
	if err := readHeader(r, idAndLen); err != nil {
		return nil, err
	}
	id := string(idAndLen[:fixed[3]])
	n := int(binary.BigEndian.Uint16(idAndLen[fixed[3]:]))
	if n == 0 || n > maxWrapped {
		return nil, ErrDecrypt
	}
	wrapped := make([]byte, n)
	if err := readHeader(r, wrapped); err != nil {
		return nil, err
	}
	var wrapper KeyWrapper
	for _, w := range wrappers {
		if w != nil && w.ID() == id {
			wrapper = w
			break
		}
	}
	if wrapper == nil {
		return nil, fmt.Errorf("%w: stream key is wrapped under master key %q, which is not configured on this node", ErrKeyUnavailable, id)
	}
	key, err := wrapper.Unwrap(ctx, wrapped, streamKeyAAD)
	if err != nil {
		return nil, fmt.Errorf("seal: unwrap stream key: %w", err)
	}
	defer clear(key)
	if len(key) != KeySize {
		return nil, ErrDecrypt
	}
	h := make([]byte, 0, 4+len(idAndLen)+n)
	h = append(append(append(h, fixed...), idAndLen...), wrapped...)
	return newReader(r, key, h)
}

// readHeader fills p, mapping a short read to ErrDecrypt.
func readHeader(r io.Reader, p []byte) error {
	if _, err := io.ReadFull(r, p); err == io.EOF || err == io.ErrUnexpectedEOF {
		return ErrDecrypt
	} else if err != nil {
		return fmt.Errorf("seal: read stream: %w", err)
	}
	return nil
}

// NewSnapshotWriter is NewEnvelopeWriter under the keyring's current master
// key: for raft snapshots and backups.
func (k *Keyring) NewSnapshotWriter(ctx context.Context, w io.Writer) (*Writer, error) {
	return NewEnvelopeWriter(ctx, w, k.wrapper)
}

// NewSnapshotReader is NewEnvelopeReader with the keyring's current and
// previous master keys, so snapshots taken before a master key rotation
// stay readable while the previous key is configured.
func (k *Keyring) NewSnapshotReader(ctx context.Context, r io.Reader) (*Reader, error) {
	ws := make([]KeyWrapper, 0, len(k.wrappers))
	for _, w := range k.wrappers {
		ws = append(ws, w)
	}
	return NewEnvelopeReader(ctx, r, ws...)
}
