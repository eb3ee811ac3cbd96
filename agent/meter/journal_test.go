package meter

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestJournalRecordRoundTrip(t *testing.T) {
	tests := []struct {
		tenant string
		u      Usage
	}{
		{"a", Usage{}},
		{"tn_acme", Usage{Reads: 1}},
		{"ünïcødé", Usage{Reads: 1, Writes: 2, Queries: 3, QueryComputeMs: 4, IngressBytes: 5, EgressBytes: 6}},
		{strings.Repeat("x", maxTenantLen), Usage{Reads: math.MaxUint64, Writes: math.MaxUint64, Queries: math.MaxUint64,
			QueryComputeMs: math.MaxUint64, IngressBytes: math.MaxUint64, EgressBytes: math.MaxUint64}},
	}
	for _, tt := range tests {
		b := appendJournalRecord([]byte("prefix"), tt.tenant, tt.u)[len("prefix"):]
		if len(b) > journalMaxRecord {
			t.Fatalf("record of %d bytes, above journalMaxRecord %d", len(b), journalMaxRecord)
		}
		tenant, u, size, err := decodeJournalRecord(append(b, "next record"...))
		if err != nil || tenant != tt.tenant || u != tt.u || size != len(b) {
			t.Fatalf("decode(encode(%q, %+v)) = %q, %+v, %d, %v; want size %d", tt.tenant, tt.u, tenant, u, size, err, len(b))
		}
		// Every cut short prefix is torn, never a record.
		for n := range len(b) {
			if _, _, _, err := decodeJournalRecord(b[:n]); !errors.Is(err, errJournalTorn) {
				t.Fatalf("decode of %d of %d bytes = %v, want errJournalTorn", n, len(b), err)
			}
		}
		// Every single-byte change is refused (the length field may make
		// it look torn instead of corrupt).
		for i := range b {
			bad := bytes.Clone(b)
			bad[i] ^= 0x41
			_, _, _, err := decodeJournalRecord(bad)
			if !errors.Is(err, errJournalCorrupt) && !errors.Is(err, errJournalTorn) {
				t.Fatalf("decode with byte %d changed = %v, want an error", i, err)
			}
		}
	}
}

func TestCheckTenant(t *testing.T) {
	tests := []struct {
		tenant string
		want   string // "" for valid
	}{
		{"tn_1", ""},
		{strings.Repeat("x", maxTenantLen), ""},
		{"", "empty"},
		{strings.Repeat("x", maxTenantLen+1), "longer than"},
		{"a\xffb", "not UTF-8"},
	}
	for _, tt := range tests {
		err := checkTenant(tt.tenant)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("checkTenant(%.20q) = %v, want %q", tt.tenant, err, tt.want)
		}
	}
}

func TestParseJournalName(t *testing.T) {
	tests := []struct {
		name string
		gen  uint64
		ok   bool
	}{
		{journalName(7), 7, true},
		{"journal-000000000007", 7, true},
		{"journal-1234567890123", 1234567890123, true},
		{"journal-", 0, false},
		{"journal-000000000000", 0, false},
		{"journal-12a", 0, false},
		{"journal-99999999999999999999999", 0, false},
		{"meter.db", 0, false},
		{"journal-000000000007.tmp", 0, false},
	}
	for _, tt := range tests {
		gen, ok := parseJournalName(tt.name)
		if gen != tt.gen || ok != tt.ok {
			t.Errorf("parseJournalName(%q) = %d, %v; want %d, %v", tt.name, gen, ok, tt.gen, tt.ok)
		}
	}
}

