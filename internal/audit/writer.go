package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultMaxSize is the size past which the active file is rotated.
const DefaultMaxSize = 64 << 20

// MinHMACKeyBytes is the shortest HMAC key a Writer accepts.
const MinHMACKeyBytes = 16

// Sentinel errors.
var (
	// ErrClosed is returned by Append after Close, or before Open.
	ErrClosed = errors.New("audit: log not open")
	// ErrCorrupt is returned by Open when an existing file fails
	// verification somewhere other than a torn last line.
	ErrCorrupt = errors.New("audit: log corrupt")
)

// Config configures a Writer.
type Config struct {
	// Path is the active file, e.g. <data-dir>/audit/audit.jsonl. Rotated
	// files are kept next to it.
	Path string
	// MaxSize rotates the active file before it would pass this many bytes.
	// 0 means DefaultMaxSize; negative never rotates.
	MaxSize int64
	// SyncInterval 0 (the default, audit-grade) makes every Append wait for
	// an fsync of its record. A positive interval fsyncs in the background
	// that often instead; a crash may lose up to an interval of records.
	SyncInterval time.Duration
	// HMACKey, if set, keys the chain (see the package doc); at least
	// MinHMACKeyBytes long.
	HMACKey []byte
	// Secrets are values that must never be written (the admin key, …):
	// wherever one appears in a record it is replaced by "[redacted]".
	Secrets []string
	// Now returns the time stamped on records; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings (recovery); nil discards them.
	Logger *slog.Logger
}

// Writer appends records to the log. It is safe for concurrent use.
type Writer struct {
	cfg     Config
	h       hasher
	secrets []string
	log     *slog.Logger

	mu       sync.Mutex
	cond     *sync.Cond // signals the end of an fsync
	f        *os.File
	lock     *os.File // <path>.lock, held while open
	open     bool
	size     int64
	first    uint64 // seq of the active file's first record
	last     Link
	durable  uint64 // highest seq known fsynced
	syncing  bool   // an fsync runs outside mu
	err      error  // sticky: a failed write or fsync stops the writer
	stop     chan struct{}
	flusherD chan struct{}
}

// New validates cfg and returns a Writer. It does no I/O.
func New(cfg Config) (*Writer, error) {
	if cfg.Path == "" {
		return nil, errors.New("audit: path: empty")
	}
	if len(cfg.HMACKey) > 0 && len(cfg.HMACKey) < MinHMACKeyBytes {
		return nil, fmt.Errorf("audit: hmac key: %d bytes; want at least %d", len(cfg.HMACKey), MinHMACKeyBytes)
	}
	if cfg.SyncInterval < 0 {
		return nil, errors.New("audit: sync interval: must not be negative")
	}
	if cfg.MaxSize == 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var secrets []string
	for _, s := range cfg.Secrets {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	w := &Writer{cfg: cfg, h: hasher{key: cfg.HMACKey}, secrets: secrets, log: log.With("component", "audit")}
	w.cond = sync.NewCond(&w.mu)
	return w, nil
}

// Open opens or creates the active file, verifies what it holds, repairs a
// torn last line (see the package doc) and continues the chain: from the
// active file's last record, else from the newest rotated file, else from
// the genesis. It fails with ErrCorrupt if the file holds an invalid line.
func (w *Writer) Open(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.open {
		return errors.New("audit: already open")
	}
	w.err = nil
	if err := os.MkdirAll(filepath.Dir(w.cfg.Path), 0o700); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	lock, err := lockFile(w.cfg.Path + ".lock")
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	f, err := os.OpenFile(w.cfg.Path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		lock.Close()
		return fmt.Errorf("audit: %w", err)
	}
	err = w.load(f)
	if err == nil {
		if err = syncDir(filepath.Dir(w.cfg.Path)); err != nil {
			err = fmt.Errorf("audit: %w", err)
		}
	}
	if err != nil {
		if w.f != nil {
			w.f.Close()
		} else {
			f.Close()
		}
		w.f = nil
		lock.Close()
		return err
	}
	w.lock = lock
	w.open, w.err = true, nil
	if w.cfg.SyncInterval > 0 {
		w.stop, w.flusherD = make(chan struct{}), make(chan struct{})
		go w.flusher(w.stop, w.flusherD)
	}
	return nil
}

// load reads the active file f, repairs its tail and sets the chain state.
func (w *Writer) load(f *os.File) error {
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
	}
	rep, t, err := verify(f, VerifyOptions{HMACKey: w.cfg.HMACKey}, true)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, w.cfg.Path, err)
	}
	w.f, w.size = f, t.good
	w.first, w.last, w.durable = rep.First.Seq, rep.Last, rep.Last.Seq
	var repair map[string]string
	if len(t.torn) > 0 {
		repair, err = w.repairTail(rep, t)
		if err != nil {
			return err
		}
	}
	if w.size == 0 {
		if err := w.startFile(); err != nil {
			return err
		}
	}
	if repair != nil {
		w.log.Warn("audit log had a torn last line", "path", w.cfg.Path, "repair", repair["repair"], "bytes", repair["bytes"])
		if err := w.appendLocked(Event{Actor: Actor{Kind: "system"}, Action: ActionRecovered, Target: "file:" + filepath.Base(w.cfg.Path), Outcome: OutcomeOK, Detail: repair}); err != nil {
			return err
		}
	}
	if w.durable < w.last.Seq {
		return w.syncLocked()
	}
	return nil
}

