package ledger

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func usageFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.createTenant("t1", "starter")
	f.createTenant("t2", "starter")
	f.createTenant("other", "free")
	f.registerCluster("c1", "t1", "t2")
	f.actor = "cluster:c1"
	return f
}

func TestIngestOutcomes(t *testing.T) {
	f := usageFixture(t)
	at := t0.Add(10 * time.Minute)
	f.now = t0.Add(time.Hour)
	res := f.ingest("c1",
		rec("n1", 1, "t1", at, 10, 1),
		rec("n1", 2, "t2", at, 20, 2),
		rec("n1", 1, "t1", at, 10, 1), // duplicate inside the batch
		rec("n1", 3, "other", at, 5, 0),
		rec("n1", 0, "t1", at, 5, 0),
		rec("bad node", 4, "t1", at, 5, 0),
		rec("n1", 5, "ghost", at, 5, 0),
		UsageRecord{NodeID: "n1", Seq: 6, Tenant: "t1", Start: at.UnixNano(), End: at.Add(-time.Second).UnixNano()},
		UsageRecord{NodeID: "n1", Seq: 7, Tenant: "t1", Start: f.now.Add(2 * time.Hour).UnixNano(), End: f.now.Add(3 * time.Hour).UnixNano()},
		UsageRecord{NodeID: "n1", Seq: 8, Tenant: "t1", Start: 0},
		UsageRecord{NodeID: "n1", Seq: 9, Tenant: "t1", Start: at.UnixNano(), End: at.UnixNano(), Reads: math.MaxUint64},
		rec("n2", 1, "t1", at, 1, 0),
	)
	want := []struct {
		status RecordStatus
		code   string
		reason string
	}{
		{RecordAccepted, "", ""},
		{RecordAccepted, "", ""},
		{RecordDuplicate, "", ""},
		{RecordRejected, CodeForbidden, `tenant_id: tenant "other" is not assigned to cluster "c1"`},
		{RecordRejected, CodeInvalid, "seq: must be at least 1"},
		{RecordRejected, CodeInvalid, `node_id: invalid id "bad node"`},
		{RecordRejected, CodeForbidden, `tenant "ghost" is not assigned`},
		{RecordRejected, CodeInvalid, "end: before start"},
		{RecordRejected, CodeInvalid, "start: 2026-01-01T03:00:00Z is more than 1h0m0s after the batch time"},
		{RecordRejected, CodeInvalid, "start: required"},
		{RecordRejected, CodeInvalid, "reads: exceeds 2^63-1"},
		{RecordAccepted, "", ""},
	}
	for i, w := range want {
		got := res.Records[i]
		if got.Status != w.status || got.Code != w.code || !strings.Contains(got.Reason, w.reason) || got.Retry {
			t.Errorf("record %d = %+v, want %s %s %q", i, got, w.status, w.code, w.reason)
		}
	}
	if res.Accepted != 3 || res.Duplicates != 1 || res.Rejected != 8 {
		t.Errorf("counts = %d/%d/%d, want 3/1/8", res.Accepted, res.Duplicates, res.Rejected)
	}
	// Rejections consume their sequence numbers (except seq 0 and a bad
	// node id, which have none): redelivered, they are duplicates.
	res = f.ingest("c1", rec("n1", 3, "other", at, 5, 0), rec("n1", 9, "t1", at, 1, 1), rec("n1", 2, "t2", at, 20, 2))
	for i, r := range res.Records {
		if r.Status != RecordDuplicate {
			t.Errorf("redelivered record %d = %+v, want duplicate", i, r)
		}
	}
	var s UsageSeries
	f.view(func(tx *bolt.Tx) (err error) { s, err = Usage(tx, "t1", t0, t0.Add(2*time.Hour), Hourly); return })
	if s.Total.Reads != 11 || s.Total.Writes != 1 || s.Points[0].Reads != 11 || len(s.Points) != 2 {
		t.Fatalf("series = %+v", s)
	}
}

func TestIngestBatchErrors(t *testing.T) {
	f := usageFixture(t)
	r := rec("n1", 1, "t1", t0, 1, 1)
	f.fail(IngestUsage{Header: f.h(), ClusterID: "nope", Records: []UsageRecord{r}}, ErrNotFound, `cluster "nope" not found`)
	f.fail(IngestUsage{Header: f.h(), ClusterID: "c1"}, ErrInvalid, "records: at least one")
	f.fail(IngestUsage{Header: f.h(), ClusterID: "", Records: []UsageRecord{r}}, ErrInvalid, "cluster_id: required")
	many := make([]UsageRecord, MaxBatchRecords+1)
	f.fail(IngestUsage{Header: f.h(), ClusterID: "c1", Records: many}, ErrInvalid, "exceed the batch limit")
}