// TestScanJournal: every valid record is read; a stretch that is not a
// record is skipped up to the next valid record (mid-file: a lost record)
// or the end (a tail); an all-zero tail is the end, not damage.
func TestScanJournal(t *testing.T) {
	var good []byte
	for i := range 5 {
		good = appendJournalRecord(good, "t", Usage{Reads: uint64(i + 1)})
	}
	next := appendJournalRecord(nil, "t", Usage{Reads: 100})
	// A record whose body is 256 bytes: its length starts with a zero byte.
	long := appendJournalRecord(nil, strings.Repeat("x", 256-1-2-7), Usage{Reads: 1000})
	if long[0] != 0 {
		t.Fatalf("long record length bytes % x", long[:4])
	}
	g := int64(len(good))
	tests := []struct {
		name      string
		tail      []byte
		wantReads uint64
		want      []journalDamage // reason: the error it wraps
	}{
		{"clean", nil, 15, nil},
		{"torn header", next[:3], 15, []journalDamage{{g, 3, true, errJournalTorn}}},
		{"torn body", next[:len(next)-1], 15, []journalDamage{{g, int64(len(next) - 1), true, errJournalTorn}}},
		{"zeros (a mapped file's preallocated tail)", make([]byte, 100<<10), 15, nil},
		{"zeros then data", append(make([]byte, 64), 1), 15, []journalDamage{{g, 65, true, errJournalCorrupt}}},
		{"torn then zeros", append(bytes.Clone(next[:len(next)-1]), make([]byte, 4096)...), 15,
			[]journalDamage{{g, int64(len(next) - 1 + 4096), true, errJournalCorrupt}}},
		{"corrupt then valid", append(append(bytes.Clone(next[:len(next)-1]), 0), next...), 115,
			[]journalDamage{{g, int64(len(next)), false, errJournalCorrupt}}},
		{"zero hole then valid", append(make([]byte, 300), next...), 115, []journalDamage{{g, 300, false, errJournalCorrupt}}},
		{"zeros then a record starting with a zero byte", append(make([]byte, 1000), long...), 1015,
			[]journalDamage{{g, 1000, false, errJournalCorrupt}}},
		{"garbage then valid then zeros", append(append([]byte("garbage!"), next...), make([]byte, 50)...), 115,
			[]journalDamage{{g, 8, false, errJournalCorrupt}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reads uint64
			n, damage, err := scanJournal(bytes.NewReader(append(bytes.Clone(good), tt.tail...)), func(_ string, u Usage) { reads += u.Reads })
			if err != nil || reads != tt.wantReads || len(damage) != len(tt.want) {
				t.Fatalf("scan = %d records, reads %d, damage %+v, err %v; want reads %d, damage %+v", n, reads, damage, err, tt.wantReads, tt.want)
			}
			for i, w := range tt.want {
				d := damage[i]
				if d.offset != w.offset || d.size != w.size || d.tail != w.tail || !errors.Is(d.reason, w.reason) {
					t.Errorf("damage[%d] = %+v, want %+v", i, d, w)
				}
			}
		})
	}
}

// TestScanJournalFlippedByte: a byte flipped anywhere in the middle of a
// journal loses exactly the record holding it; every other record is read.
func TestScanJournalFlippedByte(t *testing.T) {
	var b []byte
	var offs []int
	for i := range 40 {
		offs = append(offs, len(b))
		b = appendJournalRecord(b, fmt.Sprintf("tenant-%d", i%3), Usage{Reads: 1 << i, Writes: uint64(i)})
	}
	offs = append(offs, len(b))
	for rec := 1; rec < 39; rec++ {
		for at := offs[rec]; at < offs[rec+1]; at++ {
			bad := bytes.Clone(b)
			bad[at] ^= 0x5a
			var reads uint64
			n, damage, err := scanJournal(bytes.NewReader(bad), func(_ string, u Usage) { reads |= u.Reads })
			if err != nil || n != 39 || reads != (1<<40-1)&^(1<<rec) || len(damage) != 1 || damage[0].tail ||
				damage[0].offset != int64(offs[rec]) || damage[0].size != int64(offs[rec+1]-offs[rec]) {
				t.Fatalf("byte %d of record %d flipped: %d records, reads %x, damage %+v, err %v", at-offs[rec], rec, n, reads, damage, err)
			}
		}
	}
}

