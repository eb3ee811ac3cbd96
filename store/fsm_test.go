package store

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// setSM stores "key=value" commands in bucket "t" and counts calls.
type setSM struct{ calls int }

func (m *setSM) Apply(tx *bolt.Tx, _ uint64, cmd []byte) []byte {
	m.calls++
	k, v, _ := strings.Cut(string(cmd), "=")
	b, err := tx.CreateBucketIfNotExists([]byte("t"))
	if err != nil {
		return []byte(err.Error())
	}
	if err := b.Put([]byte(k), []byte(v)); err != nil {
		return []byte(err.Error())
	}
	return []byte("ok:" + k)
}

func newTestFSM(t *testing.T, sm StateMachine) *fsm {
	t.Helper()
	f := newFSM(filepath.Join(t.TempDir(), "state.db"), 1<<20, sm, slog.New(slog.DiscardHandler), newMetrics())
	if err := f.open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.close() })
	return f
}

func batchLog(index uint64, cmds ...string) *raft.Log {
	bs := make([][]byte, len(cmds))
	for i, c := range cmds {
		bs[i] = []byte(c)
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: encodeBatch(bs)}
}

func get(t *testing.T, f *fsm, k string) string {
	t.Helper()
	var v string
	if err := f.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("t")); b != nil {
			v = string(b.Get([]byte(k)))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestApplyBatchResultsAndReplay(t *testing.T) {
	sm := &setSM{}
	f := newTestFSM(t, sm)
	resps := f.ApplyBatch([]*raft.Log{
		batchLog(1, "a=1", "b=2"),
		{Index: 2, Term: 1, Type: raft.LogConfiguration},
		batchLog(3, "c=3"),
		{Index: 4, Term: 1, Type: raft.LogCommand, Data: []byte{entryNoop}},
		{Index: 5, Term: 1, Type: raft.LogCommand, Data: []byte{99}},
	})
	if len(resps) != 5 {
		t.Fatalf("%d responses, want 5", len(resps))
	}
	br, ok := resps[0].(*batchResult)
	if !ok || len(br.results) != 2 || string(br.results[0]) != "ok:a" || string(br.results[1]) != "ok:b" {
		t.Fatalf("response 0 = %#v", resps[0])
	}
	if err, ok := resps[4].(error); !ok || !errors.Is(err, errCorruptEntry) {
		t.Fatalf("unknown entry type response = %#v, want errCorruptEntry", resps[4])
	}
	if f.applied.Load() != 5 || sm.calls != 3 {
		t.Fatalf("applied %d calls %d, want 5 and 3", f.applied.Load(), sm.calls)
	}
	// Replaying entries at or below the applied index is a no-op.
	resps = f.ApplyBatch([]*raft.Log{batchLog(3, "c=overwritten"), batchLog(6, "d=4")})
	if sm.calls != 4 || get(t, f, "c") != "3" || get(t, f, "d") != "4" {
		t.Fatalf("replay applied again: calls %d c=%q d=%q", sm.calls, get(t, f, "c"), get(t, f, "d"))
	}
	if !errors.Is(resps[0].(error), errAlreadyApplied) {
		t.Fatalf("replayed entry response = %#v", resps[0])
	}
	// The applied index survives reopening.
	path := f.path
	f.close()
	g := newFSM(path, 1<<20, sm, slog.New(slog.DiscardHandler), newMetrics())
	if err := g.open(); err != nil {
		t.Fatal(err)
	}
	defer g.close()
	if g.applied.Load() != 6 {
		t.Fatalf("reopened applied index = %d, want 6", g.applied.Load())
	}
}

// memSink is an in-memory raft.SnapshotSink.
type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { return nil }

func snapshotOf(t *testing.T, f *fsm) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	return sink.Bytes()
}