func TestIngestDeletedTenant(t *testing.T) {
	f := usageFixture(t)
	f.now = t0.Add(time.Hour)
	f.actor = "admin"
	f.ok(DeleteTenant{Header: f.h(), Tenant: "t1"})
	res := f.ingest("c1", rec("n1", 1, "t1", t0.Add(30*time.Minute), 1, 0), rec("n1", 2, "t1", t0.Add(61*time.Minute), 1, 0))
	if res.Records[0].Status != RecordAccepted {
		t.Errorf("usage before the deletion = %+v, want accepted", res.Records[0])
	}
	if r := res.Records[1]; r.Status != RecordRejected || r.Code != CodeState || !strings.Contains(r.Reason, "was deleted") {
		t.Errorf("usage after the deletion = %+v, want rejected", r)
	}
}

func TestIngestOverflow(t *testing.T) {
	f := usageFixture(t)
	big := UsageRecord{NodeID: "n1", Seq: 1, Tenant: "t1", Start: t0.UnixNano(), End: t0.UnixNano(), StorageByteSeconds: math.MaxInt64 - 5}
	res := f.ingest("c1", big)
	if res.Accepted != 1 {
		t.Fatalf("first = %+v", res.Records)
	}
	more := big
	more.Seq, more.StorageByteSeconds = 2, 10
	res = f.ingest("c1", more)
	if r := res.Records[0]; r.Status != RecordRejected || !strings.Contains(r.Reason, "storage_byte_seconds: the tenant's usage for the bucket") {
		t.Fatalf("overflowing record = %+v", r)
	}
	// A period summing to more than int64 cannot be rated: closing it fails
	// naming the meter, rather than wrapping.
	third := big
	third.Seq, third.Start, third.End = 3, t0.Add(2*time.Hour).UnixNano(), t0.Add(2*time.Hour).UnixNano()
	f.now = t0.Add(2 * time.Hour)
	f.ingest("c1", third)
	f.now = t0.AddDate(0, 1, 0)
	f.actor = "scheduler"
	end := t0.AddDate(0, 1, 0)
	f.fail(CloseDraft{Header: f.h(), Tenant: "t1", PeriodStart: t0.UnixNano(), PeriodEnd: end.UnixNano(), CycleStart: t0.UnixNano(), CycleEnd: end.UnixNano()},
		ErrInvalid, "usage storage_byte_seconds", "exceeds 2^63-1")
}

func TestDedupBoundedInOrder(t *testing.T) {
	f := usageFixture(t)
	seq := uint64(0)
	for batch := 0; batch < 20; batch++ {
		recs := make([]UsageRecord, 100)
		for i := range recs {
			seq++
			recs[i] = rec("n1", seq, "t1", t0.Add(time.Duration(seq)*time.Second), 1, 0)
		}
		f.now = t0.Add(time.Duration(seq) * time.Second)
		if res := f.ingest("c1", recs...); res.Accepted != 100 {
			t.Fatalf("batch %d: %+v", batch, res)
		}
	}
	f.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bDedup).Get([]byte("c1\x00n1"))
		s, err := decodeSeqSet(raw)
		if err != nil {
			return err
		}
		if s.w != 2000 || len(s.ranges) != 0 || len(raw) > 4 {
			t.Fatalf("dedup state after 2000 in-order records: w=%d ranges=%d bytes=%d", s.w, len(s.ranges), len(raw))
		}
		return nil
	})
}

func TestDedupOutOfOrderAcrossBatches(t *testing.T) {
	f := usageFixture(t)
	f.now = t0.Add(time.Hour)
	at := t0.Add(time.Minute)
	f.ingest("c1", rec("n1", 5, "t1", at, 1, 0), rec("n1", 3, "t1", at, 1, 0))
	res := f.ingest("c1", rec("n1", 5, "t1", at, 1, 0), rec("n1", 1, "t1", at, 1, 0), rec("n1", 2, "t1", at, 1, 0), rec("n1", 4, "t1", at, 1, 0))
	if res.Duplicates != 1 || res.Accepted != 3 {
		t.Fatalf("second batch = %+v", res)
	}
	f.view(func(tx *bolt.Tx) error {
		s, _ := decodeSeqSet(tx.Bucket(bDedup).Get([]byte("c1\x00n1")))
		if s.w != 5 || len(s.ranges) != 0 {
			t.Fatalf("gaps filled: w=%d ranges=%v", s.w, s.ranges)
		}
		return nil
	})
	// The same node id in another cluster is a different stream.
	f.actor = "admin"
	f.registerCluster("c2", "t1")
	if res := f.ingest("c2", rec("n1", 1, "t1", at, 1, 0)); res.Accepted != 1 {
		t.Fatalf("other cluster = %+v", res)
	}
}