// FuzzJournalRecord: the decoder never panics, only returns its errors,
// never reads past what it reports, and what it accepts re-encodes to a
// record that decodes the same; a scan of any bytes accounts for what it
// skipped.
func FuzzJournalRecord(f *testing.F) {
	f.Add(appendJournalRecord(nil, "a", Usage{Reads: 1}))
	f.Add(appendJournalRecord(appendJournalRecord(nil, "tn_x", Usage{Writes: 1 << 40}), "b", Usage{EgressBytes: 9}))
	f.Add([]byte{})
	f.Add([]byte{9, 0, 0, 0, 1, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, b []byte) {
		tenant, u, size, err := decodeJournalRecord(b)
		if err != nil {
			if !errors.Is(err, errJournalTorn) && !errors.Is(err, errJournalCorrupt) {
				t.Fatalf("error %v is neither torn nor corrupt", err)
			}
		} else {
			if size <= 0 || size > len(b) || size > journalMaxRecord {
				t.Fatalf("size %d of %d bytes", size, len(b))
			}
			if checkTenant(tenant) != nil {
				t.Fatalf("accepted tenant %q", tenant)
			}
			again := appendJournalRecord(nil, tenant, u)
			t2, u2, s2, err := decodeJournalRecord(again)
			if err != nil || t2 != tenant || u2 != u || s2 != len(again) {
				t.Fatalf("re-decode = %q, %+v, %d, %v; want %q, %+v", t2, u2, s2, err, tenant, u)
			}
		}
		n, damage, rerr := scanJournal(bytes.NewReader(b), func(string, Usage) {})
		if rerr != nil {
			t.Fatal(rerr)
		}
		// The stretches are in order, disjoint, inside b, and only the
		// last may be a tail; none starts where a record decodes.
		var end int64
		for i, d := range damage {
			if d.offset < end || d.size <= 0 || d.offset+d.size > int64(len(b)) || (d.tail && i != len(damage)-1) || d.reason == nil {
				t.Fatalf("damage %+v of %d bytes", damage, len(b))
			}
			if _, _, _, err := decodeJournalRecord(b[d.offset:]); err == nil {
				t.Fatalf("damage %+v starts with a valid record", d)
			}
			end = d.offset + d.size
		}
		if err == nil && (n == 0 && !u.IsZero() || len(damage) > 0 && damage[0].offset == 0) {
			t.Fatalf("a record at offset 0 but scan read %d records, damage %+v", n, damage)
		}
		if len(damage) == 0 && n == 0 && slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) {
			t.Fatalf("no record and no damage in %d non-zero bytes", len(b))
		}
	})
}

