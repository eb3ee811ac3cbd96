package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// encoder appends the compact binary form used by commands and ingestion
// results: unsigned varints, zig-zag varints and length-prefixed strings.
type encoder struct{ b []byte }

func (e *encoder) byte1(v byte)       { e.b = append(e.b, v) }
func (e *encoder) u64(v uint64)       { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) i64(v int64)        { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) str(s string)       { e.u64(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) bytes(b []byte)     { e.u64(uint64(len(b))); e.b = append(e.b, b...) }
func (e *encoder) fixed32(b [32]byte) { e.b = append(e.b, b[:]...) }

func (e *encoder) bool1(v bool) {
	if v {
		e.byte1(1)
	} else {
		e.byte1(0)
	}
}

func (e *encoder) strs(ss []string) {
	e.u64(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

var errTruncated = errors.New("truncated")

// decoder reads what encoder writes. The first failure sticks: later reads
// return zero values and err reports it.
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

func (d *decoder) byte1() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(errTruncated)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) bool1() bool {
	switch d.byte1() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail(errors.New("bad boolean"))
	return false
}

func (d *decoder) u64() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) i64() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) span() []byte {
	n := d.u64()
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

func (d *decoder) str() string { return string(d.span()) }

func (d *decoder) fixed32() (v [32]byte) {
	if d.err != nil {
		return v
	}
	if len(d.b) < 32 {
		d.fail(errTruncated)
		return v
	}
	copy(v[:], d.b)
	d.b = d.b[32:]
	return v
}

// count reads a slice length, refusing one that could not fit in the rest
// of the input at minBytes per element (so garbage never allocates much).
func (d *decoder) count(minBytes int) int {
	n := d.u64()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/minBytes) {
		d.fail(fmt.Errorf("count %d exceeds the remaining input", n))
		return 0
	}
	return int(n)
}

func (d *decoder) strs() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.str()
	}
	return ss
}

// done fails unless the input was consumed exactly.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return d.err
}
