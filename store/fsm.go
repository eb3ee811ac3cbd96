package store

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/internal/seal"
)

// Loader is an optional interface of a StateMachine that keeps state in
// memory derived from the state file (for example a keyring of unwrapped
// keys). The store calls Load with a read transaction of the state file
// each time the file is (re)placed: when Open has opened it, before raft
// starts applying entries, and after each snapshot restore. An error fails
// Open, or the restore.
type Loader interface {
	Load(tx *bolt.Tx) error
}

// load runs the state machine's Loader, if any, on the current state file.
func (f *fsm) load() error {
	l, ok := f.sm.(Loader)
	if !ok {
		return nil
	}
	return f.db.Load().View(l.Load)
}

// Reserved bbolt buckets. Every bucket whose name begins with "_store" is
// reserved for the store; StateMachine implementations must not create,
// modify or delete them.
var (
	// storeBucket holds the applied index.
	storeBucket = []byte("_store")
	// membersBucket holds one memberRecord (JSON) per node id.
	membersBucket = []byte("_store_members")
	keyApplied    = []byte("applied_index")
)

// ReservedBucketPrefix starts the names of the buckets the store keeps in the
// state file for itself. StateMachine implementations must leave them alone.
const ReservedBucketPrefix = "_store"

// fsm applies committed raft entries to the bbolt state file. It implements
// raft.BatchingFSM: each batch is one read-write transaction that also
// records the applied index, so replay after a crash skips what is already
// in the file.
type fsm struct {
	path     string
	mmapSize int
	// sync fsyncs every applied batch; without it the file is synced on
	// close and guarded by the dirty marker (see openMarked).
	sync bool
	sm   StateMachine
	// masterKey, when set, seals snapshots (Persist) and opens them
	// (Restore); see Config.MasterKey.
	masterKey seal.KeyWrapper
	log       *slog.Logger
	metrics   *metrics
	isLeader  func() bool

	db      atomic.Pointer[bolt.DB]
	applied atomic.Uint64
	waiters indexWaiters
}

var _ raft.BatchingFSM = (*fsm)(nil)

func newFSM(path string, mmapSize int, sm StateMachine, log *slog.Logger, m *metrics) *fsm {
	return &fsm{path: path, mmapSize: mmapSize, sm: sm, log: log, metrics: m, isLeader: func() bool { return false }}
}

func (f *fsm) boltOptions() *bolt.Options {
	return &bolt.Options{
		Timeout:         10 * time.Second,
		InitialMmapSize: f.mmapSize,
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		NoSync:          !f.sync,
	}
}

// dirtyPath names the marker that exists while the state file may hold
// unsynced writes: from open until a clean close.
func (f *fsm) dirtyPath() string { return f.path + ".dirty" }

// openMarked opens the state file for a run. Unless every batch is synced,
// a dirty marker left by the previous run means it did not close cleanly:
// the file may miss writes or, after a power loss, be torn, so it is
// discarded and rebuilt from the latest snapshot and the raft log (both
// durable). It reports whether it discarded the file. The marker is then
// (re)created and synced before any batch is applied.
func (f *fsm) openMarked() (rebuilt bool, err error) {
	if !f.sync {
		if _, err := os.Stat(f.dirtyPath()); err == nil {
			if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return false, fmt.Errorf("discard unclean state file: %w", err)
			}
			rebuilt = true
		} else if !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
	}
	if err := f.open(); err != nil {
		return rebuilt, err
	}
	if f.sync {
		// A marker from a run without SyncState still means the file
		// may be incomplete; it was handled above only in that mode.
		return rebuilt, nil
	}
	fh, err := os.OpenFile(f.dirtyPath(), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return rebuilt, fmt.Errorf("create dirty marker: %w", err)
	}
	if err := fh.Close(); err != nil {
		return rebuilt, err
	}
	return rebuilt, syncDir(filepath.Dir(f.path))
}

