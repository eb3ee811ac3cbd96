package httpapi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/meter"
	"github.com/aerolithdb/aerolith/billing/client"
)

// billSender accepts every record and sums what it billed.
type billSender struct {
	mu    sync.Mutex
	total meter.Usage
}

func (s *billSender) SendUsage(_ context.Context, recs []client.UsageRecord) (client.IngestResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res client.IngestResult
	for _, r := range recs {
		s.total.Writes += r.Writes
		s.total.Reads += r.Reads
		res.Records = append(res.Records, client.RecordResult{Status: client.RecordAccepted})
	}
	return res, nil
}

// TestFullDiskRefusesWrites: the meter's data directory is a real tmpfs
// that fills up. Once the journal cannot take a record, a write is
// refused with 503 before it is applied; when space is back, writes are
// served again; billing gets exactly the writes that were applied. On the
// old code the refused write was applied (answered 503) and never billed.
func TestFullDiskRefusesWrites(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	snd := &billSender{}
	m, err := meter.New(meter.Config{NodeID: "n1", DataDir: filepath.Join(dir, "meter"), Window: time.Hour}, snd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e := newManagedEnv(t, func(c *Config) { c.Meter = m })
	e.must(201, "PUT", "/api/v1/collections/c/documents/before", alphaRW, `{"data":{"a":1}}`)

	// Fill the file system, then record until the journal is full too.
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := filler.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	filler.Close()
	var reads uint64
	for m.Record("alpha", meter.Usage{Reads: 1}) == nil {
		reads++
	}

	r := e.do("PUT", "/api/v1/collections/c/documents/full", alphaRW, `{"data":{"a":2}}`)
	if _, msg := r.ErrCode(t); r.Status != 503 || !strings.Contains(msg, "nothing was applied") {
		t.Fatalf("write on a full disk = %d %s, want 503 nothing applied", r.Status, r.Body)
	}
	if docExists(t, e, "alpha", "c", "full") {
		t.Fatal("the write refused on a full disk was applied")
	}

	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	e.must(201, "PUT", "/api/v1/collections/c/documents/after", alphaRW, `{"data":{"a":3}}`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	snd.mu.Lock()
	defer snd.mu.Unlock()
	if snd.total.Writes != 2 || snd.total.Reads != reads {
		t.Fatalf("billed %+v, want the 2 applied writes and %d reads", snd.total, reads)
	}
}
