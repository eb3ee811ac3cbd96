package store

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/aerolithdb/aerolith/internal/atomicfile"
	"github.com/aerolithdb/aerolith/internal/seal"
)

// logStore is a raft log store that is also its stable store.
type logStore interface {
	raft.LogStore
	raft.StableStore
	io.Closer
}

// openLogStore opens the raft log of the given kind under dir. Both kinds
// fsync every StoreLogs call.
func openLogStore(kind, dir string, hl hclog.Logger) (logStore, error) {
	switch kind {
	case LogStoreBolt:
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		s, err := raftboltdb.New(raftboltdb.Options{
			Path:        filepath.Join(dir, "raft.db"),
			BoltOptions: &bolt.Options{Timeout: 10 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType},
		})
		if err != nil {
			return nil, fmt.Errorf("open bolt log store: %w", err)
		}
		return s, nil
	case LogStoreWAL:
		wdir := filepath.Join(dir, "wal")
		if err := os.MkdirAll(wdir, 0o700); err != nil {
			return nil, err
		}
		meta := &metadb.BoltMetaDB{}
		w, err := raftwal.Open(wdir, raftwal.WithLogger(hl.Named("wal")), raftwal.WithMetaStore(meta))
		if err != nil {
			meta.Close()
			return nil, fmt.Errorf("open wal log store: %w", err)
		}
		return w, nil // WAL.Close closes the meta database too (since raft-wal v0.4.1)
	}
	return nil, fmt.Errorf("unknown log store %q", kind)
}

// newHCLogger returns an hclog.Logger for raft that forwards warnings and
// errors to l. Raft's info-level chatter (elections, pipelines) is dropped.
func newHCLogger(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "raft",
		Level:      hclog.Warn,
		Output:     &slogWriter{l: l},
		JSONFormat: true,
	})
}

// slogWriter turns hclog's JSON lines into slog records.
type slogWriter struct{ l *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(p, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			w.l.Warn(string(line))
			continue
		}
		level := slog.LevelInfo
		switch m["@level"] {
		case "warn":
			level = slog.LevelWarn
		case "error":
			level = slog.LevelError
		case "debug", "trace":
			level = slog.LevelDebug
		}
		msg, _ := m["@message"].(string)
		attrs := make([]any, 0, 2*len(m))
		if mod, ok := m["@module"].(string); ok {
			attrs = append(attrs, "module", mod)
		}
		for k, v := range m {
			if len(k) > 0 && k[0] == '@' {
				continue
			}
			attrs = append(attrs, k, v)
		}
		w.l.Log(context.Background(), level, msg, attrs...)
	}
	return len(p), nil
}

// Encrypted raft log (Config.MasterKey). Each entry's Data and Extensions
// are sealed with the node's log key before they reach the log store and
// opened when raft reads them back; the log store's own format (raft-wal
// segments, raft-boltdb) is untouched and sees only ciphertext. The log key
// is node-local: a random key kept in <Dir>/logkey, wrapped by the master
// key. Entries travel to peers in plaintext over the (mutual TLS) transport
// and each node seals them under its own log key.
//
// Sealed field format: 0xAE 'L' 0x01 | nonce (24) | XChaCha20-Poly1305
// ciphertext and tag, with associated data binding the entry's index and
// which field it is, so a sealed value moved to another entry or field
// fails to open. Empty fields stay empty.
const (
	logKeyFile      = "logkey"
	logSealMagic    = 0xAE
	logSealKind     = 'L'
	logSealVersion  = 1
	logSealHeader   = 3 + chacha20poly1305.NonceSizeX
	logFieldData    = 'd'
	logFieldExt     = 'x'
	logKeyWrapLabel = "aerolith store log key v1"
)

// ErrLogKey means the node's raft log key could not be used: the data
// directory was encrypted under another master key, is encrypted while no
// master key is configured, or holds an unencrypted log while one is.
var ErrLogKey = errors.New("store: raft log key")