// open opens (or creates) the state file and loads its applied index.
func (f *fsm) open() error {
	db, idx, err := openStateDB(f.path, f.boltOptions())
	if err != nil {
		return err
	}
	f.db.Store(db)
	f.applied.Store(idx)
	return nil
}

func openStateDB(path string, opts *bolt.Options) (*bolt.DB, uint64, error) {
	db, err := bolt.Open(path, 0o600, opts)
	if err != nil {
		return nil, 0, fmt.Errorf("open state file %s: %w", path, err)
	}
	var idx uint64
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(storeBucket)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(membersBucket); err != nil {
			return err
		}
		if v := b.Get(keyApplied); len(v) == 8 {
			idx = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, 0, fmt.Errorf("init state file %s: %w", path, err)
	}
	return db, idx, nil
}

// close syncs and closes the state file, then removes the dirty marker: the
// next run trusts the file as it is.
func (f *fsm) close() error {
	db := f.db.Load()
	if db == nil {
		return nil
	}
	if err := db.Sync(); err != nil {
		db.Close()
		return fmt.Errorf("sync state file: %w", err)
	}
	if err := db.Close(); err != nil {
		return err
	}
	if f.sync {
		return nil
	}
	if err := os.Remove(f.dirtyPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(f.path))
}

// view runs fn in a read transaction on the current state file. A restore
// swaps the file; a reader that raced with it retries on the new one.
func (f *fsm) view(fn func(*bolt.Tx) error) error {
	for {
		db := f.db.Load()
		ran := false
		err := db.View(func(tx *bolt.Tx) error {
			ran = true
			return fn(tx)
		})
		if !ran && errors.Is(err, bolt.ErrDatabaseNotOpen) && f.db.Load() != db {
			continue
		}
		return err
	}
}

// ApplyBatch implements raft.BatchingFSM.
//
// Batches that change no state (configuration entries, no-ops) skip the
// bbolt transaction and its fsyncs: the applied index then runs ahead of the
// one stored, and replay after a crash re-applies those no-ops harmlessly.
func (f *fsm) ApplyBatch(logs []*raft.Log) []interface{} {
	resps := make([]interface{}, len(logs))
	start := time.Now()
	last := f.applied.Load()
	top := logs[len(logs)-1].Index
	if top <= last {
		for i := range resps {
			resps[i] = errAlreadyApplied
		}
		return resps
	}
	if !needsWrite(logs, last) {
		f.applied.Store(top)
		f.waiters.notify(top)
		return resps
	}
	leader := f.isLeader()
	err := f.db.Load().Update(func(tx *bolt.Tx) error {
		for i, l := range logs {
			if l.Index <= last {
				resps[i] = errAlreadyApplied
				continue
			}
			if l.Type != raft.LogCommand {
				continue
			}
			if leader && !l.AppendedAt.IsZero() {
				f.metrics.commitLatency.Observe(start.Sub(l.AppendedAt).Seconds())
			}
			resps[i] = f.applyEntry(tx, l)
		}
		return putApplied(tx, top)
	})
	if err != nil {
		// The state file can no longer follow the log: continuing would
		// silently diverge from the other replicas.
		panic(fmt.Sprintf("store: applying entries %d..%d to %s: %v", logs[0].Index, top, f.path, err))
	}
	f.applied.Store(top)
	f.waiters.notify(top)
	f.metrics.applyDuration.Observe(time.Since(start).Seconds())
	return resps
}

// needsWrite reports whether any entry above last changes the state file.
func needsWrite(logs []*raft.Log, last uint64) bool {
	for _, l := range logs {
		if l.Index > last && l.Type == raft.LogCommand && !(len(l.Data) == 1 && l.Data[0] == entryNoop) {
			return true
		}
	}
	return false
}

func putApplied(tx *bolt.Tx, idx uint64) error {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], idx)
	return tx.Bucket(storeBucket).Put(keyApplied, v[:])
}

var errAlreadyApplied = errors.New("entry already applied")

