package meter

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// journalPrefix starts a journal file's name under Config.DataDir; the
// rest is its generation in decimal (journal-000000000007).
const journalPrefix = "journal-"

func journalName(gen uint64) string { return fmt.Sprintf("%s%012d", journalPrefix, gen) }

// parseJournalName returns the generation of a journal file name.
func parseJournalName(name string) (uint64, bool) {
	digits, ok := strings.CutPrefix(name, journalPrefix)
	if !ok || digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	gen, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || gen == 0 {
		return 0, false
	}
	return gen, true
}

// journal is the append-only file that makes Record crash-proof: every
// Record appends its usage to the current generation before it returns.
// A window close rotates to the next generation, and the outbox
// transaction that stores the closed window also stores the highest
// generation it consumed; consumed files are then deleted.
type journal struct {
	dir string
	log *slog.Logger

	// plainWrites makes new generations append with write(2) instead of
	// through a memory mapping (see createJournal); set before open.
	plainWrites bool
	// create, when set (tests), replaces createJournal.
	create func(dir string, gen uint64, mapped bool) (journalWriter, error)

	mu  sync.Mutex    // serializes writes and rotations
	w   journalWriter // current generation; nil while the meter is not open
	gen uint64        // generation of w
	// broken: a write to w failed, so its file may end in a torn record;
	// the next write rotates first, so a torn record is always a file's
	// last.
	broken bool
	// pending holds earlier generations whose records are in the
	// counters but not yet in the outbox (replayed at Open, rotated away
	// after a failed write, or left by a failed window close).
	pending []uint64
	buf     []byte // Record's encoding buffer, reused under mu
	// held: usage of applied requests the journal could not take (see
	// RecordApplied); journaled by the next successful write or retry,
	// or committed by the next window close.
	held []*heldUsage
	// failing: the last write or rotation failed and has not been
	// followed by a successful one, or usage is held (see Ready).
	failing atomic.Bool
}

func (j *journal) path(gen uint64) string { return filepath.Join(j.dir, journalName(gen)) }

// replayStats describes what Open found in the journals.
type replayStats struct {
	records int    // records replayed into the counters
	skipped int64  // bytes of torn or corrupt stretches skipped
	lost    int    // corrupt stretches in the middle of a file (each held at least one record)
	tails   int    // torn or corrupt tails skipped (a write cut short by a crash, or damage)
	removed int    // consumed files deleted
	gen     uint64 // the generation created for new records
}

// open recovers after a start or a crash: journal files of generations
// <= consumed are already in the outbox and are deleted; the others are
// replayed through add (in generation order), fsynced and kept pending;
// a new generation above every one seen is created for new records.
func (j *journal) open(consumed uint64, add func(tenant string, u Usage)) (replayStats, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var st replayStats
	if j.w != nil {
		return st, errors.New("journal already open")
	}
	gens, err := listJournals(j.dir)
	if err != nil {
		return st, err
	}
	top := consumed
	j.pending = j.pending[:0]
	for _, g := range gens {
		top = max(top, g)
		if g <= consumed {
			if err := os.Remove(j.path(g)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				// Harmless: a consumed file is never replayed.
				j.log.Warn("removing a consumed journal failed", "file", j.path(g), "err", err)
			} else {
				st.removed++
			}
			continue
		}
		if err := j.replay(g, add, &st); err != nil {
			return st, err
		}
		j.pending = append(j.pending, g)
	}
	w, err := createJournal(j.dir, top+1, !j.plainWrites)
	if err != nil {
		return st, err
	}
	if err := syncDir(j.dir); err != nil {
		w.close(true)
		return st, err
	}
	j.w, j.gen, j.broken = w, top+1, false
	st.gen = top + 1
	return st, nil
}

