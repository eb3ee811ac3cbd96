package meter

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestCorruptRecordMidFileReplay: a byte flipped in the middle of a
// journal file (bit rot, a bad block) loses only the record holding it.
// Replay skips it, resumes at the next record and reports the loss (Stats,
// an error in the log); the records after it are billed. On the old code
// replay stopped at the damage: 3 of 10 records replayed, 6 good records
// dropped with it. For both journal writers.
func TestCorruptRecordMidFileReplay(t *testing.T) {
	eachWriter(t, func(t *testing.T, dir string, snd *collectSender, m *Meter) {
		var offs []int64
		var end int64
		for i := range 10 {
			u := Usage{Reads: 1 << i}
			mustRecord(t, m, "a", u)
			offs = append(offs, end)
			end += int64(len(appendJournalRecord(nil, "a", u)))
		}
		st, _ := m.Stats()
		if err := Crash(m); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, journalName(st.JournalGeneration))
		rec3 := appendJournalRecord(nil, "a", Usage{Reads: 1 << 3})
		flipped := bytes.Clone(rec3)
		flipped[len(flipped)/2] ^= 0x10
		writeAt(t, path, offs[3], flipped)

		var logs bytes.Buffer
		m2 := newTestMeter(t, dir, snd, nil)
		m2.log = slogTo(&logs)
		m2.jour.log = m2.log
		if err := m2.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer m2.Close()
		st2, _ := m2.Stats()
		if st2.Replayed != 9 || st2.CorruptJournalRecords != 1 || st2.SkippedJournalBytes != int64(len(rec3)) || st2.SkippedJournalTails != 0 {
			t.Fatalf("stats after reopen = %+v; want 9 replayed, 1 corrupt record of %d bytes, no tail", st2, len(rec3))
		}
		if !strings.Contains(logs.String(), "level=ERROR msg=\"corrupt journal record skipped") {
			t.Fatalf("log does not report the lost record as an error:\n%s", logs.String())
		}
		flush(t, m2)
		if got := snd.total()["a"].Reads; got != 1<<10-1-1<<3 {
			t.Fatalf("billed reads = %b, want every record but the fourth (%b)", got, 1<<10-1-1<<3)
		}
	})
}