// repairTail completes or cuts a torn last line and says what it did.
func (w *Writer) repairTail(rep Report, t tail) (map[string]string, error) {
	detail := map[string]string{"bytes": strconv.Itoa(len(t.torn)), "offset": strconv.FormatInt(t.good, 10)}
	if r, ok := w.completes(rep, t.torn); ok {
		if _, err := w.f.Write([]byte{'\n'}); err != nil {
			return nil, w.fail(err)
		}
		if rep.Records == 0 {
			w.first = r.Seq
		}
		w.size += int64(len(t.torn)) + 1
		w.last = Link{Seq: r.Seq, Hash: lineHash(t.torn)}
		detail["repair"] = "newline added to a complete last record"
		return detail, nil
	}
	if err := w.f.Truncate(t.good); err != nil {
		return nil, fmt.Errorf("audit: cut torn tail: %w", err)
	}
	sum := sha256.Sum256(t.torn)
	detail["repair"] = "torn last line cut off"
	detail["dropped_sha256"] = hex.EncodeToString(sum[:])
	return detail, nil
}

// completes reports whether torn is a whole, valid record that continues
// the chain and only lacks its newline.
func (w *Writer) completes(rep Report, torn []byte) (Record, bool) {
	r, err := DecodeLine(torn)
	if err != nil {
		return Record{}, false
	}
	if rep.Records == 0 {
		_, err := Verify(strings.NewReader(string(torn)+"\n"), VerifyOptions{HMACKey: w.cfg.HMACKey})
		return r, err == nil
	}
	if r.Seq != rep.Last.Seq+1 || r.Prev != rep.Last.Hash || r.Action == ActionRotated {
		return Record{}, false
	}
	h := r.Hash
	w.h.seal(&r)
	return r, r.Hash == h
}

// startFile begins an empty active file: with a rotation record when a
// rotated file exists, else at the genesis.
func (w *Writer) startFile() error {
	prev, err := w.newestRotated()
	if err != nil {
		return err
	}
	if prev == "" {
		w.first, w.last = 0, Link{Hash: GenesisPrev}
		return nil
	}
	rep, err := verifyFile(prev, w.cfg.HMACKey)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, prev, err)
	}
	w.last = rep.Last
	w.first = rep.Last.Seq + 1
	return w.appendLocked(rotationEvent(filepath.Base(prev), rep.Last.Hash))
}

func rotationEvent(prevFile, prevHash string) Event {
	return Event{Actor: Actor{Kind: "system"}, Action: ActionRotated, Target: "file:" + prevFile, Outcome: OutcomeOK,
		Detail: map[string]string{"previous_file": prevFile, "previous_hash": prevHash}}
}

func verifyFile(path string, key []byte) (Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return Report{}, err
	}
	defer f.Close()
	return Verify(f, VerifyOptions{HMACKey: key})
}

// rotatedName is the name the active file gets when rotated.
func (w *Writer) rotatedName(firstSeq uint64) string {
	ext := filepath.Ext(w.cfg.Path)
	return strings.TrimSuffix(w.cfg.Path, ext) + fmt.Sprintf(".%020d", firstSeq) + ext
}

