package meter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultWindow     = 10 * time.Second
	DefaultBatchSize  = 500
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// Errors callers branch on.
var (
	// ErrClosed is returned by calls on a Meter that is not open.
	ErrClosed = errors.New("meter: not open")
	// ErrRetryLater is returned (wrapped) by Flush when billing asked for
	// records to be resent later and the context ended first.
	ErrRetryLater = errors.New("billing asked to retry later")
)

// Sender delivers a usage batch to billing; *client.Client is one (its key
// must be the cluster's enrollment token). It must return one result per
// record, in order.
type Sender interface {
	SendUsage(ctx context.Context, records []client.UsageRecord) (client.IngestResult, error)
}

var _ Sender = (*client.Client)(nil)

// Config configures a Meter. NodeID and DataDir are required.
type Config struct {
	// NodeID is this node's id: the records' node_id, and the owner of
	// the outbox's sequence numbers.
	NodeID string
	// DataDir holds the outbox (OutboxFile) and the journal files
	// (journal-<generation>; see the package comment).
	DataDir string
	// Window is the metering window (default DefaultWindow).
	Window time.Duration
	// BatchSize bounds the records per usage batch (default
	// DefaultBatchSize, at most contract.MaxBatchRecords).
	BatchSize int
	// MinBackoff and MaxBackoff bound the wait after a failed send
	// (defaults DefaultMinBackoff, DefaultMaxBackoff). The n-th
	// consecutive failure waits a uniformly random time in [d/2, d] with
	// d = min(MinBackoff x 2^(n-1), MaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// Now is the clock (default time.Now). Times given to ObserveStorage
	// and SetLeader must come from the same clock.
	Now func() time.Time
}

// Validate checks cfg and names the bad field.
func (c Config) Validate() error {
	switch {
	case c.NodeID == "":
		return errors.New("meter: node_id: required")
	case c.DataDir == "":
		return errors.New("meter: data_dir: required")
	case c.Window < 0:
		return fmt.Errorf("meter: window: %s is negative", c.Window)
	case c.Window != 0 && c.Window < time.Millisecond:
		return fmt.Errorf("meter: window: %s is shorter than 1ms", c.Window)
	case c.BatchSize < 0 || c.BatchSize > contract.MaxBatchRecords:
		return fmt.Errorf("meter: batch_size: %d is out of range (1 to %d, 0 for the default)", c.BatchSize, contract.MaxBatchRecords)
	case c.MinBackoff < 0 || c.MaxBackoff < 0:
		return errors.New("meter: backoff: negative duration")
	}
	return nil
}

// Meter counts usage, keeps closed windows in a durable outbox and ships
// them to billing. Record, ObserveStorage and SetLeader are safe for
// concurrent use; Record, Flush, Stats and DeadLetters need an open Meter
// (ErrClosed otherwise), while ObserveStorage and SetLeader may be called
// at any time (before Open they count into the first window).
type Meter struct {
	cfg    Config
	sender Sender
	log    *slog.Logger

	counts *counter
	stor   *storage
	jour   journal // Record's crash-proof journal (see the package comment)

	// failpoint, when set (tests only), is called at each step of a
	// window close. At the steps done (stepCut ... stepRemoved) an error
	// ends the close there, as a crash would; before an operation
	// (stepSync, stepCommit) it is that operation's failure.
	failpoint func(step string) error

	winMu    sync.Mutex // serializes window closes; guards winStart
	winStart time.Time

	shipMu sync.Mutex // serializes shipping

	mu     sync.Mutex // guards box, cancel, done
	box    *outbox
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup
	notify chan struct{}

	sent, acked, dead atomic.Uint64
	replay            atomic.Pointer[replayStats] // of the last Open
}

