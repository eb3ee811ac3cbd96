package store

import (
	"bytes"
	"context"
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
		return &walStore{WAL: w, meta: meta}, nil
	}
	return nil, fmt.Errorf("unknown log store %q", kind)
}

// walStore closes the WAL's meta database too, which WAL.Close leaves open
// (raft-wal v0.4.0), keeping its file lock until the process exits. The
// raft-wal module is the patched copy in third_party/raft-wal (PATCHES.md).
type walStore struct {
	*raftwal.WAL
	meta *metadb.BoltMetaDB
}

func (w *walStore) Close() error {
	return errors.Join(w.WAL.Close(), w.meta.Close())
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
