package document

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// OpKind is what an operation does.
type OpKind uint8

const (
	// OpPut upserts a document (Data, a JSON object, under ID).
	OpPut OpKind = iota + 1
	// OpDelete deletes a document; a missing one fails with ErrNotFound.
	OpDelete
	// OpCreateIndex declares an index on Field and builds it over the
	// existing documents (creating the collection if needed).
	OpCreateIndex
	// OpDropIndex removes the index on Field.
	OpDropIndex
	// OpDropCollection removes a collection with its documents and indexes.
	OpDropCollection
	// OpReseal re-encrypts a document's stored data under the tenant's
	// current data key if it is still sealed under key version IfVersion
	// (background re-encryption after a data key rotation). It changes
	// neither the document's version nor its timestamps; a document that is
	// missing or under another key version is left alone (no error).
	OpReseal
	// OpCreateCollection creates an empty collection; ErrConflict if it
	// exists (the HTTP API turns that into an idempotent 200). It counts
	// against Limits.MaxCollections like a collection's first document.
	OpCreateCollection
)

// String returns the kind's name ("put", "delete", ...).
func (k OpKind) String() string {
	switch k {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpCreateIndex:
		return "create_index"
	case OpDropIndex:
		return "drop_index"
	case OpDropCollection:
		return "drop_collection"
	case OpReseal:
		return "reseal"
	case OpCreateCollection:
		return "create_collection"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// Op is one operation of a command. The proposer fills in everything that
// must not vary between nodes: the id of a new document (see NewID) and the
// time.
type Op struct {
	Kind       OpKind
	Tenant     string
	Collection string
	ID         string
	// Data is the document for OpPut: a JSON object.
	Data json.RawMessage
	// IfVersion, when non-zero, makes a put or delete conditional on the
	// current version (ErrPrecondition otherwise, also when the document
	// does not exist).
	IfVersion uint64
	// IfAbsent makes a put a create: ErrConflict if the id exists.
	IfAbsent bool
	// Field is the dot path of OpCreateIndex and OpDropIndex.
	Field string
	// Time is the proposer's clock in Unix nanoseconds; it becomes the
	// document's updated_at (and created_at for a new document).
	Time int64
}

// Command is the unit of replication: its operations are applied in order
// and atomically, all or none.
type Command struct {
	Ops []Op
}

// Result is what applying a command returns to its proposer.
type Result struct {
	// Docs has one entry per operation when the command succeeded: the
	// stored document for a put; for a delete the deleted document without
	// its data; a zero Doc for index and collection operations.
	Docs []Doc
	// Err is the failure of the command, nil on success. Nothing of a
	// failed command was applied.
	Err *Error
	// Exceeded lists the limits (LimitStorageBytes, LimitMaxCollections,
	// LimitMaxDocumentsPerCollection, each at most once, in that order) that
	// a successful command passed and that were not enforced because the
	// tenant's Limits.Refuse is false. Nil when none.
	Exceeded []string
}

// Error returns r.Err as an error, or nil (never a typed nil).
func (r Result) Error() error {
	if r.Err == nil {
		return nil
	}
	return r.Err
}

const (
	commandFormat byte = 1
	// resultFormat is a result without Exceeded; resultFormatExceeded adds
	// the list of exceeded limits after the documents. Results without
	// Exceeded keep the first format, byte for byte.
	resultFormat         byte = 1
	resultFormatExceeded byte = 2

	flagIfAbsent byte = 1 << 0
	flagData     byte = 1 << 1

	minOpBytes = 8 // kind, flags, version, time, four empty strings
)

var errTruncated = errors.New("truncated")

// EncodeCommand encodes a command compactly (binary, varint lengths). It
// fails on an empty command or an unknown operation kind.
func EncodeCommand(c Command) ([]byte, error) {
	if len(c.Ops) == 0 {
		return nil, errors.New("empty command")
	}
	size := 1 + binary.MaxVarintLen64
	for _, op := range c.Ops {
		size += 2 + 2*binary.MaxVarintLen64 + 5*binary.MaxVarintLen32 +
			len(op.Tenant) + len(op.Collection) + len(op.ID) + len(op.Field) + len(op.Data)
	}
	b := make([]byte, 0, size)
	b = append(b, commandFormat)
	b = binary.AppendUvarint(b, uint64(len(c.Ops)))
	for i, op := range c.Ops {
		if op.Kind < OpPut || op.Kind > OpCreateCollection {
			return nil, fmt.Errorf("operation %d: unknown kind %d", i, op.Kind)
		}
		var flags byte
		if op.IfAbsent {
			flags |= flagIfAbsent
		}
		if op.Data != nil {
			flags |= flagData
		}
		b = append(b, byte(op.Kind), flags)
		b = binary.AppendUvarint(b, op.IfVersion)
		b = binary.AppendVarint(b, op.Time)
		b = appendString(b, op.Tenant)
		b = appendString(b, op.Collection)
		b = appendString(b, op.ID)
		b = appendString(b, op.Field)
		if op.Data != nil {
			b = binary.AppendUvarint(b, uint64(len(op.Data)))
			b = append(b, op.Data...)
		}
	}
	return b, nil
}

// DecodeCommand decodes what EncodeCommand produced. It never panics on
// arbitrary input and rejects anything malformed (unknown format or kind,
// truncation, trailing bytes). The result does not alias b.
func DecodeCommand(b []byte) (Command, error) {
	d := decoder{b: b}
	if f := d.byte(); f != commandFormat {
		if d.err != nil {
			return Command{}, fmt.Errorf("decode command: %w", d.err)
		}
		return Command{}, fmt.Errorf("decode command: unknown format %d", f)
	}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b))/minOpBytes {
		return Command{}, fmt.Errorf("decode command: %d operations cannot fit in %d bytes", n, len(d.b))
	}
	if d.err == nil && n == 0 {
		return Command{}, errors.New("decode command: empty command")
	}
	c := Command{Ops: make([]Op, 0, n)}
	for i := uint64(0); i < n && d.err == nil; i++ {
		var op Op
		op.Kind = OpKind(d.byte())
		flags := d.byte()
		if d.err != nil {
			break
		}
		if op.Kind < OpPut || op.Kind > OpCreateCollection {
			return Command{}, fmt.Errorf("decode command: operation %d: unknown kind %d", i, op.Kind)
		}
		if flags&^(flagIfAbsent|flagData) != 0 {
			return Command{}, fmt.Errorf("decode command: operation %d: unknown flags %#x", i, flags)
		}
		op.IfAbsent = flags&flagIfAbsent != 0
		op.IfVersion = d.uvarint()
		op.Time = d.varint()
		op.Tenant = d.string()
		op.Collection = d.string()
		op.ID = d.string()
		op.Field = d.string()
		if flags&flagData != 0 {
			op.Data = d.bytes()
		}
		c.Ops = append(c.Ops, op)
	}
	if d.err != nil {
		return Command{}, fmt.Errorf("decode command: %w", d.err)
	}
	if len(d.b) != 0 {
		return Command{}, fmt.Errorf("decode command: %d trailing bytes", len(d.b))
	}
	return c, nil
}