// New validates cfg and returns a Meter that ships through sender. It
// does no I/O. logger may be nil (slog.Default()).
func New(cfg Config, sender Sender, logger *slog.Logger) (*Meter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sender == nil {
		return nil, errors.New("meter: sender: required")
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	log := logger.With("component", "meter")
	return &Meter{cfg: cfg, sender: sender, log: log, counts: newCounter(), stor: newStorage(),
		jour: journal{dir: cfg.DataDir, log: log}, notify: make(chan struct{}, 1)}, nil
}

// Record adds u to tenant's usage in the current window. Before it
// returns nil, u is in the journal under DataDir (in the page cache, no
// fsync),
// so a crash of the process once Record returned loses nothing: the next
// Open replays it (see the package comment). It fails, counting nothing,
// when the meter is not open (ErrClosed), tenant is not a valid tenant id
// (empty, longer than 256 bytes or not UTF-8), or the journal write
// failed. Safe for concurrent use; the journal write is serialized.
func (m *Meter) Record(tenant string, u Usage) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	j := &m.jour
	j.mu.Lock()
	defer j.mu.Unlock()
	if u.IsZero() {
		if j.w == nil {
			return ErrClosed
		}
		return nil
	}
	j.buf = appendJournalRecord(j.buf[:0], tenant, u)
	if err := j.writeLocked(j.buf); err != nil {
		return err
	}
	m.counts.add(tenant, u)
	m.wroteLocked()
	return nil
}

// ObserveStorage reports that tenant stores bytes at now. While this node
// is leader the value is integrated into byte-seconds until the next
// observation (see the package comment for the method and its bound).
func (m *Meter) ObserveStorage(tenant string, bytes uint64, now time.Time) {
	m.stor.observe(tenant, bytes, now.UnixNano())
}

// SetLeader tells the meter this node gained (true) or lost (false)
// leadership at at. Storage is integrated only while leader. Pass the
// same instant to the losing and the gaining node (e.g. the time in the
// new term's first raft entry) for gap-free, overlap-free handover.
func (m *Meter) SetLeader(leader bool, at time.Time) {
	m.stor.setLeader(leader, at.UnixNano())
}

// Open opens the outbox under DataDir, replays the journal entries not
// yet in the outbox into the current window (see the package comment),
// starts a new journal generation and starts the window and reporter
// goroutines. Records already in the outbox (from before a restart or a
// crash) are shipped first. An outbox written by another node id is
// refused (its sequence numbers are that node's).
func (m *Meter) Open(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.box != nil {
		return errors.New("meter: already open")
	}
	box, err := openOutbox(m.cfg.DataDir, m.cfg.NodeID)
	if err != nil {
		return err
	}
	consumed, err := box.consumed()
	if err != nil {
		box.close()
		return fmt.Errorf("outbox: %w", err)
	}
	// The journals hold every recorded usage not yet in the outbox; what
	// the counters still hold (a failed close before a Close) is in them.
	m.counts.take()
	rs, err := m.jour.open(consumed, m.counts.add)
	if err != nil {
		box.close()
		return err
	}
	m.replay.Store(&rs)
	if rs.records > 0 || rs.skipped > 0 {
		m.log.Info("journal replayed into the current window", "records", rs.records,
			"skipped_bytes", rs.skipped, "corrupt_records_lost", rs.lost, "tails_skipped", rs.tails,
			"consumed_generation", consumed, "generation", rs.gen)
	}
	m.box = box
	m.winMu.Lock()
	m.winStart = m.cfg.Now()
	m.winMu.Unlock()
	runCtx, cancel := context.WithCancel(context.Background())
	m.cancel, m.done = cancel, make(chan struct{})
	m.wg.Add(2)
	go m.windowLoop(runCtx)
	go m.reportLoop(runCtx)
	m.kick()
	return nil
}

// Close stops the goroutines, writes the current partial window to the
// outbox (it is shipped after the next Open), closes the journal (Record
// then returns ErrClosed) and closes the outbox. Records not yet
// acknowledged stay in the outbox. If the last window cannot be written,
// its journal stays and the next Open replays it.
func (m *Meter) Close() error {
	m.mu.Lock()
	box := m.box
	if box == nil {
		m.mu.Unlock()
		return nil
	}
	m.cancel()
	close(m.done)
	m.mu.Unlock()
	m.wg.Wait()
	m.shipMu.Lock() // wait for a Flush in progress to notice
	defer m.shipMu.Unlock()
	err := m.closeWindow(box, true)
	m.mu.Lock()
	m.box = nil
	m.mu.Unlock()
	return errors.Join(err, box.close())
}

