package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/internal/seal"
)

func testMasterKey(t *testing.T, b byte) *seal.LocalMasterKey {
	t.Helper()
	mk, err := seal.NewLocalMasterKey(bytes.Repeat([]byte{b}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

// grepDir reports whether any file under dir contains marker.
func grepDir(t *testing.T, dir string, marker []byte) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, marker) {
			found = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestSealedLogStoreRoundTrip stores entries through the sealing wrapper
// (both log store kinds), reads them back across a reopen, and checks that
// the files hold no plaintext, that the caller's entries are untouched, and
// that the wrong master key or none is refused with ErrLogKey.
func TestSealedLogStoreRoundTrip(t *testing.T) {
	for _, kind := range []string{LogStoreWAL, LogStoreBolt} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			hl := newHCLogger(slog.New(slog.DiscardHandler))
			mk := testMasterKey(t, 1)
			open := func(mk seal.KeyWrapper) (logStore, error) {
				inner, err := openLogStore(kind, filepath.Join(dir, "raft"), hl)
				if err != nil {
					return nil, err
				}
				last, _ := inner.LastIndex()
				aead, err := loadLogKey(context.Background(), dir, mk, last > 0)
				if err != nil {
					inner.Close()
					return nil, err
				}
				if aead == nil {
					return inner, nil
				}
				return &sealedLogStore{logStore: inner, aead: aead}, nil
			}
			s, err := open(mk)
			if err != nil {
				t.Fatal(err)
			}
			marker := []byte("MARKER-log-entry-secret")
			in := []*raft.Log{
				{Index: 1, Term: 1, Type: raft.LogCommand, Data: append([]byte("a:"), marker...), Extensions: []byte("ext-MARKER")},
				{Index: 2, Term: 1, Type: raft.LogNoop},
				{Index: 3, Term: 1, Type: raft.LogCommand, Data: append([]byte("b:"), marker...)},
			}
			if err := s.StoreLogs(in); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(in[0].Data, []byte("a:")) {
				t.Fatalf("StoreLogs changed the caller's entry: %q", in[0].Data)
			}
			if err := s.StoreLog(&raft.Log{Index: 4, Term: 2, Type: raft.LogCommand, Data: marker}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if grepDir(t, dir, marker) || grepDir(t, dir, []byte("ext-MARKER")) {
				t.Fatal("plaintext of a log entry found in the log files")
			}
			if _, err := open(testMasterKey(t, 2)); !errors.Is(err, ErrLogKey) {
				t.Fatalf("open with another master key = %v, want ErrLogKey", err)
			}
			if _, err := open(nil); !errors.Is(err, ErrLogKey) {
				t.Fatalf("open without a master key = %v, want ErrLogKey", err)
			}
			s, err = open(mk)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i, want := range []string{"a:" + string(marker), "", "b:" + string(marker), string(marker)} {
				l := mustGetLog(t, s, uint64(i+1))
				if string(l.Data) != want {
					t.Fatalf("entry %d = %q, want %q", i+1, l.Data, want)
				}
			}
			if l := mustGetLog(t, s, 1); string(l.Extensions) != "ext-MARKER" {
				t.Fatalf("entry 1 extensions = %q", l.Extensions)
			}
		})
	}
}

// TestLogKeyRefusesPlaintextState: a master key on a data directory whose
// log already holds plaintext entries is refused.
func TestLogKeyRefusesPlaintextState(t *testing.T) {
	dir := t.TempDir()
	if _, err := loadLogKey(context.Background(), dir, testMasterKey(t, 1), true); !errors.Is(err, ErrLogKey) {
		t.Fatalf("loadLogKey on plaintext state = %v, want ErrLogKey", err)
	}
	if _, err := os.Stat(filepath.Join(dir, logKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused log key was written: %v", err)
	}
}

// TestSealedLogEntryTamper: an entry moved to another index fails.
func TestSealedLogEntryTamper(t *testing.T) {
	aead, err := loadLogKey(context.Background(), t.TempDir(), testMasterKey(t, 1), false)
	if err != nil {
		t.Fatal(err)
	}
	s := &sealedLogStore{aead: aead}
	ct := s.sealField(5, logFieldData, []byte("x"))
	if _, err := s.openField(6, logFieldData, ct); !errors.Is(err, ErrLogKey) {
		t.Fatalf("open at another index = %v, want ErrLogKey", err)
	}
	if _, err := s.openField(5, logFieldExt, ct); !errors.Is(err, ErrLogKey) {
		t.Fatalf("open as another field = %v, want ErrLogKey", err)
	}
	if _, err := s.openField(5, logFieldData, []byte("plain")); !errors.Is(err, ErrLogKey) {
		t.Fatalf("open plaintext = %v, want ErrLogKey", err)
	}
}

// loadCounter is a state machine with a Loader, counting loads.
type loadCounter struct {
	setSM
	loads int
}

func (l *loadCounter) Load(*bolt.Tx) error { l.loads++; return nil }

// TestSnapshotEnvelopeRoundTrip persists a snapshot under a master key,
// checks it holds no plaintext, restores it on a node with the same key
// (the Loader runs), and refuses it with another key, without a key, and a
// plaintext snapshot on an encrypted node.
func TestSnapshotEnvelopeRoundTrip(t *testing.T) {
	mk := testMasterKey(t, 7)
	src := newTestFSM(t, &setSM{})
	src.masterKey = mk
	src.ApplyBatch([]*raft.Log{batchLog(10, "a=MARKER-snapshot-value")})
	snap := snapshotOf(t, src)
	if bytes.Contains(snap, []byte("MARKER-snapshot-value")) {
		t.Fatal("encrypted snapshot holds the plaintext value")
	}
	if snap[0] != 0xAE {
		t.Fatalf("encrypted snapshot starts with %#x, want the envelope marker", snap[0])
	}

	lc := &loadCounter{}
	dst := newTestFSM(t, lc)
	dst.masterKey = mk
	if err := dst.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatalf("Restore = %v", err)
	}
	if got := get(t, dst, "a"); got != "MARKER-snapshot-value" {
		t.Fatalf("restored a = %q", got)
	}
	if dst.applied.Load() != 10 || lc.loads != 1 {
		t.Fatalf("applied %d loads %d, want 10 and 1", dst.applied.Load(), lc.loads)
	}

	other := newTestFSM(t, &setSM{})
	other.masterKey = testMasterKey(t, 8)
	if err := other.Restore(io.NopCloser(bytes.NewReader(snap))); !errors.Is(err, seal.ErrKeyUnavailable) {
		t.Fatalf("Restore with another master key = %v, want ErrKeyUnavailable", err)
	}
	plainNode := newTestFSM(t, &setSM{})
	if err := plainNode.Restore(io.NopCloser(bytes.NewReader(snap))); !errors.Is(err, ErrSnapshotEncrypted) {
		t.Fatalf("Restore of an encrypted snapshot without a key = %v, want ErrSnapshotEncrypted", err)
	}
	plainSrc := newTestFSM(t, &setSM{})
	plainSrc.ApplyBatch([]*raft.Log{batchLog(3, "b=2")})
	if err := dst.Restore(io.NopCloser(bytes.NewReader(snapshotOf(t, plainSrc)))); !errors.Is(err, ErrSnapshotPlaintext) {
		t.Fatalf("Restore of a plaintext snapshot with a key = %v, want ErrSnapshotPlaintext", err)
	}
	if get(t, dst, "a") != "MARKER-snapshot-value" {
		t.Fatal("a refused restore changed the state")
	}
	// A truncated encrypted snapshot fails and leaves the state alone.
	if err := dst.Restore(io.NopCloser(bytes.NewReader(snap[:len(snap)-10]))); !errors.Is(err, seal.ErrDecrypt) {
		t.Fatalf("Restore of a truncated snapshot = %v, want ErrDecrypt", err)
	}
}
