package meter

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMapWriterGrowsAndTrims: records appended across several growths of
// the mapping all read back in order; close with trim leaves exactly the
// records, close without (a crash) leaves a zero tail that reads as the
// end.
func TestMapWriterGrowsAndTrims(t *testing.T) {
	for _, trim := range []bool{true, false} {
		dir := t.TempDir()
		w, err := createJournal(dir, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		mw, ok := w.(*mapWriter)
		if !ok {
			t.Skipf("journal writer is %T: this file system cannot back a mapped journal", w)
		}
		var want []byte
		var wantReads uint64
		for i := 0; len(want) < 3*journalMapInitial+12345; i++ {
			u := Usage{Reads: uint64(i), EgressBytes: uint64(i) * 1000}
			rec := appendJournalRecord(nil, strings.Repeat("t", 1+i%40), u)
			if err := w.append(rec); err != nil {
				t.Fatalf("append %d (at %d bytes): %v", i, len(want), err)
			}
			want = append(want, rec...)
			wantReads += u.Reads
		}
		if len(mw.data) < len(want) {
			t.Fatalf("mapping of %d bytes holds %d bytes of records", len(mw.data), len(want))
		}
		mapped := len(mw.data)
		if err := w.close(trim); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, journalName(1)))
		if err != nil {
			t.Fatal(err)
		}
		if trim && len(got) != len(want) || !trim && len(got) != mapped {
			t.Fatalf("trim=%v: file of %d bytes, %d of records, %d mapped", trim, len(got), len(want), mapped)
		}
		if !bytes.Equal(got[:len(want)], want) {
			t.Fatalf("trim=%v: file content differs from the records appended", trim)
		}
		var reads uint64
		n, damage, err := scanJournal(bytes.NewReader(got), func(_ string, u Usage) { reads += u.Reads })
		if err != nil || damage != nil || reads != wantReads {
			t.Fatalf("trim=%v: scan = %d records, damage %+v, err %v, %d reads; want %d reads", trim, n, damage, err, reads, wantReads)
		}
	}
}

// TestMapWriterFault: a store that faults (the file was cut under the
// mapping, as an I/O error would make it) is an error from Record, not a
// crash; the next Record goes to a new generation.
func TestMapWriterFault(t *testing.T) {
	dir := t.TempDir()
	m := newTestMeter(t, dir, &collectSender{}, nil)
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	mustRecord(t, m, "a", Usage{Reads: 1})
	m.jour.mu.Lock()
	_, mapped := m.jour.w.(*mapWriter)
	gen := m.jour.gen
	m.jour.mu.Unlock()
	if !mapped {
		t.Skip("this file system cannot back a mapped journal")
	}
	if err := os.Truncate(m.jour.path(gen), 0); err != nil {
		t.Fatal(err)
	}
	err := m.Record("a", Usage{Reads: 1})
	if err == nil || !strings.Contains(err.Error(), "fault") {
		t.Fatalf("Record into a cut mapping = %v, want a fault error", err)
	}
	mustRecord(t, m, "a", Usage{Reads: 1})
	if st, err := m.Stats(); err != nil || st.JournalGeneration != gen+1 {
		t.Fatalf("after the fault: %+v, %v; want generation %d", st, err, gen+1)
	}
}
