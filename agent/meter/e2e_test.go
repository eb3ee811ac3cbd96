package meter_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/meter"
	"github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/service"
	"github.com/aerolithdb/aerolith/billing/service/servicetest"
	"github.com/aerolithdb/aerolith/store/storetest"
)

const billingAdminKey = "meter-test-admin-key-0123456789"

// startBilling opens a single-replica billing service on dir and returns
// it with an admin client, once it serves.
func startBilling(t *testing.T, dir string) (*service.Service, *client.Client) {
	t.Helper()
	s := servicetest.Start(t, billingAdminKey, func(cfg *service.Config) {
		cfg.DataDir = dir
		cfg.ScheduleInterval = service.Default().ScheduleInterval
	})
	admin := billingClient(t, s, billingAdminKey)
	storetest.Eventually(t, time.Minute, func() error {
		_, _, err := admin.PublicKey(context.Background())
		return err
	})
	return s, admin
}

func billingClient(t *testing.T, s *service.Service, key string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{URL: "http://" + s.HTTPAddr(), Key: key, MaxRetries: 2, MaxBackoff: 100 * time.Millisecond, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// switchSender sends through the current billing client; when armed, the
// next send reaches billing, then reports on crashed and hangs until its
// context ends, as a process killed after billing answered would.
type switchSender struct {
	mu         sync.Mutex
	c          *client.Client
	armed      bool
	crashed    chan struct{}
	duplicates atomic.Int64
}

func (s *switchSender) set(c *client.Client, arm bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c, s.armed = c, arm
	if arm {
		s.crashed = make(chan struct{})
	}
}

func (s *switchSender) SendUsage(ctx context.Context, recs []client.UsageRecord) (client.IngestResult, error) {
	s.mu.Lock()
	c, armed := s.c, s.armed
	s.armed = false
	crashed := s.crashed
	s.mu.Unlock()
	res, err := c.SendUsage(ctx, recs)
	s.duplicates.Add(int64(res.Duplicates))
	if armed {
		if err != nil {
			s.mu.Lock()
			s.armed = true // not delivered: crash on the next one
			s.mu.Unlock()
			return res, err
		}
		close(crashed)
		<-ctx.Done()
		return client.IngestResult{}, ctx.Err()
	}
	return res, err
}

// crash stops m as a killed process would (meter.Crash).
func crash(t *testing.T, m *meter.Meter) {
	t.Helper()
	if err := meter.Crash(m); err != nil {
		t.Fatal(err)
	}
}

func newTestMeter(t *testing.T, dir string, s meter.Sender, mod func(*meter.Config)) *meter.Meter {
	t.Helper()
	cfg := meter.Config{NodeID: "n1", DataDir: dir, Window: time.Hour, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	m, err := meter.New(cfg, s, storetest.TestLogger())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tally is the usage a test recorded, per tenant.
type tally struct {
	mu sync.Mutex
	m  map[string]meter.Usage
}

// record records u, and tallies it once Record returned nil.
func (tl *tally) record(t *testing.T, m *meter.Meter, tenant string, u meter.Usage) {
	if err := m.Record(tenant, u); err != nil {
		t.Error(err)
		return
	}
	tl.mu.Lock()
	x := tl.m[tenant]
	x.Add(u)
	tl.m[tenant] = x
	tl.mu.Unlock()
}

func waitStats(t *testing.T, m *meter.Meter, what string, ok func(meter.Stats) bool) {
	t.Helper()
	storetest.Eventually(t, time.Minute, func() error {
		st, err := m.Stats()
		if err != nil {
			return err
		}
		if !ok(st) {
			return fmt.Errorf("%s: stats %+v", what, st)
		}
		return nil
	})
}

// TestExactlyOnceEndToEnd records a known workload for two tenants while
// a real billing service is up, stopped (windows keep closing into the
// outbox) and restarted on its data dir; the meter crashes right after
// billing accepted a batch it never saw acknowledged, and is reopened on
// its outbox. After a Flush, billing's totals per tenant equal what was
// recorded, exactly, the resent batch having been counted as duplicates;
// storage byte-seconds are within 2 of the integral (the sub-second
// remainders lost at the crash and left after the last window).
func TestExactlyOnceEndToEnd(t *testing.T) {
	ctx := context.Background()
	bdir, mdir := t.TempDir(), t.TempDir()
	bill, admin := startBilling(t, bdir)
	var tenants []string
	for _, name := range []string{"acme", "globex"} {
		tn, err := admin.CreateTenant(ctx, client.TenantRequest{Organization: name, Name: name, Tier: "starter", Email: "ap@" + name + ".example"})
		if err != nil {
			t.Fatal(err)
		}
		tenants = append(tenants, tn.ID)
	}
	enr, err := admin.RegisterCluster(ctx, "", tenants)
	if err != nil {
		t.Fatal(err)
	}
	snd := &switchSender{}
	snd.set(billingClient(t, bill, enr.EnrollmentToken), false)
	mod := func(c *meter.Config) { c.Window = 50 * time.Millisecond; c.BatchSize = 7 }
	m := newTestMeter(t, mdir, snd, mod)
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	rec := &tally{m: map[string]meter.Usage{}}
	const storedBytes = 1_000_000
	t0 := time.Now()
	m.SetLeader(true, t0)
	for _, tn := range tenants {
		m.ObserveStorage(tn, storedBytes, t0)
	}

	// Recorders run through phases A (billing up) and B (billing down).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				rec.record(t, m, tenants[(w+i)%2], meter.Usage{Reads: uint64(i % 3), Writes: 1, Queries: uint64(i % 2),
					QueryComputeMs: uint64(i % 7), IngressBytes: uint64(100 + i%13), EgressBytes: uint64(200 + w)})
				if i%64 == 0 {
					time.Sleep(time.Millisecond) // let windows close mid-workload
				}
			}
		}()
	}
	waitStats(t, m, "billing acknowledged records", func(s meter.Stats) bool { return s.Acked >= 4 })
	if err := bill.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := m.Stats()
	waitStats(t, m, "windows closed while billing is down", func(s meter.Stats) bool {
		return s.Pending >= 6 && s.NextSeq >= before.NextSeq+6
	})
	close(stop)
	wg.Wait()
	tPause := time.Now()
	m.SetLeader(false, tPause)
	if err := meter.CloseWindow(m); err != nil { // nothing left in memory
		t.Fatal(err)
	}

	// Billing comes back on its data dir; the meter dies right after
	// billing answered its first batch.
	bill2, admin2 := startBilling(t, bdir)
	snd.set(billingClient(t, bill2, enr.EnrollmentToken), true)
	meter.Kick(m)
	snd.mu.Lock()
	crashed := snd.crashed
	snd.mu.Unlock()
	select {
	case <-crashed:
	case <-time.After(time.Minute):
		t.Fatal("no batch reached the restarted billing")
	}
	crash(t, m)

	// Reopened on the same outbox: a little more work, then everything.
	m2 := newTestMeter(t, mdir, snd, mod)
	if err := m2.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	tResume := time.Now()
	m2.SetLeader(true, tResume)
	for _, tn := range tenants {
		m2.ObserveStorage(tn, storedBytes, tResume)
	}
	for i := range 500 {
		rec.record(t, m2, tenants[i%2], meter.Usage{Reads: 2, Queries: 1, QueryComputeMs: 3, EgressBytes: 50})
	}
	tEnd := time.Now()
	m2.SetLeader(false, tEnd)
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := m2.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	if snd.duplicates.Load() == 0 {
		t.Fatal("the batch billing accepted before the crash was not resent as duplicates")
	}
	if dl, err := m2.DeadLetters(); err != nil || len(dl) != 0 {
		t.Fatalf("dead letters = %+v, %v", dl, err)
	}
	if st, err := m2.Stats(); err != nil || st.Pending != 0 || st.StorageOverlap != 0 {
		t.Fatalf("stats = %+v, %v", st, err)
	}

	leadNs := uint64(tPause.Sub(t0) + tEnd.Sub(tResume))
	wantStorage := storedBytes * leadNs / 1e9
	for _, tn := range tenants {
		s, err := admin2.Usage(ctx, tn, client.UsageQuery{From: t0.Add(-time.Hour), To: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		want := rec.m[tn]
		got := s.Total
		gotU := meter.Usage{Reads: got.Reads, Writes: got.Writes, Queries: got.Queries, QueryComputeMs: got.QueryComputeMs,
			IngressBytes: got.IngressBytes, EgressBytes: got.EgressBytes}
		if gotU != want {
			t.Errorf("tenant %s: billed %+v, recorded %+v", tn, gotU, want)
		}
		if got.StorageByteSeconds > wantStorage || got.StorageByteSeconds+2 < wantStorage {
			t.Errorf("tenant %s: billed %d storage byte-seconds, want %d (-2)", tn, got.StorageByteSeconds, wantStorage)
		}
		if want.Writes == 0 {
			t.Errorf("tenant %s: the workload recorded nothing", tn)
		}
	}
}