// outbox returns the open outbox or ErrClosed.
func (m *Meter) outbox() (*outbox, <-chan struct{}, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.box == nil {
		return nil, nil, ErrClosed
	}
	return m.box, m.done, nil
}

// Flush closes the current window and ships every outbox record until
// billing has answered each one (acknowledged, or rejected into the
// dead-letter bucket). It returns ctx's error (joined with the last
// failure) if that takes longer than ctx allows.
func (m *Meter) Flush(ctx context.Context) error {
	box, done, err := m.outbox()
	if err != nil {
		return err
	}
	if err := m.closeWindow(box, false); err != nil {
		return err
	}
	m.shipMu.Lock()
	defer m.shipMu.Unlock()
	attempt := 0
	for {
		more, err := m.shipOnce(ctx, box)
		if err == nil && !more {
			return nil
		}
		if err == nil {
			attempt = 0
			continue
		}
		attempt++
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-done:
			return ErrClosed
		case <-time.After(m.backoff(attempt)):
		}
	}
}

// Stats describes the meter's progress.
type Stats struct {
	// Pending is the number of records in the outbox.
	Pending int
	// NextSeq is the sequence number the next record gets.
	NextSeq uint64
	// Incarnation identifies the outbox file ("" for one created before
	// incarnations); see the package comment.
	Incarnation string
	// Sent, Acked and DeadLettered count records since New.
	Sent, Acked, DeadLettered uint64
	// DeadLetters is the number of records in the dead-letter bucket:
	// rejected for good by billing, not billed until replayed (see
	// ReplayDeadLetters).
	DeadLetters int
	// StorageOverlap is the leadership time storage was integrated for
	// after leadership was already lost (windows closed before the loss
	// was reported); see the package comment.
	StorageOverlap time.Duration
	// Replayed is the number of journal records the last Open replayed
	// into the current window (usage recorded before a crash).
	Replayed int
	// Held is the number of applied requests whose usage the journal could
	// not take, kept in memory until it can (see RecordApplied).
	Held int
	// Unready: the last journal write failed (a full disk) and none
	// succeeded since, or usage is held; Ready then probes the journal.
	Unready bool
	// SkippedJournalBytes is the size of the torn or corrupt journal
	// stretches the last Open skipped (logged; see the package comment).
	SkippedJournalBytes int64
	// CorruptJournalRecords counts the corrupt stretches the last Open
	// skipped in the middle of journal files, each at least one record
	// whose usage is lost (logged as errors; see the package comment).
	CorruptJournalRecords int
	// SkippedJournalTails counts the torn or corrupt file ends the last
	// Open skipped (a write cut short by a crash: its Record never
	// returned).
	SkippedJournalTails int
	// JournalGeneration is the generation of the current journal file.
	JournalGeneration uint64
}

// Stats returns the meter's figures.
func (m *Meter) Stats() (Stats, error) {
	box, _, err := m.outbox()
	if err != nil {
		return Stats{}, err
	}
	n, err := box.count()
	if err != nil {
		return Stats{}, err
	}
	next, err := box.nextSeq()
	if err != nil {
		return Stats{}, err
	}
	dead, err := box.deadCount()
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Pending: n, NextSeq: next, Incarnation: box.incarnation, DeadLetters: dead, Sent: m.sent.Load(), Acked: m.acked.Load(),
		DeadLettered: m.dead.Load(), StorageOverlap: m.stor.overlapTotal(), JournalGeneration: m.jour.generation(), Held: m.jour.heldCount(), Unready: m.jour.failing.Load()}
	if rs := m.replay.Load(); rs != nil {
		st.Replayed, st.SkippedJournalBytes = rs.records, rs.skipped
		st.CorruptJournalRecords, st.SkippedJournalTails = rs.lost, rs.tails
	}
	return st, nil
}

// DeadLetters returns the records billing rejected for good, with the
// reasons, oldest first.
func (m *Meter) DeadLetters() ([]DeadLetter, error) {
	box, _, err := m.outbox()
	if err != nil {
		return nil, err
	}
	return box.deadLetters()
}

