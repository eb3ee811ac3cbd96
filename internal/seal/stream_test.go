package seal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

var streamKey = bytes.Repeat([]byte{0x42}, KeySize)

// sealStream writes data to a new stream in pieces of step bytes.
func sealStream(t testing.TB, key, data []byte, chunkSize, step int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriterSize(&buf, key, chunkSize)
	if err != nil {
		t.Fatal(err)
	}
	for p := data; len(p) > 0; {
		n := min(step, len(p))
		if m, err := w.Write(p[:n]); err != nil || m != n {
			t.Fatalf("Write = %d, %v", m, err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// openStream reads a whole stream.
func openStream(key, stream []byte) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(stream), key)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestStreamRoundTrip(t *testing.T) {
	const cs = MinChunkSize
	tests := []struct {
		name      string
		n         int
		chunkSize int
		step      int
	}{
		{"empty", 0, cs, 1},
		{"one byte", 1, cs, 1},
		{"chunk minus one", cs - 1, cs, 7},
		{"exactly one chunk", cs, cs, cs},
		{"chunk plus one", cs + 1, cs, 1},
		{"exactly three chunks", 3 * cs, cs, 5},
		{"three chunks and a bit", 3*cs + 7, cs, 1000},
		{"default empty", 0, DefaultChunkSize, 1},
		{"default exact chunk", DefaultChunkSize, DefaultChunkSize, 4096},
		{"default exact two chunks", 2 * DefaultChunkSize, DefaultChunkSize, 1 << 20},
		{"default uneven", 200_001, DefaultChunkSize, 3333},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := randBytes(tt.n)
			s := sealStream(t, streamKey, data, tt.chunkSize, tt.step)
			chunks := max(1, (tt.n+tt.chunkSize-1)/tt.chunkSize)
			if want := streamHeader + tt.n + chunks*16; len(s) != want {
				t.Fatalf("stream length = %d, want %d (%d chunks)", len(s), want, chunks)
			}
			got, err := openStream(streamKey, s)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, %v; want %d bytes", len(got), err, len(data))
			}
			r, _ := NewReader(iotest.OneByteReader(iotest.HalfReader(bytes.NewReader(s))), streamKey)
			if err := iotest.TestReader(r, data); err != nil {
				t.Fatalf("iotest.TestReader: %v", err)
			}
		})
	}
}

// chunkSpans returns the [start, end) of each sealed chunk in a stream of n
// plaintext bytes.
func chunkSpans(n, cs int) [][2]int {
	var spans [][2]int
	off := streamHeader
	for {
		size := min(n, cs)
		spans = append(spans, [2]int{off, off + size + 16})
		off += size + 16
		n -= size
		if n == 0 {
			return spans
		}
	}
}

