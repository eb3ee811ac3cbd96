package meter

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"
)

func TestCounterConcurrent(t *testing.T) {
	c := newCounter()
	const workers, per = 8, 2000
	tenants := []string{"t1", "t2", "t3"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := map[string]Usage{}
	// Take concurrently with adds: nothing may be lost or counted twice.
	stop := make(chan struct{})
	var takerWG sync.WaitGroup
	takerWG.Add(1)
	go func() {
		defer takerWG.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for tn, u := range c.take() {
				mu.Lock()
				x := total[tn]
				x.add(u)
				total[tn] = x
				mu.Unlock()
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				c.add(tenants[(w+i)%len(tenants)], Usage{Reads: 1, Writes: 2, EgressBytes: 10})
			}
		}()
	}
	wg.Wait()
	close(stop)
	takerWG.Wait()
	for tn, u := range c.take() {
		x := total[tn]
		x.add(u)
		total[tn] = x
	}
	var reads uint64
	for _, u := range total {
		reads += u.Reads
		if u.Writes != 2*u.Reads || u.EgressBytes != 10*u.Reads {
			t.Fatalf("usage %+v is inconsistent", u)
		}
	}
	if reads != workers*per {
		t.Fatalf("reads = %d, want %d", reads, workers*per)
	}
}

func TestCounterRestore(t *testing.T) {
	c := newCounter()
	c.add("a", Usage{Reads: 3})
	got := c.take()
	c.add("a", Usage{Reads: 1})
	c.restore(got)
	if u := c.take()["a"]; u.Reads != 4 {
		t.Fatalf("after restore reads = %d, want 4", u.Reads)
	}
	if m := c.take(); len(m) != 0 {
		t.Fatalf("take of empty counter = %v, want empty", m)
	}
}

// BenchmarkRecordParallel measures Record on an open meter (a journal
// append under the journal lock and a counter addition), from GOMAXPROCS
// goroutines, as the request handlers call it, with each journal writer
// (a store into the mapped file, or one write(2)).
func BenchmarkRecordParallel(b *testing.B) {
	for _, plain := range []bool{false, true} {
		for _, n := range []int{1, 100} {
			b.Run(fmt.Sprintf("writer=%s/tenants=%d", writerName(plain), n), func(b *testing.B) {
				m := openBenchMeter(b, plain)
				names := make([]string, n)
				for i := range names {
					names[i] = fmt.Sprintf("tn_%d", i)
				}
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						if err := m.Record(names[i%n], Usage{Reads: 1, EgressBytes: 512}); err != nil {
							b.Error(err)
							return
						}
						i++
					}
				})
			})
		}
	}
}

// BenchmarkRecord measures Record from one goroutine, with each journal
// writer.
func BenchmarkRecord(b *testing.B) {
	for _, plain := range []bool{false, true} {
		b.Run("writer="+writerName(plain), func(b *testing.B) {
			m := openBenchMeter(b, plain)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if err := m.Record("tn_bench", Usage{Reads: 1, EgressBytes: uint64(i)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func writerName(plain bool) string {
	if plain {
		return "write"
	}
	return "mmap"
}

func openBenchMeter(b *testing.B, plain bool) *Meter {
	b.Helper()
	m, err := New(Config{NodeID: "n1", DataDir: b.TempDir(), Window: time.Hour}, senderFunc(nil), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	m.jour.plainWrites = plain
	if err := m.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := m.Close(); err != nil {
			b.Error(err)
		}
	})
	return m
}