// EncodeResult encodes a result compactly.
func EncodeResult(r Result) []byte {
	size := 2 + binary.MaxVarintLen64
	if r.Err != nil {
		size += len(r.Err.Code) + len(r.Err.Message) + 3*binary.MaxVarintLen64
	}
	for _, d := range r.Docs {
		size += 2 + len(d.ID) + len(d.Data) + 5*binary.MaxVarintLen64
	}
	for _, e := range r.Exceeded {
		size += binary.MaxVarintLen64 + len(e)
	}
	b := make([]byte, 0, size)
	if len(r.Exceeded) > 0 {
		b = append(b, resultFormatExceeded)
	} else {
		b = append(b, resultFormat)
	}
	if r.Err != nil {
		b = append(b, 1)
		b = appendString(b, r.Err.Code)
		b = appendString(b, r.Err.Message)
		b = binary.AppendUvarint(b, uint64(max(r.Err.OpIndex, 0)))
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Docs)))
	for _, d := range r.Docs {
		if d.ID == "" {
			b = append(b, 0)
			continue
		}
		var flags byte = 1
		if d.Data != nil {
			flags |= 2
		}
		b = append(b, flags)
		b = appendString(b, d.ID)
		if d.Data != nil {
			b = binary.AppendUvarint(b, uint64(len(d.Data)))
			b = append(b, d.Data...)
		}
		b = binary.AppendUvarint(b, d.Version)
		b = binary.AppendVarint(b, d.CreatedAt.UnixNano())
		b = binary.AppendVarint(b, d.UpdatedAt.UnixNano())
	}
	if len(r.Exceeded) > 0 {
		b = binary.AppendUvarint(b, uint64(len(r.Exceeded)))
		for _, e := range r.Exceeded {
			b = appendString(b, e)
		}
	}
	return b
}