// TestRestoreReplacesAtomically restores a snapshot while a reader holds
// the old state: new readers see the snapshot at once, the old reader
// finishes on the old state, the applied index comes from the snapshot,
// and a broken snapshot leaves the state untouched.
func TestRestoreReplacesAtomically(t *testing.T) {
	src := newTestFSM(t, &setSM{})
	src.ApplyBatch([]*raft.Log{batchLog(10, "a=from-src", "b=from-src")})
	// The snapshot reflects the state when Snapshot was called, even if
	// more is applied while it is persisted.
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	src.ApplyBatch([]*raft.Log{batchLog(11, "a=later")})
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	data := sink.Bytes()

	dst := newTestFSM(t, &setSM{})
	dst.ApplyBatch([]*raft.Log{batchLog(3, "a=old", "only=dst")})

	// A truncated or garbage stream fails and changes nothing.
	for name, bad := range map[string][]byte{"truncated": data[:len(data)/2], "garbage": []byte("not a bolt file")} {
		if err := dst.Restore(io.NopCloser(bytes.NewReader(bad))); err == nil {
			t.Fatalf("Restore(%s) succeeded", name)
		}
		if get(t, dst, "a") != "old" || get(t, dst, "only") != "dst" || dst.applied.Load() != 3 {
			t.Fatalf("state changed by failed Restore(%s)", name)
		}
		if _, err := os.Stat(dst.path + ".restore"); !os.IsNotExist(err) {
			t.Fatalf("temporary file left after failed restore: %v", err)
		}
	}

	holding := make(chan struct{})
	release := make(chan struct{})
	oldView := make(chan string, 1)
	go func() {
		_ = dst.view(func(tx *bolt.Tx) error {
			close(holding)
			<-release
			oldView <- string(tx.Bucket([]byte("t")).Get([]byte("a")))
			return nil
		})
	}()
	<-holding
	oldDB := dst.db.Load()
	restored := make(chan error, 1)
	go func() { restored <- dst.Restore(io.NopCloser(bytes.NewReader(data))) }()
	// Wait for the swap without reading: a read transaction begun on the
	// old file just before the swap could not end while Restore's Close of
	// that file waits for the holding reader, which waits for this test.
	deadline := time.Now().Add(30 * time.Second)
	for dst.db.Load() == oldDB {
		if time.Now().After(deadline) {
			t.Fatalf("Restore never swapped in the new state file")
		}
		time.Sleep(time.Millisecond)
	}
	// New readers see the snapshot while the old reader is still open.
	if v := get(t, dst, "a"); v != "from-src" {
		t.Fatalf("new reader saw a=%q, want the restored from-src", v)
	}
	if get(t, dst, "only") != "" {
		t.Fatalf("restored state still has keys of the old state")
	}
	close(release)
	if v := <-oldView; v != "old" {
		t.Fatalf("old reader saw %q, want its own state", v)
	}
	if err := <-restored; err != nil {
		t.Fatalf("Restore = %v", err)
	}
	if dst.applied.Load() != 10 {
		t.Fatalf("applied after restore = %d, want the snapshot's 10", dst.applied.Load())
	}
	// The restored file is the live file: it survives reopening.
	path := dst.path
	dst.close()
	again := newFSM(path, 1<<20, &setSM{}, slog.New(slog.DiscardHandler), newMetrics())
	if err := again.open(); err != nil {
		t.Fatal(err)
	}
	defer again.close()
	if get(t, again, "a") != "from-src" || again.applied.Load() != 10 {
		t.Fatalf("reopened restored file: a=%q applied=%d", get(t, again, "a"), again.applied.Load())
	}
}

func TestEntryCodec(t *testing.T) {
	cmds := [][]byte{[]byte("one"), {}, bytes.Repeat([]byte{7}, 300)}
	data := encodeBatch(cmds)
	var got [][]byte
	n, err := decodeBatch(data[1:], func(_ int, c []byte) { got = append(got, c) })
	if err != nil || n != 3 {
		t.Fatalf("decodeBatch = %d, %v", n, err)
	}
	for i := range cmds {
		if !bytes.Equal(got[i], cmds[i]) {
			t.Fatalf("command %d = %q, want %q", i, got[i], cmds[i])
		}
	}
	for _, bad := range [][]byte{{}, {5}, {1, 10, 'x'}, append(data[1:], 0)} {
		if _, err := decodeBatch(bad, func(int, []byte) {}); err == nil {
			t.Errorf("decodeBatch(%x) succeeded", bad)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(encodeBatch([][]byte{[]byte("a"), []byte("bc")})[1:])
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		_, _ = decodeBatch(b, func(_ int, c []byte) { total += len(c) })
		if total > len(b) {
			t.Fatalf("decoded %d bytes from %d", total, len(b))
		}
	})
}