func (f *fsm) applyEntry(tx *bolt.Tx, l *raft.Log) interface{} {
	if len(l.Data) == 0 {
		return fmt.Errorf("%w: empty entry at index %d", errCorruptEntry, l.Index)
	}
	switch l.Data[0] {
	case entryBatch:
		n, err := batchCount(l.Data[1:])
		if err != nil {
			return err
		}
		res := &batchResult{results: make([][]byte, n)}
		if _, err := decodeBatch(l.Data[1:], func(i int, cmd []byte) {
			res.results[i] = f.sm.Apply(tx, l.Index, cmd)
		}); err != nil {
			return err
		}
		f.metrics.batchSize.Observe(float64(n))
		return res
	case entryMember:
		var m memberRecord
		if err := json.Unmarshal(l.Data[1:], &m); err != nil || m.ID == "" {
			return fmt.Errorf("%w: bad member record at index %d", errCorruptEntry, l.Index)
		}
		return tx.Bucket(membersBucket).Put([]byte(m.ID), l.Data[1:])
	case entryRemoveMember:
		return tx.Bucket(membersBucket).Delete(l.Data[1:])
	case entryNoop:
		return nil
	}
	return fmt.Errorf("%w: unknown entry type %d at index %d", errCorruptEntry, l.Data[0], l.Index)
}

// Apply implements raft.FSM; raft uses ApplyBatch, this is the same for one.
func (f *fsm) Apply(l *raft.Log) interface{} {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// Snapshot implements raft.FSM: it pins a read transaction whose view is the
// state at the current applied index; Persist streams it.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	// The snapshot must carry the applied index raft snapshots at, also
	// when the last entries were no-ops that skipped the state file.
	idx := f.applied.Load()
	if err := f.db.Load().Update(func(tx *bolt.Tx) error {
		if v := tx.Bucket(storeBucket).Get(keyApplied); len(v) == 8 && binary.BigEndian.Uint64(v) >= idx {
			return nil
		}
		return putApplied(tx, idx)
	}); err != nil {
		return nil, fmt.Errorf("snapshot: record applied index: %w", err)
	}
	tx, err := f.db.Load().Begin(false)
	if err != nil {
		return nil, fmt.Errorf("begin snapshot: %w", err)
	}
	return &fsmSnapshot{tx: tx, metrics: f.metrics, start: time.Now(), masterKey: f.masterKey}, nil
}

type fsmSnapshot struct {
	tx        *bolt.Tx
	metrics   *metrics
	start     time.Time
	masterKey seal.KeyWrapper
}

// Persist streams the pinned bbolt view into sink without buffering it;
// with a master key, through a seal envelope stream (a fresh stream key
// wrapped by the master key in front, authenticated chunks).
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if s.masterKey == nil {
		if _, err := s.tx.WriteTo(sink); err != nil {
			sink.Cancel()
			return fmt.Errorf("write snapshot: %w", err)
		}
	} else if err := s.persistSealed(sink); err != nil {
		sink.Cancel()
		return err
	}
	if err := sink.Close(); err != nil {
		return err
	}
	s.metrics.snapshots.Inc()
	s.metrics.snapshotDuration.Observe(time.Since(s.start).Seconds())
	return nil
}

