package document

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/query"
	"github.com/aerolithdb/aerolith/internal/seal"
)

// Defaults and hard limits of Config.
const (
	DefaultMaxDocumentBytes = 1 << 20
	DefaultMaxIndexKeyBytes = 1024
	DefaultMaxIndexes       = 64
	// maxIndexKeyBytes stays well under bbolt's key limit (32 KiB).
	maxIndexKeyBytes = 16 << 10
)

// Config configures the state machine. Every node of a cluster must use the
// same values, or nodes could disagree on which commands fail.
type Config struct {
	// MaxDocumentBytes bounds a document's compacted JSON data (default
	// 1 MiB); a larger put fails with ErrTooLarge.
	MaxDocumentBytes int
	// MaxIndexKeyBytes bounds one index entry (the encoded value plus the
	// id, default 1024, at most 16 KiB). A put or index creation that would
	// need a larger entry fails with ErrTooLarge naming the field.
	MaxIndexKeyBytes int
	// MaxIndexes bounds the indexes of one collection (default 64).
	MaxIndexes int
	// Logger receives storage faults (default: discard).
	Logger *slog.Logger
	// Limits returns a tenant's limits as of tx (see Limits); nil, or
	// ok=false for a tenant, means unlimited. It must be a function of tx's
	// contents only, so every replica enforces the same limits, and must not
	// write. An error fails the command with ErrInternal.
	Limits func(tx *bolt.Tx, tenant string) (Limits, bool, error)
	// OnStorage, when set, is told a tenant's stored bytes (Stats.Bytes +
	// Stats.IndexBytes) after each command that changed them, at the time
	// of the command's last operation on that tenant. It is an observer:
	// it runs inside Apply and must not write to the store or block; it is
	// never called for a command that failed.
	OnStorage func(tenant string, bytes int64, at time.Time)
	// Sealer, when set, encrypts documents at rest (see Sealer): data is
	// sealed inside Apply under the tenant's current data key and index
	// keys are blinded. Every node of a cluster must have one, or none.
	// A put for a tenant without a data key fails (ErrInternal): the
	// proposer installs the tenant's first key before its first write.
	Sealer Sealer
}

