package store

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/hashicorp/raft"
)

// TestLogStoreTailTruncationSurvivesReopen covers what a follower does when a
// new leader overwrites its uncommitted suffix: raft deletes the tail of the
// log, appends the new leader's entries, and later the process is killed and
// restarted. Every remaining entry must still be readable after the restart.
// raft-wal v0.4.0 sealed the truncated segment without an index block, so the
// restarted node panicked in raft.NewRaft ("sealed segment has no index
// block"); third_party/raft-wal carries the fix.
func TestLogStoreTailTruncationSurvivesReopen(t *testing.T) {
	for _, kind := range []string{LogStoreWAL, LogStoreBolt} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			hl := newHCLogger(slog.New(slog.DiscardHandler))

			s, err := openLogStore(kind, dir, hl)
			if err != nil {
				t.Fatal(err)
			}
			storeRange(t, s, 1, 10, 1)
			// The new leader (term 2) disagrees from index 8 on.
			if err := s.DeleteRange(8, 10); err != nil {
				t.Fatal(err)
			}
			storeRange(t, s, 8, 12, 2)
			// And once more, truncating inside the segment created by the
			// first truncation.
			if err := s.DeleteRange(12, 12); err != nil {
				t.Fatal(err)
			}
			storeRange(t, s, 12, 14, 3)
			checkRange(t, s, "before reopen")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s, err = openLogStore(kind, dir, hl)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			checkRange(t, s, "after reopen")
			// The log keeps accepting appends after recovery.
			storeRange(t, s, 15, 16, 3)
			if got := mustGetLog(t, s, 16); string(got.Data) != "3/16" {
				t.Fatalf("entry 16 = %q after append", got.Data)
			}
		})
	}
}

func storeRange(t *testing.T, s logStore, from, to, term uint64) {
	t.Helper()
	var logs []*raft.Log
	for i := from; i <= to; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: fmt.Appendf(nil, "%d/%d", term, i)})
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatalf("store %d..%d: %v", from, to, err)
	}
}

func mustGetLog(t *testing.T, s logStore, i uint64) raft.Log {
	t.Helper()
	var l raft.Log
	if err := s.GetLog(i, &l); err != nil {
		t.Fatalf("get log %d: %v", i, err)
	}
	return l
}

// checkRange asserts the log holds 1..7 from term 1, 8..11 from term 2 and
// 12..14 from term 3.
func checkRange(t *testing.T, s logStore, when string) {
	t.Helper()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if first != 1 || last != 14 {
		t.Fatalf("%s: first, last = %d, %d; want 1, 14", when, first, last)
	}
	for i := uint64(1); i <= 14; i++ {
		term := uint64(1)
		switch {
		case i >= 12:
			term = 3
		case i >= 8:
			term = 2
		}
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil {
			t.Fatalf("%s: get log %d: %v", when, i, err)
		}
		if want := fmt.Sprintf("%d/%d", term, i); l.Term != term || string(l.Data) != want {
			t.Fatalf("%s: entry %d = term %d %q; want term %d %q", when, i, l.Term, l.Data, term, want)
		}
	}
}