func TestIngestTooManyGaps(t *testing.T) {
	f := usageFixture(t)
	f.now = t0.Add(time.Hour)
	var s seqSet
	for i := 0; i < MaxSeqGaps; i++ {
		s.add(uint64(3 + 2*i))
	}
	if err := f.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bDedup)
		if err != nil {
			return err
		}
		return b.Put([]byte("c1\x00n1"), s.encode())
	}); err != nil {
		t.Fatal(err)
	}
	res := f.ingest("c1", rec("n1", 1_000_000, "t1", t0, 1, 0), rec("n1", 1, "t1", t0, 1, 0))
	if r := res.Records[0]; r.Status != RecordRejected || !r.Retry || !strings.Contains(r.Reason, "sequence gaps") {
		t.Fatalf("record opening a gap too many = %+v", r)
	}
	if res.Records[1].Status != RecordAccepted {
		t.Fatalf("record filling a gap = %+v", res.Records[1])
	}
}

func TestUsageSeries(t *testing.T) {
	f := usageFixture(t)
	f.now = t0.AddDate(0, 0, 3)
	f.ingest("c1",
		rec("n1", 1, "t1", t0.Add(30*time.Minute), 1, 0),
		rec("n1", 2, "t1", t0.Add(90*time.Minute), 2, 0),
		rec("n1", 3, "t1", t0.Add(25*time.Hour), 4, 0),
		rec("n1", 4, "t2", t0.Add(25*time.Hour), 100, 0),
	)
	var hourly, daily UsageSeries
	f.view(func(tx *bolt.Tx) (err error) {
		if hourly, err = Usage(tx, "t1", t0.Add(20*time.Minute), t0.Add(2*time.Hour), Hourly); err != nil {
			return err
		}
		daily, err = Usage(tx, "t1", t0, t0.AddDate(0, 0, 2), Daily)
		return err
	})
	if len(hourly.Points) != 2 || hourly.Points[0].Reads != 1 || hourly.Points[1].Reads != 2 || !hourly.From.Equal(t0) {
		t.Fatalf("hourly = %+v", hourly)
	}
	if len(daily.Points) != 2 || daily.Points[0].Reads != 3 || daily.Points[1].Reads != 4 || daily.Total.Reads != 7 {
		t.Fatalf("daily = %+v", daily)
	}
	f.view(func(tx *bolt.Tx) error {
		for _, tc := range []struct {
			tenant   string
			from, to time.Time
			g        Granularity
			want     error
		}{
			{"ghost", t0, t0.Add(time.Hour), Hourly, ErrNotFound},
			{"t1", t0, t0, Hourly, ErrInvalid},
			{"t1", t0, t0.AddDate(5, 0, 0), Hourly, ErrInvalid},
			{"t1", t0, t0.Add(time.Hour), "week", ErrInvalid},
		} {
			if _, err := Usage(tx, tc.tenant, tc.from, tc.to, tc.g); !errors.Is(err, tc.want) {
				t.Errorf("Usage(%s, %s..%s, %s) err = %v, want %v", tc.tenant, tc.from, tc.to, tc.g, err, tc.want)
			}
		}
		return nil
	})
	if _, err := ParseGranularity("minute"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseGranularity(minute) = %v", err)
	}
}

func TestUsageBucketConfig(t *testing.T) {
	if _, err := New(Config{UsageBucket: 7 * time.Minute}); err == nil {
		t.Error("7m bucket accepted (does not divide an hour)")
	}
	if _, err := New(Config{UsageBucket: 1500 * time.Millisecond}); err == nil {
		t.Error("fractional-second bucket accepted")
	}
	f := newFixtureWith(t, Config{UsageBucket: time.Minute})
	f.createTenant("t1", "free")
	// The state now records one-minute buckets: a differently configured
	// replica refuses to apply rather than mis-bill.
	other, _ := New(Config{})
	f.sm = other
	f.fail(CreateTenant{Header: f.h(), ID: "t2", Organization: "o", Name: "n", Tier: "free", Email: "a@b.example"}, ErrState, "usage bucket: configured 1h0m0s but the state was built with 1m0s")
}
