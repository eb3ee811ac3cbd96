package meter

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// senderFunc adapts a function to Sender; nil answers every record
// accepted.
type senderFunc func(ctx context.Context, recs []client.UsageRecord) (client.IngestResult, error)

func (f senderFunc) SendUsage(ctx context.Context, recs []client.UsageRecord) (client.IngestResult, error) {
	if f == nil {
		res := client.IngestResult{Accepted: len(recs)}
		for range recs {
			res.Records = append(res.Records, client.RecordResult{Status: client.RecordAccepted})
		}
		return res, nil
	}
	return f(ctx, recs)
}

func newTestMeter(t *testing.T, dir string, s Sender, mod func(*Config)) *Meter {
	t.Helper()
	cfg := Config{NodeID: "n1", DataDir: dir, Window: time.Hour, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	m, err := New(cfg, s, storetest.TestLogger())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{DataDir: "d"}, "node_id"},
		{Config{NodeID: "n"}, "data_dir"},
		{Config{NodeID: "n", DataDir: "d", Window: -1}, "window"},
		{Config{NodeID: "n", DataDir: "d", BatchSize: 1001}, "batch_size"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tt.cfg, err, tt.want)
		}
	}
	if _, err := New(Config{NodeID: "n", DataDir: "d"}, nil, nil); err == nil {
		t.Error("New without sender succeeded")
	}
}

// TestRejectedGoToDeadLetter: a record rejected for good is moved aside
// with the reason; one rejected with Retry is kept and resent.
func TestRejectedGoToDeadLetter(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	send := senderFunc(func(_ context.Context, recs []client.UsageRecord) (client.IngestResult, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		var res client.IngestResult
		for _, r := range recs {
			switch {
			case r.TenantID == "bad":
				res.Records = append(res.Records, client.RecordResult{Status: client.RecordRejected, Code: "permission_denied", Reason: "tenant_id: not assigned"})
			case r.TenantID == "later" && calls == 1:
				res.Records = append(res.Records, client.RecordResult{Status: client.RecordRejected, Code: "failed_precondition", Reason: "too many gaps", Retry: true})
			default:
				res.Records = append(res.Records, client.RecordResult{Status: client.RecordAccepted})
			}
		}
		return res, nil
	})
	m := newTestMeter(t, t.TempDir(), send, nil)
	ctx := context.Background()
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	mustRecord(t, m, "good", Usage{Reads: 1})
	mustRecord(t, m, "bad", Usage{Writes: 1})
	mustRecord(t, m, "later", Usage{Queries: 1})
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := m.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	dl, err := m.DeadLetters()
	if err != nil || len(dl) != 1 || dl[0].Tenant != "bad" || !strings.Contains(dl[0].Reason, "not assigned") || dl[0].Writes != 1 {
		t.Fatalf("dead letters = %+v, %v", dl, err)
	}
	st, err := m.Stats()
	if err != nil || st.Pending != 0 || st.DeadLettered != 1 || st.Acked != 2 || st.NextSeq != 4 {
		t.Fatalf("stats = %+v, %v", st, err)
	}
}

// TestSendFailureKeepsRecords: records stay in the outbox while sends
// fail, Flush gives up with the context, and succeeds once billing is back.
func TestSendFailureKeepsRecords(t *testing.T) {
	var mu sync.Mutex
	down := true
	fails := 0
	send := senderFunc(func(ctx context.Context, recs []client.UsageRecord) (client.IngestResult, error) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			fails++
			return client.IngestResult{}, errors.New("connection refused")
		}
		return senderFunc(nil).SendUsage(ctx, recs)
	})
	m := newTestMeter(t, t.TempDir(), send, nil)
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	mustRecord(t, m, "a", Usage{Reads: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := m.Flush(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with billing down = %v, want deadline exceeded", err)
	}
	st, _ := m.Stats()
	mu.Lock()
	if st.Pending != 1 || fails < 2 {
		t.Fatalf("pending = %d, fails = %d; want 1 pending and retries", st.Pending, fails)
	}
	down = false
	mu.Unlock()
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := m.Stats(); st.Pending != 0 || st.Acked != 1 {
		t.Fatalf("stats after recovery = %+v", st)
	}
}

// TestCloseKeepsPartialWindow: Close writes the current window to the
// outbox; the next Open ships it with the next sequence number.
func TestCloseKeepsPartialWindow(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var seqs []uint64
	send := senderFunc(func(ctx context.Context, recs []client.UsageRecord) (client.IngestResult, error) {
		mu.Lock()
		for _, r := range recs {
			seqs = append(seqs, r.Seq)
		}
		mu.Unlock()
		return senderFunc(nil).SendUsage(ctx, recs)
	})
	m := newTestMeter(t, dir, send, nil)
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mustRecord(t, m, "a", Usage{Reads: 1})
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, m, "a", Usage{Reads: 5})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Flush(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Flush after Close = %v, want ErrClosed", err)
	}
	m2 := newTestMeter(t, dir, send, nil)
	if err := m2.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if err := m2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 {
		t.Fatalf("sent seqs = %v, want [1 2]", seqs)
	}
}

// mustRecord records u for tenant and fails the test if Record fails.
func mustRecord(t *testing.T, m *Meter, tenant string, u Usage) {
	t.Helper()
	if err := m.Record(tenant, u); err != nil {
		t.Fatalf("Record(%q, %+v) = %v", tenant, u, err)
	}
}
