package seal

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"golang.org/x/crypto/chacha20poly1305"
)

// Stream format (integers big-endian), for snapshots and other data too
// large to seal in one piece:
//
//	header: 0xAE 'S' 0x01 | chunk size (4) | nonce prefix (15, random)
//	chunks: XChaCha20-Poly1305(chunk) and tag, each chunk of exactly
//	        chunk-size plaintext bytes except the last, which holds 0 to
//	        chunk size bytes
//
// Chunk i is sealed with nonce = prefix | i (8 bytes) | last (1 byte: 1 for
// the final chunk, else 0) and associated data = the header (plus an
// envelope header, see NewEnvelopeWriter). So a reordered, duplicated or
// dropped chunk fails on its counter, a stream cut at a chunk boundary fails
// because no chunk marked last arrives, data after the last chunk fails
// because a full chunk then is not last, and a changed chunk size fails on
// the header. Every stream, even an empty one, ends with a chunk marked
// last. A Reader returns only authenticated plaintext.
const (
	kindStream    = 'S'
	streamVersion = 1
	prefixSize    = 15
	streamHeader  = 3 + 4 + prefixSize

	// DefaultChunkSize is the plaintext size of a stream chunk.
	DefaultChunkSize = 64 << 10
	// MinChunkSize and MaxChunkSize bound the chunk sizes a stream may
	// declare (a Reader refuses others, so a forged header cannot make it
	// allocate more than MaxChunkSize).
	MinChunkSize = 64
	MaxChunkSize = 16 << 20
)

var errClosed = errors.New("seal: stream writer closed")

// Writer encrypts a stream in chunks. Write buffers up to one chunk; Close
// writes the final chunk and must be called, or the stream is unreadable
// (by design: it looks truncated). Close does not close the underlying
// writer. A Writer is not safe for concurrent use; after an error every call
// returns it.
type Writer struct {
	dst     io.Writer
	aead    cipher.AEAD
	prefix  []byte // bytes to write before the stream header (envelope)
	header  []byte
	aad     []byte
	buf     []byte
	out     []byte
	counter uint64
	started bool
	closed  bool
	err     error
}

// NewWriter returns a Writer sealing to w under key (KeySize bytes) with
// DefaultChunkSize chunks. The same key may seal many streams: each draws a
// random nonce prefix.
func NewWriter(w io.Writer, key []byte) (*Writer, error) {
	return NewWriterSize(w, key, DefaultChunkSize)
}

// NewWriterSize is NewWriter with a chunk size between MinChunkSize and
// MaxChunkSize.
func NewWriterSize(w io.Writer, key []byte, chunkSize int) (*Writer, error) {
	return newWriter(w, key, chunkSize, nil)
}

func newWriter(w io.Writer, key []byte, chunkSize int, prefix []byte) (*Writer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: stream key: length %d bytes, want %d", len(key), KeySize)
	}
	if chunkSize < MinChunkSize || chunkSize > MaxChunkSize {
		return nil, fmt.Errorf("seal: stream chunk size: %d, want %d to %d", chunkSize, MinChunkSize, MaxChunkSize)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("seal: stream key: %w", err)
	}
	h := make([]byte, streamHeader)
	h[0], h[1], h[2] = magic, kindStream, streamVersion
	binary.BigEndian.PutUint32(h[3:7], uint32(chunkSize))
	rand.Read(h[7:])
	return &Writer{
		dst:    w,
		aead:   aead,
		prefix: prefix,
		header: h,
		aad:    joinAAD(h, prefix),
		buf:    make([]byte, 0, chunkSize),
		out:    make([]byte, 0, chunkSize+chacha20poly1305.Overhead),
	}, nil
}

// Write buffers p, sealing and writing each chunk once it is full and more
// data follows.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errClosed
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(false); err != nil {
				return n, err
			}
		}
		c := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+c]
		p = p[c:]
		n += c
	}
	return n, nil
}

// Close seals and writes the final chunk. Calling it again does nothing.
func (w *Writer) Close() error {
	if w.closed || w.err != nil {
		return w.err
	}
	err := w.flush(true)
	w.closed = true
	clear(w.buf[:cap(w.buf)])
	return err
}

func (w *Writer) flush(last bool) error {
	if !w.started {
		w.started = true
		if _, err := w.dst.Write(joinAAD(w.prefix, w.header)); err != nil {
			w.err = fmt.Errorf("seal: write stream: %w", err)
			return w.err
		}
	}
	if w.counter == math.MaxUint64 {
		w.err = errors.New("seal: stream too long")
		return w.err
	}
	nonce := chunkNonce(w.header, w.counter, last)
	w.out = w.aead.Seal(w.out[:0], nonce[:], w.buf, w.aad)
	w.counter++
	w.buf = w.buf[:0]
	if _, err := w.dst.Write(w.out); err != nil {
		w.err = fmt.Errorf("seal: write stream: %w", err)
		return w.err
	}
	return nil
}