// replay feeds the records of generation gen to add, adds what it found
// to st and fsyncs the file. Stretches that hold no record are skipped
// and logged (see scanJournal): in the middle of the file, a corrupt
// record whose usage is lost (an Error: it was recorded and may have been
// answered); at the end, a write cut short by a crash (its Record never
// returned) or, after a power loss, data the disk never got (a Warn).
func (j *journal) replay(gen uint64, add func(tenant string, u Usage), st *replayStats) error {
	path := j.path(gen)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	records, damage, err := scanJournal(f, add)
	st.records += records
	if err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	for i, d := range damage {
		st.skipped += d.size
		if d.tail {
			st.tails++
		} else {
			st.lost++
		}
		if i >= maxDamageLogs {
			continue
		}
		if d.tail {
			j.log.Warn("journal tail skipped: a write cut short by a crash (its Record never returned) or lost by the disk",
				"file", path, "offset", d.offset, "bytes", d.size, "reason", d.reason)
		} else {
			j.log.Error("corrupt journal record skipped: its usage is lost; replay resumed at the next valid record",
				"file", path, "offset", d.offset, "bytes", d.size, "reason", d.reason)
		}
	}
	if len(damage) > maxDamageLogs {
		j.log.Error("journal damage: more stretches skipped than logged", "file", path, "stretches", len(damage))
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal %s: fsync: %w", path, err)
	}
	return nil
}

// maxDamageLogs bounds the log lines of one file's damaged stretches.
const maxDamageLogs = 16

// journalDamage is a stretch of a journal file that holds no record.
type journalDamage struct {
	offset, size int64
	// tail: the stretch runs to the end of the file (zeros after it
	// included); otherwise a valid record follows it, and the stretch
	// held at least one record.
	tail   bool
	reason error // why its first bytes are not a record
}

// scanJournal feeds the records read from r to add, in order, up to the
// end or an all-zero tail (the unused preallocated part of a mapped
// journal that was not cut to size). Bytes that are not a record (bad
// length, checksum or body) do not stop it: records are framed and
// checksummed, so it resynchronizes on the next offset where a valid
// record starts and reports the stretch skipped. A random stretch passes
// for a record only if its 4-byte length is in range and its CRC-32C
// matches (about 2^-32 per offset). err is a read error.
func scanJournal(r io.Reader, add func(tenant string, u Usage)) (records int, damage []journalDamage, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var pos int64
	var cur *journalDamage // the open damaged stretch
	dirty := false         // cur holds a byte that is not zero
	for {
		b, perr := br.Peek(journalMaxRecord)
		if perr != nil && !errors.Is(perr, io.EOF) {
			return records, damage, fmt.Errorf("read at %d: %w", pos, perr)
		}
		if len(b) == 0 {
			if cur != nil && dirty {
				cur.size, cur.tail = pos-cur.offset, true
				damage = append(damage, *cur)
			}
			return records, damage, nil
		}
		tenant, u, size, derr := decodeJournalRecord(b)
		if derr == nil {
			if cur != nil {
				cur.size = pos - cur.offset
				damage = append(damage, *cur)
				cur, dirty = nil, false
			}
			if !u.IsZero() { // a zero record is a readiness probe (Meter.Ready)
				add(tenant, u)
				records++
			}
			if _, err := br.Discard(size); err != nil {
				return records, damage, fmt.Errorf("read at %d: %w", pos, err)
			}
			pos += int64(size)
			continue
		}
		if cur == nil {
			cur = &journalDamage{offset: pos, reason: derr}
		}
		// Advance to the next offset a record could start at: over a run
		// of zeros, to the zero before the first non-zero byte (a record
		// whose length is a multiple of 256 starts with a zero byte).
		step := 1
		if z := slices.IndexFunc(b, func(c byte) bool { return c != 0 }); z < 0 {
			step = max(len(b)-1, 1)
			if len(b) < journalMaxRecord {
				step = len(b) // zeros to the end
			}
		} else if z == 0 {
			dirty = true
		} else {
			step = max(z-1, 1)
		}
		if _, err := br.Discard(step); err != nil {
			return records, damage, fmt.Errorf("read at %d: %w", pos, err)
		}
		pos += int64(step)
	}
}

// writeLocked appends one encoded record to the current generation.
// Caller holds mu. After a failed write the file may end in a torn
// record, so the next write starts a new generation.
func (j *journal) writeLocked(rec []byte) error {
	if j.w == nil {
		return ErrClosed
	}
	if j.broken {
		if err := j.rotateLocked(); err != nil {
			j.failing.Store(true)
			return err
		}
	}
	if err := j.w.append(rec); err != nil {
		j.broken = true
		j.failing.Store(true)
		return err
	}
	return nil
}