// DecodeResult decodes what EncodeResult produced, including results of
// earlier versions (which have no Exceeded). Timestamps come back in UTC.
// It never panics on arbitrary input.
func DecodeResult(b []byte) (Result, error) {
	d := decoder{b: b}
	format := d.byte()
	if format != resultFormat && format != resultFormatExceeded {
		if d.err != nil {
			return Result{}, fmt.Errorf("decode result: %w", d.err)
		}
		return Result{}, fmt.Errorf("decode result: unknown format %d", format)
	}
	var r Result
	switch d.byte() {
	case 0:
	case 1:
		r.Err = &Error{Code: d.string(), Message: d.string()}
		r.Err.OpIndex = int(min(d.uvarint(), 1<<31))
	default:
		if d.err == nil {
			return Result{}, errors.New("decode result: bad error flag")
		}
	}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		return Result{}, fmt.Errorf("decode result: %d documents cannot fit in %d bytes", n, len(d.b))
	}
	if n > 0 {
		r.Docs = make([]Doc, 0, n)
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		flags := d.byte()
		if flags == 0 {
			r.Docs = append(r.Docs, Doc{})
			continue
		}
		if flags&^3 != 0 || flags&1 == 0 {
			if d.err == nil {
				return Result{}, fmt.Errorf("decode result: document %d: bad flags %#x", i, flags)
			}
			break
		}
		var doc Doc
		doc.ID = d.string()
		if flags&2 != 0 {
			doc.Data = d.bytes()
		}
		doc.Version = d.uvarint()
		doc.CreatedAt = time.Unix(0, d.varint()).UTC()
		doc.UpdatedAt = time.Unix(0, d.varint()).UTC()
		r.Docs = append(r.Docs, doc)
	}
	if format == resultFormatExceeded && d.err == nil {
		n := d.uvarint()
		switch {
		case d.err != nil:
		case n == 0:
			return Result{}, errors.New("decode result: empty exceeded list")
		case n > uint64(len(d.b)):
			return Result{}, fmt.Errorf("decode result: %d exceeded limits cannot fit in %d bytes", n, len(d.b))
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			r.Exceeded = append(r.Exceeded, d.string())
		}
	}
	if d.err != nil {
		return Result{}, fmt.Errorf("decode result: %w", d.err)
	}
	if len(d.b) != 0 {
		return Result{}, fmt.Errorf("decode result: %d trailing bytes", len(d.b))
	}
	return r, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads varint-framed fields; after the first error every read
// returns a zero value and err keeps that first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail(errTruncated)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errors.New("bad varint"))
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errors.New("bad varint"))
		return 0
	}
	d.b = d.b[n:]
	return v
}

// raw returns the next length-prefixed field, aliasing the input.
func (d *decoder) raw() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(errTruncated)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.raw()) }

func (d *decoder) bytes() []byte {
	v := d.raw()
	if d.err != nil {
		return nil
	}
	return append(make([]byte, 0, len(v)), v...)
}