func (c Config) withDefaults() Config {
	if c.MaxDocumentBytes <= 0 {
		c.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	if c.MaxIndexKeyBytes <= 0 {
		c.MaxIndexKeyBytes = DefaultMaxIndexKeyBytes
	}
	c.MaxIndexKeyBytes = min(c.MaxIndexKeyBytes, maxIndexKeyBytes)
	if c.MaxIndexes <= 0 {
		c.MaxIndexes = DefaultMaxIndexes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// StateMachine applies document commands; it implements the store's
// StateMachine interface. It holds no state of its own (everything lives in
// the transaction), so one value may serve concurrent callers.
type StateMachine struct {
	cfg Config
	log *slog.Logger
}

// NewStateMachine returns a state machine with cfg (zero fields take their
// defaults). It does no I/O.
func NewStateMachine(cfg Config) *StateMachine {
	cfg = cfg.withDefaults()
	return &StateMachine{cfg: cfg, log: cfg.Logger.With("component", "docs")}
}

// Apply decodes and applies one replicated command and returns the encoded
// Result (see DecodeResult). It is deterministic, and a command that fails
// leaves tx untouched. index is the log index, unused.
func (sm *StateMachine) Apply(tx *bolt.Tx, index uint64, cmd []byte) []byte {
	c, err := DecodeCommand(cmd)
	if err != nil {
		return EncodeResult(Result{Err: internalf("malformed command: %v", err)})
	}
	return EncodeResult(sm.ApplyCommand(tx, c))
}

// ApplyCommand applies a decoded command: every operation in order, all or
// none. On failure Result.Err says which operation failed and why, and tx
// is untouched. Once every operation is staged, the tenants' Limits are
// checked on the state the command would leave (see Limits); after a
// successful write Config.OnStorage hears of every tenant whose stored
// bytes changed.
func (sm *StateMachine) ApplyCommand(tx *bolt.Tx, c Command) Result {
	if len(c.Ops) == 0 {
		return Result{Err: invalidf("empty command")}
	}
	s := newStage(tx, &sm.cfg)
	out := make([]Doc, len(c.Ops))
	for i, op := range c.Ops {
		pre, tenantOK, collOK := s.before(op.Tenant, op.Collection)
		d, err := s.apply(op)
		if err == nil {
			err = s.noteOp(i, op, pre, tenantOK, collOK)
		}
		if err != nil {
			err.OpIndex = i
			return Result{Err: err}
		}
		out[i] = d
	}
	exceeded, qerr := s.checkLimits()
	if qerr != nil {
		return Result{Err: qerr}
	}
	if err := s.commit(); err != nil {
		// Validation passed, so only a storage fault gets here; the
		// transaction may hold part of the command and must not commit.
		sm.log.Error("writing a validated command failed", "err", err)
		return Result{Err: err}
	}
	s.observeStorage(sm.cfg.OnStorage)
	return Result{Docs: out, Exceeded: exceeded}
}

func (s *stage) apply(op Op) (Doc, *Error) {
	if err := ValidateTenant(op.Tenant); err != nil {
		return Doc{}, err.(*Error)
	}
	if err := ValidateCollection(op.Collection); err != nil {
		return Doc{}, err.(*Error)
	}
	switch op.Kind {
	case OpPut:
		return s.put(op)
	case OpDelete:
		return s.delete(op)
	case OpCreateIndex:
		return Doc{}, s.createIndex(op)
	case OpDropIndex:
		return Doc{}, s.dropIndex(op)
	case OpDropCollection:
		return Doc{}, s.dropCollection(op)
	case OpReseal:
		return s.reseal(op)
	case OpCreateCollection:
		return Doc{}, s.createCollection(op)
	}
	return Doc{}, invalidf("unknown operation kind %d", op.Kind)
}

// normalizeData checks that raw is one JSON object within max bytes once
// compacted, and returns the compacted form.
func normalizeData(raw json.RawMessage, max int) ([]byte, *Error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return nil, invalidf("missing document data: a JSON object is required")
	}
	if trimmed[0] != '{' {
		return nil, invalidf("document data must be a JSON object")
	}
	var buf bytes.Buffer
	buf.Grow(len(trimmed))
	if err := json.Compact(&buf, trimmed); err != nil {
		return nil, invalidf("document data is not valid JSON: %v", err)
	}
	if buf.Len() > max {
		return nil, errorf(CodeTooLarge, "document is %d bytes, more than the %d allowed", buf.Len(), max)
	}
	return buf.Bytes(), nil
}

func (s *stage) put(op Op) (Doc, *Error) {
	if err := ValidateID(op.ID); err != nil {
		return Doc{}, err.(*Error)
	}
	if op.IfAbsent && op.IfVersion != 0 {
		return Doc{}, invalidf("a put cannot be both a create (IfAbsent) and conditional on a version")
	}
	data, err := normalizeData(op.Data, s.cfg.MaxDocumentBytes)
	if err != nil {
		err.Message = "document " + quote(op.ID) + ": " + err.Message
		return Doc{}, err
	}
	ts, cs, err := s.coll(op.Tenant, op.Collection)
	if err != nil {
		return Doc{}, err
	}
	old, err := cs.get(op.ID)
	if err != nil {
		return Doc{}, err
	}
	if op.IfAbsent && old != nil {
		return Doc{}, errorf(CodeConflict, "document %q already exists in collection %q", op.ID, op.Collection)
	}
	if err := checkVersion(op, old); err != nil {
		return Doc{}, err
	}
	rec := &record{Version: 1, Created: op.Time, Updated: op.Time, Data: data}
	if old != nil {
		rec.Version = old.Version + 1
		rec.Created = old.Created
	}
	if err := s.reindex(ts, cs, op.ID, old, rec); err != nil {
		return Doc{}, err
	}
	if s.cfg.Sealer != nil {
		if rec.sealed, err = sealData(s.cfg.Sealer, op.Tenant, op.Collection, op.ID, data); err != nil {
			return Doc{}, err
		}
	}
	s.ensureExists(ts, cs)
	delta := docBytes(op.ID, rec.Data)
	if old == nil {
		cs.meta.Documents++
		ts.meta.Documents++
	} else {
		delta -= docBytes(op.ID, old.Data)
	}
	cs.meta.Bytes += delta
	ts.meta.Bytes += delta
	cs.docs[op.ID] = rec
	return rec.document(op.ID), nil
}

func checkVersion(op Op, old *record) *Error {
	switch {
	case op.IfVersion == 0:
		return nil
	case old == nil:
		return errorf(CodePrecondition, "document %q does not exist in collection %q (expected version %d)", op.ID, op.Collection, op.IfVersion)
	case old.Version != op.IfVersion:
		return errorf(CodePrecondition, "document %q is at version %d, not %d", op.ID, old.Version, op.IfVersion)
	}
	return nil
}

func (s *stage) delete(op Op) (Doc, *Error) {
	if err := ValidateID(op.ID); err != nil {
		return Doc{}, err.(*Error)
	}
	if op.IfAbsent {
		return Doc{}, invalidf("a delete cannot be conditional on absence")
	}
	ts, cs, err := s.coll(op.Tenant, op.Collection)
	if err != nil {
		return Doc{}, err
	}
	old, err := cs.get(op.ID)
	if err != nil {
		return Doc{}, err
	}
	if old == nil {
		if op.IfVersion != 0 {
			return Doc{}, checkVersion(op, nil)
		}
		return Doc{}, notFoundf("document %q not found in collection %q", op.ID, op.Collection)
	}
	if err := checkVersion(op, old); err != nil {
		return Doc{}, err
	}
	if err := s.reindex(ts, cs, op.ID, old, nil); err != nil {
		return Doc{}, err
	}
	cs.meta.Documents--
	ts.meta.Documents--
	cs.meta.Bytes -= docBytes(op.ID, old.Data)
	ts.meta.Bytes -= docBytes(op.ID, old.Data)
	cs.docs[op.ID] = nil
	s.touch(ts, cs)
	d := old.document(op.ID)
	d.Data = nil
	return d, nil
}

func (s *stage) createIndex(op Op) *Error {
	if err := ValidateField(op.Field); err != nil {
		return err.(*Error)
	}
	ts, cs, err := s.coll(op.Tenant, op.Collection)
	if err != nil {
		return err
	}
	if _, ok := cs.indexes[op.Field]; ok {
		return errorf(CodeConflict, "an index on %q already exists in collection %q", op.Field, op.Collection)
	}
	if len(cs.indexes) >= s.cfg.MaxIndexes {
		return invalidf("collection %q already has %d indexes, the most allowed", op.Collection, len(cs.indexes))
	}
	ix := &indexStage{meta: indexMeta{Field: op.Field}, fresh: true, entries: map[string]bool{}}
	// Building runs inside this Apply: its cost is one pass over the
	// collection, and its entries are held in memory until commit.
	err = cs.forEachDoc(func(id string, rec *record) *Error {
		doc, err := decodeData(id, rec.Data)
		if err != nil {
			return err
		}
		keys, size, err := s.keysFor(op.Tenant, doc, op.Field, id, true)
		if err != nil {
			return err
		}
		ix.add(id, keys, size)
		return nil
	})
	if err != nil {
		return err
	}
	s.ensureExists(ts, cs)
	cs.indexes[op.Field] = ix
	ts.meta.Indexes++
	ts.meta.IndexBytes += ix.meta.Bytes
	return nil
}

func (s *stage) createCollection(op Op) *Error {
	ts, cs, err := s.coll(op.Tenant, op.Collection)
	if err != nil {
		return err
	}
	if cs.exists {
		return errorf(CodeConflict, "collection %q already exists", op.Collection)
	}
	s.ensureExists(ts, cs)
	return nil
}

func (s *stage) dropIndex(op Op) *Error {
	if err := ValidateField(op.Field); err != nil {
		return err.(*Error)
	}
	ts, cs, err := s.coll(op.Tenant, op.Collection)
	if err != nil {
		return err
	}
	ix, ok := cs.indexes[op.Field]
	if !cs.exists || !ok {
		return notFoundf("no index on %q in collection %q", op.Field, op.Collection)
	}
	delete(cs.indexes, op.Field)
	cs.dropIdx[op.Field] = true
	ts.meta.Indexes--
	ts.meta.IndexBytes -= ix.meta.Bytes
	s.touch(ts, cs)
	return nil
}

func (s *stage) dropCollection(op Op) *Error {
	ts, cs, err := s.coll(op.Tenant, op.Collection)
	if err != nil {
		return err
	}
	if !cs.exists {
		return notFoundf("collection %q not found", op.Collection)
	}
	ts.meta.Collections--
	ts.meta.Documents -= cs.meta.Documents
	ts.meta.Bytes -= cs.meta.Bytes
	ts.meta.Indexes -= int64(len(cs.indexes))
	for _, ix := range cs.indexes {
		ts.meta.IndexBytes -= ix.meta.Bytes
	}
	cs.reset()
	s.touch(ts, cs)
	return nil
}

// decodeData decodes a stored or staged document for matching and indexing.
func decodeData(id string, data []byte) (map[string]any, *Error) {
	m, err := query.DecodeDocument(data)
	if err != nil {
		return nil, internalf("corrupt document %q: %v", id, err)
	}
	return m, nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// reseal re-encrypts a stored document under the tenant's current data key
// if it is still sealed under key version op.IfVersion. The returned
// Doc has the id when the document was re-sealed, else it is zero.
func (s *stage) reseal(op Op) (Doc, *Error) {
	if err := ValidateID(op.ID); err != nil {
		return Doc{}, err.(*Error)
	}
	if s.cfg.Sealer == nil {
		return Doc{}, invalidf("reseal: this node does not encrypt at rest")
	}
	ts, cs, err := s.coll(op.Tenant, op.Collection)
	if err != nil {
		return Doc{}, err
	}
	if _, staged := cs.docs[op.ID]; staged || !cs.txVisible {
		return Doc{}, nil
	}
	db := cs.txBucket.Bucket(bucketDocs)
	if db == nil {
		return Doc{}, nil
	}
	v := db.Get([]byte(op.ID))
	if v == nil {
		return Doc{}, nil
	}
	raw, derr := decodeRecord(v, false)
	if derr != nil {
		return Doc{}, internalf("document %q: %v", op.ID, derr)
	}
	ver, verr := seal.KeyVersion(raw.Data)
	cur, ok := s.cfg.Sealer.Current(op.Tenant)
	if verr != nil || uint64(ver) != op.IfVersion || !ok || ver == cur {
		return Doc{}, nil
	}
	rec, err := cs.get(op.ID)
	if err != nil {
		return Doc{}, err
	}
	if rec.sealed, err = sealData(s.cfg.Sealer, op.Tenant, op.Collection, op.ID, rec.Data); err != nil {
		return Doc{}, err
	}
	cs.docs[op.ID] = rec
	s.touch(ts, cs)
	return Doc{ID: op.ID, Version: rec.Version}, nil
}