// newestRotated returns the rotated file with the highest first seq, or "".
func (w *Writer) newestRotated() (string, error) {
	ext := filepath.Ext(w.cfg.Path)
	stem := strings.TrimSuffix(filepath.Base(w.cfg.Path), ext)
	pat := regexp.MustCompile(`^` + regexp.QuoteMeta(stem) + `\.[0-9]{20}` + regexp.QuoteMeta(ext) + `$`)
	entries, err := os.ReadDir(filepath.Dir(w.cfg.Path))
	if err != nil {
		return "", fmt.Errorf("audit: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && pat.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "", nil
	}
	sort.Strings(names)
	return filepath.Join(filepath.Dir(w.cfg.Path), names[len(names)-1]), nil
}

// Append records e. It returns once the record is written and, unless
// Config.SyncInterval is set, fsynced. A failed write or fsync stops the
// writer: later appends return the same error until it is reopened.
func (w *Writer) Append(ctx context.Context, e Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.appendLocked(e); err != nil {
		return err
	}
	if w.cfg.SyncInterval > 0 {
		return nil
	}
	return w.waitDurable(w.last.Seq)
}

// appendLocked writes one record, rotating first if it would not fit.
func (w *Writer) appendLocked(e Event) error {
	if w.err != nil {
		return w.err
	}
	if w.f == nil {
		return ErrClosed
	}
	if e.Action == "" {
		return errors.New("audit: action: empty")
	}
	if e.Actor.Kind == "" {
		return errors.New("audit: actor kind: empty")
	}
	if !e.Outcome.valid() {
		return fmt.Errorf("audit: outcome: %q is not ok, denied or error", e.Outcome)
	}
	line := w.line(e)
	if w.cfg.MaxSize > 0 && w.size > 0 && w.size+int64(len(line)) > w.cfg.MaxSize && e.Action != ActionRotated {
		if err := w.rotate(); err != nil {
			return err
		}
		line = w.line(e)
	}
	if _, err := w.f.Write(line); err != nil {
		return w.fail(err)
	}
	if w.first == 0 {
		w.first = w.last.Seq + 1
	}
	w.size += int64(len(line))
	w.last = Link{Seq: w.last.Seq + 1, Hash: lineHash(line[:len(line)-1])}
	return nil
}

// line builds the next record's line, newline included.
func (w *Writer) line(e Event) []byte {
	actor, action, target, detail := sanitize(e, w.secrets)
	r := Record{
		Seq:     w.last.Seq + 1,
		Time:    w.cfg.Now().UTC().Format(time.RFC3339Nano),
		Actor:   actor,
		Action:  action,
		Target:  target,
		Outcome: e.Outcome,
		Detail:  detail,
		Prev:    w.last.Hash,
	}
	return append(w.h.seal(&r), '\n')
}

// rotate fsyncs and renames the active file and starts a new one whose
// first record chains to it. Called with mu held.
func (w *Writer) rotate() error {
	for w.syncing {
		w.cond.Wait()
	}
	if w.err != nil {
		return w.err
	}
	if err := w.f.Sync(); err != nil {
		return w.fail(err)
	}
	w.durable = w.last.Seq
	if err := w.f.Close(); err != nil {
		return w.fail(err)
	}
	w.f = nil
	name := w.rotatedName(w.first)
	if _, err := os.Stat(name); err == nil {
		return w.fail(fmt.Errorf("rotate: %s exists", name))
	}
	if err := os.Rename(w.cfg.Path, name); err != nil {
		return w.fail(err)
	}
	f, err := os.OpenFile(w.cfg.Path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return w.fail(err)
	}
	w.f, w.size, w.first = f, 0, w.last.Seq+1
	if err := syncDir(filepath.Dir(w.cfg.Path)); err != nil {
		return w.fail(err)
	}
	if err := w.appendLocked(rotationEvent(filepath.Base(name), w.last.Hash)); err != nil {
		return err
	}
	return w.syncLocked()
}

// syncLocked fsyncs the active file with mu held.
func (w *Writer) syncLocked() error {
	for w.syncing {
		w.cond.Wait()
	}
	if w.err != nil {
		return w.err
	}
	if err := w.f.Sync(); err != nil {
		return w.fail(err)
	}
	w.durable = w.last.Seq
	return nil
}

// waitDurable returns once seq is fsynced. Called with mu held; the fsync
// itself runs without it, so appends that arrive meanwhile share the next.
func (w *Writer) waitDurable(seq uint64) error {
	for w.durable < seq {
		if w.err != nil {
			return w.err
		}
		if w.f == nil {
			return ErrClosed
		}
		if w.syncing {
			w.cond.Wait()
			continue
		}
		w.syncing = true
		f, target := w.f, w.last.Seq
		w.mu.Unlock()
		err := f.Sync()
		w.mu.Lock()
		w.syncing = false
		w.cond.Broadcast()
		if err != nil {
			return w.fail(err)
		}
		w.durable = max(w.durable, target)
	}
	return nil
}

// fail makes err sticky and returns it.
func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = fmt.Errorf("audit: %s: %w", w.cfg.Path, err)
	}
	return w.err
}

func (w *Writer) flusher(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(w.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			w.mu.Lock()
			if w.f != nil && w.err == nil {
				_ = w.waitDurable(w.last.Seq) // a failure is sticky: the next Append returns it
			}
			w.mu.Unlock()
		}
	}
}

// Sync fsyncs every record appended so far.
func (w *Writer) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return ErrClosed
	}
	return w.waitDurable(w.last.Seq)
}

// Last returns the link of the last record written: worth shipping off the
// host as an anchor (VerifyOptions.Anchors).
func (w *Writer) Last() Link {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// Close fsyncs and closes the active file. Appends after Close return
// ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	if !w.open {
		w.mu.Unlock()
		return nil
	}
	w.open = false
	stop, done := w.stop, w.flusherD
	w.stop, w.flusherD = nil, nil
	w.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.syncing {
		w.cond.Wait()
	}
	if w.lock != nil {
		defer func() { w.lock.Close(); w.lock = nil }()
	}
	if w.f == nil {
		return w.err
	}
	var err error
	if w.err == nil {
		if err = w.f.Sync(); err == nil {
			w.durable = w.last.Seq
		}
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err != nil {
		return fmt.Errorf("audit: close %s: %w", w.cfg.Path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	return nil
}

var _ io.Closer = (*Writer)(nil)