// TestRecordErrors: Record refuses bad tenants and a meter that is not
// open, and counts nothing then.
func TestRecordErrors(t *testing.T) {
	dir := t.TempDir()
	m := newTestMeter(t, dir, senderFunc(nil), nil)
	if err := m.Record("a", Usage{Reads: 1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Record before Open = %v, want ErrClosed", err)
	}
	if err := m.Record("a", Usage{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("zero Record before Open = %v, want ErrClosed", err)
	}
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"", strings.Repeat("x", maxTenantLen+1), "\xff"} {
		if err := m.Record(tenant, Usage{Reads: 1}); err == nil {
			t.Errorf("Record(%.20q) succeeded", tenant)
		}
	}
	mustRecord(t, m, "a", Usage{})
	if u := m.counts.take(); len(u) != 0 {
		t.Fatalf("counters after refused records = %v, want none", u)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Record("a", Usage{Reads: 1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Record after Close = %v, want ErrClosed", err)
	}
	if gens, err := listJournals(dir); err != nil || len(gens) != 0 {
		t.Fatalf("journals after a clean Close = %v, %v; want none", gens, err)
	}
}

// eachWriter runs test once with the memory-mapped journal writer and
// once with the write(2) one, on a fresh directory and an open meter.
func eachWriter(t *testing.T, test func(t *testing.T, dir string, snd *collectSender, m *Meter)) {
	for _, plain := range []bool{false, true} {
		t.Run(fmt.Sprintf("plain=%v", plain), func(t *testing.T) {
			dir := t.TempDir()
			snd := &collectSender{}
			m := newTestMeter(t, dir, snd, nil)
			m.jour.plainWrites = plain
			if err := m.Open(t.Context()); err != nil {
				t.Fatal(err)
			}
			test(t, dir, snd, m)
		})
	}
}

// failWriter is a journal writer whose appends fail.
type failWriter struct{ journalWriter }

func (failWriter) append([]byte) error { return errors.New("injected write failure") }

// TestWriteFailureRotates: a failed journal write fails Record and
// counts nothing; the next Record starts a new generation, so the torn
// bytes a failed write may leave are the last of their file and no later
// record is lost behind them at replay. For both journal writers.
func TestWriteFailureRotates(t *testing.T) {
	eachWriter(t, func(t *testing.T, dir string, snd *collectSender, m *Meter) {
		mustRecord(t, m, "a", Usage{Reads: 1})
		j := &m.jour
		j.mu.Lock()
		gen := j.gen
		j.w = failWriter{j.w}
		j.mu.Unlock()
		if err := m.Record("a", Usage{Reads: 10}); err == nil {
			t.Fatal("Record with a failing journal succeeded")
		}
		mustRecord(t, m, "a", Usage{Reads: 100})
		if st, err := m.Stats(); err != nil || st.JournalGeneration != gen+1 {
			t.Fatalf("generation after a failed write = %+v, %v; want %d", st, err, gen+1)
		}
		// A crash during the failed write could have left a torn record
		// at the end of the old generation (now closed and cut to size).
		torn := appendJournalRecord(nil, "a", Usage{Reads: 10})
		appendFile(t, j.path(gen), torn[:len(torn)/2])
		if err := Crash(m); err != nil {
			t.Fatal(err)
		}
		m2 := newTestMeter(t, dir, snd, nil)
		if err := m2.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer m2.Close()
		st, err := m2.Stats()
		if err != nil || st.Replayed != 2 || st.SkippedJournalBytes != int64(len(torn)/2) {
			t.Fatalf("stats after reopen = %+v, %v; want 2 replayed, %d bytes skipped", st, err, len(torn)/2)
		}
		flush(t, m2)
		if got := snd.total()["a"]; got.Reads != 101 {
			t.Fatalf("billed reads = %d, want 101 (the failed Record not counted)", got.Reads)
		}
	})
}

// TestTornTailReplay: after a crash, the journal's torn tail is skipped
// (and logged), the records before it are billed once. For both journal
// writers: the mapped one's torn record sits before its zero tail.
func TestTornTailReplay(t *testing.T) {
	eachWriter(t, func(t *testing.T, dir string, snd *collectSender, m *Meter) {
		var end int64 // where the records end
		for i := range 10 {
			tenant, u := []string{"a", "b"}[i%2], Usage{Reads: 1, EgressBytes: uint64(i)}
			mustRecord(t, m, tenant, u)
			end += int64(len(appendJournalRecord(nil, tenant, u)))
		}
		st, _ := m.Stats()
		if err := Crash(m); err != nil {
			t.Fatal(err)
		}
		tail := appendJournalRecord(nil, "a", Usage{Reads: 1000})
		tail = tail[:len(tail)-2]
		path := filepath.Join(dir, journalName(st.JournalGeneration))
		writeAt(t, path, end, tail)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if want, plain := end+int64(len(tail)), m.jour.plainWrites; plain != (fi.Size() == want) {
			t.Fatalf("journal file of %d bytes after the crash, %d bytes of records (plain writes: %v)", fi.Size(), want, plain)
		}

		var logs bytes.Buffer
		m2 := newTestMeter(t, dir, snd, nil)
		m2.log = slogTo(&logs)
		m2.jour.log = m2.log
		if err := m2.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer m2.Close()
		wantSkipped := fi.Size() - end // the mapped file's zeros after the torn record too
		if st, _ := m2.Stats(); st.Replayed != 10 || st.SkippedJournalBytes != wantSkipped || st.JournalGeneration != 2 {
			t.Fatalf("stats after reopen = %+v; want 10 replayed, %d skipped, generation 2", st, wantSkipped)
		}
		if !strings.Contains(logs.String(), "journal tail skipped") {
			t.Fatalf("log does not mention the skipped tail:\n%s", logs.String())
		}
		flush(t, m2)
		got := snd.total()
		if got["a"].Reads != 5 || got["b"].Reads != 5 || got["a"].EgressBytes != 0+2+4+6+8 {
			t.Fatalf("billed = %+v, want 5 reads each", got)
		}
	})
}

func writeAt(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