// chunkNonce is prefix | counter | last flag.
func chunkNonce(header []byte, counter uint64, last bool) [chacha20poly1305.NonceSizeX]byte {
	var n [chacha20poly1305.NonceSizeX]byte
	copy(n[:prefixSize], header[7:streamHeader])
	binary.BigEndian.PutUint64(n[prefixSize:], counter)
	if last {
		n[len(n)-1] = 1
	}
	return n
}

// Reader decrypts a stream a Writer produced. Read returns only plaintext
// of chunks that authenticated, and io.EOF only after the chunk marked last
// did. A tampered, truncated, reordered or extended stream, or one sealed
// under another key, yields ErrDecrypt; errors of the underlying reader are
// returned wrapped. It is not safe for concurrent use; errors are sticky.
type Reader struct {
	src      io.Reader
	aead     cipher.AEAD
	extraAAD []byte
	header   []byte
	aad      []byte
	in       []byte
	plain    []byte
	carry    int  // 1 if a byte was read ahead of the last chunk, else 0
	ahead    byte // that byte
	counter  uint64
	done     bool
	err      error
}

// NewReader returns a Reader of a stream sealed under key (KeySize bytes).
// It reads nothing until the first Read.
func NewReader(r io.Reader, key []byte) (*Reader, error) {
	return newReader(r, key, nil)
}

func newReader(r io.Reader, key []byte, extraAAD []byte) (*Reader, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: stream key: length %d bytes, want %d", len(key), KeySize)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("seal: stream key: %w", err)
	}
	return &Reader{src: r, aead: aead, extraAAD: extraAAD}, nil
}

// Read reads decrypted data.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			r.err = err
			r.plain = nil
			return 0, err
		}
		if len(p) == 0 {
			return 0, nil
		}
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// readFull is io.ReadFull mapping a short stream to ErrDecrypt (truncated)
// and other failures to a wrapped read error. It reports whether EOF came
// before p was filled.
func (r *Reader) readFull(p []byte) (int, bool, error) {
	n, err := io.ReadFull(r.src, p)
	switch {
	case err == nil:
		return n, false, nil
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return n, true, nil
	default:
		return n, false, fmt.Errorf("seal: read stream: %w", err)
	}
}

// next reads, authenticates and decrypts the next chunk into r.plain.
func (r *Reader) next() error {
	if r.header == nil {
		h := make([]byte, streamHeader)
		if _, eof, err := r.readFull(h); err != nil {
			return err
		} else if eof {
			return ErrDecrypt
		}
		if h[0] != magic || h[1] != kindStream || h[2] != streamVersion {
			return ErrDecrypt
		}
		cs := binary.BigEndian.Uint32(h[3:7])
		if cs < MinChunkSize || cs > MaxChunkSize {
			return ErrDecrypt
		}
		r.header = h
		r.aad = joinAAD(h, r.extraAAD)
		r.in = make([]byte, int(cs)+chacha20poly1305.Overhead+1)
	}
	full := len(r.in) - 1 // sealed size of a full chunk
	if r.carry == 1 {
		r.in[0] = r.ahead
	}
	n, eof, err := r.readFull(r.in[r.carry:])
	if err != nil {
		return err
	}
	n += r.carry
	last := eof
	chunk := r.in[:n]
	if !eof {
		chunk = r.in[:full]
	}
	if len(chunk) < chacha20poly1305.Overhead || r.counter == math.MaxUint64 {
		return ErrDecrypt
	}
	nonce := chunkNonce(r.header, r.counter, last)
	var lookahead byte
	if !eof {
		lookahead = r.in[full]
	}
	pt, err := r.aead.Open(chunk[:0], nonce[:], chunk, r.aad)
	if err != nil {
		return ErrDecrypt
	}
	r.counter++
	r.done = last
	// The plaintext occupies the front of r.in; the look-ahead byte moves
	// there on the next call, once the plaintext has been read.
	r.plain = pt
	r.carry, r.ahead = 0, lookahead
	if !eof {
		r.carry = 1
	}
	return nil
}

// String describes the writer without its key or buffered plaintext.
func (w *Writer) String() string {
	return fmt.Sprintf("seal.Writer(chunk size %d, %d chunks written)", cap(w.buf), w.counter)
}

// Format prints String for every verb.
func (w *Writer) Format(f fmt.State, _ rune) { io.WriteString(f, w.String()) }

// String describes the reader without its key or decrypted plaintext.
func (r *Reader) String() string { return fmt.Sprintf("seal.Reader(%d chunks read)", r.counter) }

// Format prints String for every verb.
func (r *Reader) Format(f fmt.State, _ rune) { io.WriteString(f, r.String()) }