// loadLogKey returns the AEAD of the log key in dir, creating the key when
// the directory has no raft state yet. hasState says whether the log
// already holds entries (or the state file applied some).
func loadLogKey(ctx context.Context, dir string, mk seal.KeyWrapper, hasState bool) (cipher.AEAD, error) {
	path := filepath.Join(dir, logKeyFile)
	wrapped, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && mk == nil:
		return nil, nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%w: %v", ErrLogKey, err)
	case err == nil && mk == nil:
		return nil, fmt.Errorf("%w: %s exists: this data directory is encrypted at rest; configure its master key (Config.MasterKey, the agent's --master-key-file)", ErrLogKey, path)
	case err == nil:
		key, err := mk.Unwrap(ctx, wrapped, []byte(logKeyWrapLabel))
		if err != nil {
			return nil, fmt.Errorf("%w: %s cannot be unwrapped with master key %s (this data directory was encrypted under another master key): %w", ErrLogKey, path, mk.ID(), err)
		}
		defer clear(key)
		return chacha20poly1305.NewX(key)
	}
	if hasState {
		return nil, fmt.Errorf("%w: this data directory holds an unencrypted raft log; encryption at rest must be chosen when a node's data directory is created (wipe it and let the node rejoin, or start without a master key)", ErrLogKey)
	}
	key := make([]byte, chacha20poly1305.KeySize)
	defer clear(key)
	rand.Read(key)
	wrapped, err = mk.Wrap(ctx, key, []byte(logKeyWrapLabel))
	if err != nil {
		return nil, fmt.Errorf("%w: wrap a new log key under master key %s: %w", ErrLogKey, mk.ID(), err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(path, wrapped, 0o600); err != nil {
		return nil, fmt.Errorf("%w: write %s: %w", ErrLogKey, path, err)
	}
	return chacha20poly1305.NewX(key)
}

// sealedLogStore seals entries on their way into a logStore and opens them
// on their way out. It never modifies the raft.Log values it is given:
// raft keeps them (log cache, replication).
type sealedLogStore struct {
	logStore
	aead cipher.AEAD
}

var (
	_ logStore               = (*sealedLogStore)(nil)
	_ raft.MonotonicLogStore = (*sealedLogStore)(nil)
)

// IsMonotonic forwards the wrapped store's answer (raft-wal's is true).
func (s *sealedLogStore) IsMonotonic() bool {
	m, ok := s.logStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

func logFieldAAD(index uint64, field byte) []byte {
	b := make([]byte, 0, 32)
	b = append(b, "aerolith log entry v1"...)
	b = binary.BigEndian.AppendUint64(b, index)
	return append(b, field)
}

func (s *sealedLogStore) sealField(index uint64, field byte, p []byte) []byte {
	if len(p) == 0 {
		return p
	}
	out := make([]byte, logSealHeader, logSealHeader+len(p)+chacha20poly1305.Overhead)
	out[0], out[1], out[2] = logSealMagic, logSealKind, logSealVersion
	rand.Read(out[3:logSealHeader])
	return s.aead.Seal(out, out[3:logSealHeader], p, logFieldAAD(index, field))
}

func (s *sealedLogStore) openField(index uint64, field byte, p []byte) ([]byte, error) {
	if len(p) == 0 {
		return p, nil
	}
	if len(p) < logSealHeader+chacha20poly1305.Overhead || p[0] != logSealMagic || p[1] != logSealKind || p[2] != logSealVersion {
		return nil, fmt.Errorf("%w: raft log entry %d is not encrypted (or is corrupt)", ErrLogKey, index)
	}
	pt, err := s.aead.Open(nil, p[3:logSealHeader], p[logSealHeader:], logFieldAAD(index, field))
	if err != nil {
		return nil, fmt.Errorf("%w: raft log entry %d fails authentication (tampered, or sealed under another log key)", ErrLogKey, index)
	}
	return pt, nil
}

func (s *sealedLogStore) sealed(l *raft.Log) *raft.Log {
	c := *l
	c.Data = s.sealField(l.Index, logFieldData, l.Data)
	c.Extensions = s.sealField(l.Index, logFieldExt, l.Extensions)
	return &c
}

// GetLog reads and opens an entry.
func (s *sealedLogStore) GetLog(index uint64, l *raft.Log) error {
	if err := s.logStore.GetLog(index, l); err != nil {
		return err
	}
	var err error
	if l.Data, err = s.openField(l.Index, logFieldData, l.Data); err != nil {
		return err
	}
	l.Extensions, err = s.openField(l.Index, logFieldExt, l.Extensions)
	return err
}

// StoreLog seals and stores one entry.
func (s *sealedLogStore) StoreLog(l *raft.Log) error {
	return s.logStore.StoreLog(s.sealed(l))
}

// StoreLogs seals and stores entries.
func (s *sealedLogStore) StoreLogs(logs []*raft.Log) error {
	out := make([]*raft.Log, len(logs))
	for i, l := range logs {
		out[i] = s.sealed(l)
	}
	return s.logStore.StoreLogs(out)
}