func TestStreamDetectsTampering(t *testing.T) {
	const cs = MinChunkSize
	data := randBytes(3 * cs) // exact multiple: the last chunk is full
	s := sealStream(t, streamKey, data, cs, cs)
	spans := chunkSpans(len(data), cs)
	if len(spans) != 3 || spans[2][1] != len(s) {
		t.Fatalf("spans %v do not cover the %d-byte stream", spans, len(s))
	}
	chunk := func(i int) []byte { return s[spans[i][0]:spans[i][1]] }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	other := sealStream(t, streamKey, data, cs, cs)
	tests := []struct {
		name   string
		stream []byte
	}{
		{"swap chunks 0 and 1", cat(s[:streamHeader], chunk(1), chunk(0), chunk(2))},
		{"duplicate chunk 0", cat(s[:streamHeader], chunk(0), chunk(0), chunk(1), chunk(2))},
		{"drop middle chunk", cat(s[:streamHeader], chunk(0), chunk(2))},
		{"drop last chunk", cat(s[:streamHeader], chunk(0), chunk(1))},
		{"last chunk first", cat(s[:streamHeader], chunk(2))},
		{"chunk from another stream", cat(s[:streamHeader], chunk(0), other[spans[1][0]:spans[1][1]], chunk(2))},
		{"bytes after the end", cat(s, []byte{0})},
		{"chunk after the end", cat(s, chunk(2))},
		{"header only", s[:streamHeader]},
		{"nothing", nil},
		{"other chunk size", cat(s[:3], []byte{0, 0, 0, 128}, s[7:])},
		{"huge chunk size", cat(s[:3], []byte{0xff, 0xff, 0xff, 0xff}, s[7:])},
		{"other format version", cat(s[:2], []byte{2}, s[3:])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := openStream(streamKey, tt.stream)
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("read = %d bytes, %v; want ErrDecrypt", len(got), err)
			}
			if !bytes.HasPrefix(data, got) {
				t.Fatal("reader returned bytes that are not a prefix of the plaintext")
			}
		})
	}
	t.Run("every truncation", func(t *testing.T) {
		for n := range len(s) {
			got, err := openStream(streamKey, s[:n])
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("truncated to %d of %d bytes: read %d bytes, %v; want ErrDecrypt", n, len(s), len(got), err)
			}
			if !bytes.HasPrefix(data, got) {
				t.Fatalf("truncated to %d: returned bytes not a prefix", n)
			}
		}
	})
	t.Run("every bit flip", func(t *testing.T) {
		for i := range s {
			for bit := range 8 {
				bad := bytes.Clone(s)
				bad[i] ^= 1 << bit
				got, err := openStream(streamKey, bad)
				if !errors.Is(err, ErrDecrypt) {
					t.Fatalf("bit %d of byte %d flipped: %v, want ErrDecrypt", bit, i, err)
				}
				if !bytes.HasPrefix(data, got) {
					t.Fatalf("bit %d of byte %d flipped: returned bytes not a prefix", bit, i)
				}
			}
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		if _, err := openStream(bytes.Repeat([]byte{1}, KeySize), s); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("read with another key = %v, want ErrDecrypt", err)
		}
	})
	t.Run("empty stream truncated", func(t *testing.T) {
		e := sealStream(t, streamKey, nil, cs, 1)
		for n := range len(e) {
			if _, err := openStream(streamKey, e[:n]); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("empty stream cut to %d bytes: %v, want ErrDecrypt", n, err)
			}
		}
	})
}

func TestStreamErrors(t *testing.T) {
	if _, err := NewWriter(io.Discard, make([]byte, 16)); err == nil || !strings.Contains(err.Error(), "want 32") {
		t.Errorf("NewWriter(16-byte key) = %v", err)
	}
	if _, err := NewReader(strings.NewReader(""), nil); err == nil {
		t.Error("NewReader(nil key) succeeded")
	}
	for _, cs := range []int{0, MinChunkSize - 1, MaxChunkSize + 1} {
		if _, err := NewWriterSize(io.Discard, streamKey, cs); err == nil {
			t.Errorf("NewWriterSize(%d) succeeded", cs)
		}
	}
	w, _ := NewWriter(io.Discard, streamKey)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}

	failing := errors.New("disk full")
	fw, _ := NewWriterSize(writerFunc(func([]byte) (int, error) { return 0, failing }), streamKey, MinChunkSize)
	if _, err := fw.Write(make([]byte, 3*MinChunkSize)); !errors.Is(err, failing) {
		t.Errorf("Write to a failing writer = %v, want it wrapped", err)
	}
	if err := fw.Close(); !errors.Is(err, failing) {
		t.Errorf("Close after a failed write = %v, want the sticky error", err)
	}

	s := sealStream(t, streamKey, randBytes(500), MinChunkSize, 500)
	broken := errors.New("connection reset")
	r, _ := NewReader(io.MultiReader(bytes.NewReader(s[:100]), iotest.ErrReader(broken)), streamKey)
	if _, err := io.ReadAll(r); !errors.Is(err, broken) || errors.Is(err, ErrDecrypt) {
		t.Errorf("read from a failing reader = %v, want the read error, not ErrDecrypt", err)
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, broken) {
		t.Errorf("error not sticky: %v", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
