// Copyright (c) Aerolith contributors
// SPDX-License-Identifier: MPL-2.0

package wal

// Tests for the Aerolith patches (see PATCHES.md): they run the real WAL on
// real files, without the stubs the upstream tests use.

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/raft-wal/metadb"
)

func openDiskWAL(t *testing.T, dir string) (*WAL, *metadb.BoltMetaDB) {
	t.Helper()
	meta := &metadb.BoltMetaDB{}
	// Small segments so that appends rotate often.
	w, err := Open(dir, WithMetaStore(meta), WithSegmentSize(4096))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return w, meta
}

func closeDiskWAL(t *testing.T, w *WAL, meta *metadb.BoltMetaDB) {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := meta.Close(); err != nil {
		t.Fatal(err)
	}
}

func entry(term, index uint64) *raft.Log {
	return &raft.Log{Index: index, Term: term, Type: raft.LogCommand, Data: fmt.Appendf(nil, "t%d-i%d-%0100d", term, index, index)}
}

// checkModel asserts the WAL holds exactly the entries in model, which start
// at index first.
func checkModel(t *testing.T, w *WAL, first uint64, model []uint64, when string) {
	t.Helper()
	gotFirst, _ := w.FirstIndex()
	gotLast, _ := w.LastIndex()
	wantLast := first + uint64(len(model)) - 1
	if len(model) == 0 {
		if gotLast != 0 && gotFirst <= gotLast {
			t.Fatalf("%s: log holds %d..%d; want empty", when, gotFirst, gotLast)
		}
		return
	}
	if gotFirst != first || gotLast != wantLast {
		t.Fatalf("%s: log holds %d..%d; want %d..%d", when, gotFirst, gotLast, first, wantLast)
	}
	for i, term := range model {
		idx := first + uint64(i)
		var l raft.Log
		if err := w.GetLog(idx, &l); err != nil {
			t.Fatalf("%s: get %d: %v", when, idx, err)
		}
		want := entry(term, idx)
		if l.Term != term || string(l.Data) != string(want.Data) {
			t.Fatalf("%s: entry %d is term %d %q; want term %d", when, idx, l.Term, l.Data, term)
		}
	}
}

// TestPatchRandomOpsWithReopen drives the WAL the way raft does (appends,
// suffix truncations when a new leader overwrites uncommitted entries, prefix
// truncations after snapshots) with reopens in between, and compares every
// entry against a model. Unpatched v0.4.0 fails on the first reopen after a
// suffix truncation: "sealed segment has no index block".
func TestPatchRandomOpsWithReopen(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			dir := t.TempDir()
			w, meta := openDiskWAL(t, dir)
			defer func() { closeDiskWAL(t, w, meta) }()

			first := uint64(1)
			var model []uint64 // term of each entry from first on
			term := uint64(1)
			for op := 0; op < 300; op++ {
				last := first + uint64(len(model)) - 1
				switch r := rng.Intn(100); {
				case r < 60: // append a batch
					n := 1 + rng.Intn(20)
					var logs []*raft.Log
					for i := 0; i < n; i++ {
						logs = append(logs, entry(term, last+1+uint64(i)))
						model = append(model, term)
					}
					if err := w.StoreLogs(logs); err != nil {
						t.Fatalf("op %d: store: %v", op, err)
					}
				case r < 80 && len(model) > 1: // suffix truncation
					keep := 1 + rng.Intn(len(model)-1)
					if err := w.DeleteRange(first+uint64(keep), last); err != nil {
						t.Fatalf("op %d: truncate tail: %v", op, err)
					}
					model = model[:keep]
					term++
				case r < 85 && len(model) > 1: // prefix truncation
					drop := rng.Intn(len(model) - 1)
					if err := w.DeleteRange(first, first+uint64(drop)-1); err != nil {
						t.Fatalf("op %d: truncate head: %v", op, err)
					}
					first += uint64(drop)
					model = model[drop:]
				default: // restart
					closeDiskWAL(t, w, meta)
					w, meta = openDiskWAL(t, dir)
					checkModel(t, w, first, model, fmt.Sprintf("op %d after reopen", op))
				}
			}
			checkModel(t, w, first, model, "end")
		})
	}
}

// TestPatchRecoversSealedTail covers a stop between the sync of a tail's
// index block and the meta store update that records the seal: after the
// reopen the WAL finishes the rotation and keeps accepting appends (v0.4.0
// refused every later append with ErrSealed).
func TestPatchRecoversSealedTail(t *testing.T) {
	dir := t.TempDir()
	w, meta := openDiskWAL(t, dir)
	for i := uint64(1); i <= 5; i++ {
		if err := w.StoreLogs([]*raft.Log{entry(1, i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Seal the tail file only, as an interrupted rotation leaves it.
	w.writeMu.Lock()
	if _, err := w.loadState().tail.ForceSeal(); err != nil {
		t.Fatal(err)
	}
	w.writeMu.Unlock()
	closeDiskWAL(t, w, meta)

	w, meta = openDiskWAL(t, dir)
	defer func() { closeDiskWAL(t, w, meta) }()
	checkModel(t, w, 1, []uint64{1, 1, 1, 1, 1}, "after reopen")
	if err := w.StoreLogs([]*raft.Log{entry(1, 6)}); err != nil {
		t.Fatalf("append after reopen: %v", err)
	}
	checkModel(t, w, 1, []uint64{1, 1, 1, 1, 1, 1}, "after append")

	closeDiskWAL(t, w, meta)
	w, meta = openDiskWAL(t, dir)
	checkModel(t, w, 1, []uint64{1, 1, 1, 1, 1, 1}, "after second reopen")
}