func (s *fsmSnapshot) persistSealed(sink io.Writer) error {
	w, err := seal.NewEnvelopeWriter(context.Background(), sink, s.masterKey)
	if err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if _, err := s.tx.WriteTo(w); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

// Errors of snapshots whose encryption does not match the node's.
var (
	// ErrSnapshotEncrypted: an encrypted snapshot reached a node without
	// a master key.
	ErrSnapshotEncrypted = errors.New("store: snapshot is encrypted at rest but this node has no master key; configure the cluster's master key on every node (the agent's --master-key-file)")
	// ErrSnapshotPlaintext: a plaintext snapshot reached a node with a
	// master key.
	ErrSnapshotPlaintext = errors.New("store: snapshot is not encrypted but this node has a master key; every node of a cluster must use encryption at rest alike")
)

// snapshotReader returns what Restore copies: rc itself, or the plaintext
// of an encrypted snapshot. The first byte tells them apart: an envelope
// stream starts with 0xAE, a bbolt file with its first page id (0).
func (f *fsm) snapshotReader(rc io.Reader) (io.Reader, error) {
	br := bufio.NewReader(rc)
	first, err := br.Peek(1)
	if err != nil {
		return nil, fmt.Errorf("restore: read snapshot: %w", err)
	}
	encrypted := first[0] == logSealMagic
	switch {
	case encrypted && f.masterKey == nil:
		return nil, ErrSnapshotEncrypted
	case !encrypted && f.masterKey != nil:
		return nil, ErrSnapshotPlaintext
	case !encrypted:
		return br, nil
	}
	r, err := seal.NewEnvelopeReader(context.Background(), br, f.masterKey)
	if err != nil {
		return nil, fmt.Errorf("restore: open encrypted snapshot with master key %s: %w", f.masterKey.ID(), err)
	}
	return r, nil
}

// Release ends the pinned read transaction.
func (s *fsmSnapshot) Release() { _ = s.tx.Rollback() }

// Restore implements raft.FSM: it writes the snapshot to a new file, syncs
// it, checks it opens, closes the current file and renames the new one over
// it. A failed restore leaves the current state untouched.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	src, err := f.snapshotReader(rc)
	if err != nil {
		return err
	}
	tmp := f.path + ".restore"
	written, err := writeSynced(tmp, src)
	if err != nil {
		os.Remove(tmp)
		return err
	}
	// Validate before touching the live file.
	if err := checkStateFile(tmp, written, f.boltOptions()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore: snapshot is not a valid state file: %w", err)
	}
	old := f.db.Load()
	if err := os.Rename(tmp, f.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore: %w", err)
	}
	if err := syncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	db, idx, err := openStateDB(f.path, f.boltOptions())
	if err != nil {
		// The renamed file validated a moment ago; failing now means the
		// disk is failing.
		return fmt.Errorf("restore: reopen: %w", err)
	}
	f.db.Store(db)
	// Readers that still hold the old handle finish first; new ones retry
	// on the new file (see view).
	if err := old.Close(); err != nil {
		f.log.Warn("closing replaced state file", "error", err)
	}
	if err := f.load(); err != nil {
		return fmt.Errorf("restore: load state machine: %w", err)
	}
	f.applied.Store(idx)
	f.waiters.notify(idx)
	f.metrics.restores.Inc()
	f.log.Info("restored state from snapshot", "applied_index", idx)
	return nil
}

func writeSynced(path string, r io.Reader) (int64, error) {
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	n, err := io.Copy(fh, r)
	if err != nil {
		fh.Close()
		return n, fmt.Errorf("restore: copy snapshot: %w", err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return n, fmt.Errorf("restore: sync: %w", err)
	}
	if err := fh.Close(); err != nil {
		return n, fmt.Errorf("restore: %w", err)
	}
	return n, nil
}

// checkStateFile opens a restored file and checks that it is complete (as
// long as its meta page says) and that its page structure is consistent.
func checkStateFile(path string, size int64, opts *bolt.Options) error {
	db, _, err := openStateDB(path, opts)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		if tx.Size() > size {
			return fmt.Errorf("truncated: %d bytes, meta page says %d", size, tx.Size())
		}
		var first error
		for err := range tx.Check() { // drain: Check's goroutine holds tx
			if first == nil {
				first = err
			}
		}
		return first
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// members reads the replicated member records.
func (f *fsm) members() (map[string]memberRecord, error) {
	out := map[string]memberRecord{}
	err := f.view(func(tx *bolt.Tx) error {
		return tx.Bucket(membersBucket).ForEach(func(k, v []byte) error {
			var m memberRecord
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("member record %q: %w", k, err)
			}
			out[string(k)] = m
			return nil
		})
	})
	return out, err
}