// Steps of a window close, reported to Meter.failpoint.
const (
	stepCut       = "cut"       // journal rotated, counters taken
	stepSynced    = "synced"    // consumed journals fsynced
	stepCommitted = "committed" // outbox transaction committed
	stepRemoved   = "removed"   // consumed journals deleted

	stepSync   = "sync"   // about to fsync the consumed journals
	stepCommit = "commit" // about to commit the outbox transaction
)

// closeWindow ends the current window now and appends its records to the
// outbox, in an order that keeps every recorded usage counted exactly
// once whatever step a crash interrupts:
//
//  1. cut: under the journal lock, rotate to generation G+1 (final: close
//     the journal) and take the counters, which hold exactly the records
//     of the generations <= G not yet consumed;
//  2. fsync those journal files and the directory;
//  3. one fsynced outbox transaction stores the window's records and
//     "journals consumed up to G";
//  4. delete the journal files <= G.
//
// A crash before 3 leaves the files (> consumed) for Open to replay; after
// 3, Open deletes them without replaying. On failure the taken usage goes
// back into the current window and the files stay pending, consumed by
// the next close.
func (m *Meter) closeWindow(box *outbox, final bool) error {
	m.winMu.Lock()
	defer m.winMu.Unlock()
	end := m.cfg.Now()
	if end.Before(m.winStart) {
		end = m.winStart
	}
	consumed, gens, usage, held, err := m.jour.cut(final, m.counts)
	if err != nil {
		m.log.Error("closing window failed: cannot rotate the journal; usage kept for the next window", "err", err)
		if herr := m.commitHeld(box, end); herr != nil {
			m.log.Error("writing held usage to the outbox failed; still held", "err", herr)
		}
		return err
	}
	if err := m.fail(stepCut); err != nil {
		return err
	}
	stor := m.stor.take(end.UnixNano())
	recs := windowRecords(m.winStart, end, withHeld(usage, held), stor)
	undo := func(err error) error {
		m.counts.restore(usage)
		m.stor.giveBack(stor)
		m.jour.requeue(gens, held)
		m.log.Error("closing window failed; usage kept for the next window", "err", err)
		return err
	}
	if err := m.fail(stepSync); err != nil {
		return undo(err)
	}
	if err := m.jour.sync(gens); err != nil {
		return undo(err)
	}
	if err := m.fail(stepSynced); err != nil {
		return err
	}
	if err := m.fail(stepCommit); err != nil {
		return undo(err)
	}
	if _, err := box.commit(recs, consumed); err != nil {
		return undo(err)
	}
	for _, h := range held {
		h.resolve(nil) // in the outbox: recorded
	}
	if err := m.fail(stepCommitted); err != nil {
		return err
	}
	m.jour.remove(gens)
	if err := m.fail(stepRemoved); err != nil {
		return err
	}
	if len(recs) > 0 {
		m.kick()
	}
	m.winStart = end
	return nil
}

// fail calls the test failpoint, if any.
func (m *Meter) fail(step string) error {
	if m.failpoint == nil {
		return nil
	}
	return m.failpoint(step)
}

// windowRecords builds one record per tenant with usage, by tenant id.
func windowRecords(start, end time.Time, usage map[string]Usage, stor map[string]uint64) []Record {
	tenants := make([]string, 0, len(usage)+len(stor))
	for t := range usage {
		tenants = append(tenants, t)
	}
	for t := range stor {
		if _, ok := usage[t]; !ok {
			tenants = append(tenants, t)
		}
	}
	sort.Strings(tenants)
	recs := make([]Record, 0, len(tenants))
	for _, t := range tenants {
		recs = append(recs, Record{Tenant: t, Start: start, End: end, Usage: usage[t], StorageByteSeconds: stor[t]})
	}
	return recs
}

// kick wakes the reporter.
func (m *Meter) kick() {
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// windowLoop closes a window at each multiple of Window.
func (m *Meter) windowLoop(ctx context.Context) {
	defer m.wg.Done()
	w := m.cfg.Window
	for {
		now := m.cfg.Now()
		next := now.Truncate(w).Add(w)
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		box, _, err := m.outbox()
		if err != nil {
			return
		}
		_ = m.closeWindow(box, false) // logged; retried at the next boundary
	}
}
