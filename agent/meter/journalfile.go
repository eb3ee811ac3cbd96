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
}

func (j *journal) path(gen uint64) string { return filepath.Join(j.dir, journalName(gen)) }

// replayStats describes what Open found in the journals.
type replayStats struct {
	records int    // records replayed into the counters
	skipped int64  // bytes of torn or corrupt tails skipped
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
		n, skipped, err := j.replay(g, add)
		if err != nil {
			return st, err
		}
		st.records += n
		st.skipped += skipped
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

// replay feeds the records of generation gen to add and fsyncs the file.
// It stops at the first record that does not decode: the tail from there
// is a write cut short by a crash (its Record never returned) or, after a
// power loss, data the disk never got; it is logged and skipped.
func (j *journal) replay(gen uint64, add func(tenant string, u Usage)) (records int, skipped int64, err error) {
	path := j.path(gen)
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	records, good, bad, err := scanJournal(f, add)
	if err != nil {
		return records, 0, fmt.Errorf("journal %s: %w", path, err)
	}
	if bad != nil {
		fi, err := f.Stat()
		if err != nil {
			return records, 0, fmt.Errorf("journal: %w", err)
		}
		skipped = fi.Size() - good
		j.log.Warn("journal tail skipped: a write cut short by a crash (its Record never returned) or lost by the disk",
			"file", path, "offset", good, "bytes", skipped, "records_before", records, "reason", bad)
	}
	if err := f.Sync(); err != nil {
		return records, skipped, fmt.Errorf("journal %s: fsync: %w", path, err)
	}
	return records, skipped, nil
}

// scanJournal feeds the records read from r to add, up to the end, an
// all-zero tail (the unused preallocated part of a mapped journal that
// was not cut to size: the end too) or the first record that does not
// decode. good is the length of the records fed; bad says why the rest
// (if any, and not all zeros) was not read; err is a read error.
func scanJournal(r io.Reader, add func(tenant string, u Usage)) (records int, good int64, bad, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		b, perr := br.Peek(journalMaxRecord)
		if len(b) == 0 && errors.Is(perr, io.EOF) {
			return records, good, nil, nil
		}
		if perr != nil && !errors.Is(perr, io.EOF) {
			return records, good, nil, fmt.Errorf("read at %d: %w", good, perr)
		}
		tenant, u, size, derr := decodeJournalRecord(b)
		if derr != nil {
			zeros, err := allZero(br)
			if err != nil {
				return records, good, nil, fmt.Errorf("read after %d: %w", good, err)
			}
			if zeros {
				return records, good, nil, nil
			}
			return records, good, derr, nil
		}
		add(tenant, u)
		records++
		good += int64(size)
		if _, err := br.Discard(size); err != nil {
			return records, good, nil, fmt.Errorf("read at %d: %w", good, err)
		}
	}
}

// allZero reads r to its end and reports whether every byte was zero
// (true for no bytes).
func allZero(r io.Reader) (bool, error) {
	var buf [32 << 10]byte
	for {
		n, err := r.Read(buf[:])
		for _, c := range buf[:n] {
			if c != 0 {
				return false, nil
			}
		}
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
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
			return err
		}
	}
	if err := j.w.append(rec); err != nil {
		j.broken = true
		return err
	}
	return nil
}

// rotateLocked moves the current generation to pending and starts the
// next one. Caller holds mu.
func (j *journal) rotateLocked() error {
	w, err := createJournal(j.dir, j.gen+1, !j.plainWrites)
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
// ErrClosed) and takes the counters, under the write lock, so every
// record is in exactly one of the taken counters and the later ones. It
// returns the generations those counters hold, all <= consumed.
func (j *journal) cut(final bool, c *counter) (consumed uint64, gens []uint64, usage map[string]Usage, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.w == nil {
		return 0, nil, nil, ErrClosed
	}
	consumed = j.gen
	if final {
		if err := j.w.close(true); err != nil {
			j.log.Warn("closing a journal failed", "file", j.path(j.gen), "err", err)
		}
		j.pending = append(j.pending, j.gen)
		j.w = nil
	} else if err := j.rotateLocked(); err != nil {
		return 0, nil, nil, err
	}
	gens, j.pending = j.pending, nil
	return consumed, gens, c.take(), nil
}

// requeue puts back generations whose window close failed: their records
// went back into the counters and the next close consumes them.
func (j *journal) requeue(gens []uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pending = append(j.pending, gens...)
	slices.Sort(j.pending)
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
	j.w, j.pending = nil, nil
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