// rotateLocked moves the current generation to pending and starts the
// next one. Caller holds mu.
func (j *journal) rotateLocked() error {
	create := createJournal
	if j.create != nil {
		create = j.create
	}
	w, err := create(j.dir, j.gen+1, !j.plainWrites)
	if err != nil {
		return err
	}
	if err := j.w.close(true); err != nil {
		j.log.Warn("closing a journal failed", "file", j.path(j.gen), "err", err)
	}
	j.pending = append(j.pending, j.gen)
	j.w, j.gen, j.broken = w, j.gen+1, false
	return nil
}

// cut ends the current generation for a window close: it rotates to the
// next generation (or, when final, closes the journal so later writes get
// ErrClosed) and takes the counters and the held usage, under the write
// lock, so every record is in exactly one of the taken counters and the
// later ones, and every held usage in exactly one of held and the later
// ones. It returns the generations those counters hold, all <= consumed.
func (j *journal) cut(final bool, c *counter) (consumed uint64, gens []uint64, usage map[string]Usage, held []*heldUsage, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.w == nil {
		return 0, nil, nil, nil, ErrClosed
	}
	consumed = j.gen
	if final {
		if err := j.w.close(true); err != nil {
			j.log.Warn("closing a journal failed", "file", j.path(j.gen), "err", err)
		}
		j.pending = append(j.pending, j.gen)
		j.w = nil
	} else if err := j.rotateLocked(); err != nil {
		// The current file still takes records: the meter stays ready.
		return 0, nil, nil, nil, err
	}
	gens, j.pending = j.pending, nil
	held, j.held = j.held, nil
	return consumed, gens, c.take(), held, nil
}

// requeue puts back generations whose window close failed (their records
// went back into the counters and the next close consumes them) and the
// held usage the close took. After the final close there is no next one:
// the held usage is lost, and reported so.
func (j *journal) requeue(gens []uint64, held []*heldUsage) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pending = append(j.pending, gens...)
	slices.Sort(j.pending)
	if len(held) == 0 {
		return
	}
	if j.w == nil {
		for _, h := range held {
			j.log.Error("usage of an applied request lost: the meter closed before it could be recorded",
				"tenant", h.tenant, "writes", h.u.Writes, "ingress_bytes", h.u.IngressBytes, "egress_bytes", h.u.EgressBytes)
			h.resolve(errHeldLost)
		}
		return
	}
	j.held = append(held, j.held...)
	j.failing.Store(true)
}

// sync fsyncs the files of gens and the directory (whose entries for them
// were created earlier), before the outbox transaction that consumes them.
func (j *journal) sync(gens []uint64) error {
	for _, g := range gens {
		if err := syncFile(j.path(g)); err != nil {
			return err
		}
	}
	return syncDir(j.dir)
}

// remove deletes consumed generations. A failure is only logged: Open
// deletes files at or below the outbox's consumed generation and never
// replays them.
func (j *journal) remove(gens []uint64) {
	for _, g := range gens {
		if err := os.Remove(j.path(g)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			j.log.Warn("removing a consumed journal failed", "file", j.path(g), "err", err)
		}
	}
}

// drop closes the current file without consuming it (a simulated crash).
func (j *journal) drop() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.w == nil {
		return nil
	}
	err := j.w.close(false)
	j.w, j.pending, j.held = nil, nil, nil // held usage is in memory only
	j.failing.Store(false)
	return err
}

// generation returns the current generation (0 when closed).
func (j *journal) generation() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.w == nil {
		return 0
	}
	return j.gen
}

// listJournals returns the generations of the journal files in dir,
// ascending.
func listJournals(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var gens []uint64
	for _, e := range ents {
		if g, ok := parseJournalName(e.Name()); ok && e.Type().IsRegular() {
			gens = append(gens, g)
		}
	}
	slices.Sort(gens)
	return gens, nil
}

// syncFile fsyncs the file at path (a missing file has nothing to sync).
func syncFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal %s: fsync: %w", path, err)
	}
	return nil
}

// syncDir fsyncs directory dir, making its file creations durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("journal: fsync %s: %w", dir, err)
	}
	return nil
}
