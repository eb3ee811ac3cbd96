package seal

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

func BenchmarkSeal(b *testing.B) {
	m, _ := newMaster(b)
	k := newKeyring(b, m, "tenant-1")
	aad := []byte("collection/doc-0001")
	for _, n := range []int{256, 64 << 10} {
		pt := randBytes(n)
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Seal("tenant-1", pt, aad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	m, _ := newMaster(b)
	k := newKeyring(b, m, "tenant-1")
	aad := []byte("collection/doc-0001")
	for _, n := range []int{256, 64 << 10} {
		ct := mustSeal(b, k, "tenant-1", randBytes(n), aad)
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Open("tenant-1", ct, aad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStream(b *testing.B) {
	const n = 8 << 20
	data := randBytes(n)
	sealed := bytes.NewBuffer(sealStream(b, streamKey, data, DefaultChunkSize, n))
	b.Run("write", func(b *testing.B) {
		b.SetBytes(n)
		var out bytes.Buffer
		for b.Loop() {
			out.Reset()
			w, _ := NewWriter(&out, streamKey)
			w.Write(data)
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("read", func(b *testing.B) {
		b.SetBytes(n)
		for b.Loop() {
			r, _ := NewReader(bytes.NewReader(sealed.Bytes()), streamKey)
			if _, err := io.Copy(io.Discard, r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
