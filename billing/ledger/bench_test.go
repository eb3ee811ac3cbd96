package ledger

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkIngest measures Apply of 100-record usage batches: each
// iteration is one batch from one of 8 senders (nodes), in its own
// transaction as the store would commit it (without fsync), reporting
// records/s. The store batches several commands per transaction, so this
// is a lower bound for the state machine's share.
func BenchmarkIngest(b *testing.B) {
	for _, perTx := range []int{1, 8} {
		b.Run(fmt.Sprintf("batches_per_tx=%d", perTx), func(b *testing.B) { benchIngest(b, perTx) })
	}
}

func benchIngest(b *testing.B, perTx int) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), 0o600, &bolt.Options{NoSync: true, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	sm, _ := New(Config{})
	fx := &fixture{t: &testing.T{}, db: db, sm: sm, now: t0, actor: "admin"}
	tenants := make([]string, 8)
	for i := range tenants {
		tenants[i] = fmt.Sprintf("tenant-%d", i)
		if r := applyOnce(db, sm, CreateTenant{Header: fx.h(), ID: tenants[i], Organization: "o", Name: tenants[i], Tier: "starter", Email: "a@b.example"}); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
	if r := applyOnce(db, sm, RegisterCluster{Header: fx.h(), ClusterID: "c1", Tenants: tenants, TokenHash: token("c1")}); r.Err != nil {
		b.Fatal(r.Err)
	}
	const senders, batch = 8, 100
	seqs := make([]uint64, senders)
	encode := func(i int) []byte {
		s := i % senders
		now := t0.Add(time.Duration(i) * time.Second)
		recs := make([]UsageRecord, batch)
		for j := range recs {
			seqs[s]++
			recs[j] = UsageRecord{NodeID: fmt.Sprintf("node-%d", s), Seq: seqs[s], Tenant: tenants[(s+j)%len(tenants)],
				Start: now.UnixNano(), End: now.Add(10 * time.Second).UnixNano(), Reads: 100, Writes: 10, Queries: 3,
				QueryComputeMs: 40, IngressBytes: 4000, EgressBytes: 90000, StorageByteSeconds: 1 << 30}
		}
		raw, err := Encode(IngestUsage{Header: Header{Time: now.UnixNano(), Actor: "cluster:c1"}, ClusterID: "c1", Records: recs})
		if err != nil {
			b.Fatal(err)
		}
		return raw
	}
	cmds := make([][]byte, b.N)
	for i := range cmds {
		cmds[i] = encode(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += perTx {
		if err := db.Update(func(tx *bolt.Tx) error {
			for j := i; j < min(i+perTx, b.N); j++ {
				out := sm.Apply(tx, uint64(j), cmds[j])
				if out[2] != resultIngest {
					r, _ := DecodeResult(out)
					return r.Err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
}

func applyOnce(db *bolt.DB, sm *StateMachine, c Command) Result {
	raw, err := Encode(c)
	if err != nil {
		return Result{Err: internalf("%v", err)}
	}
	var out []byte
	_ = db.Update(func(tx *bolt.Tx) error { out = sm.Apply(tx, 0, raw); return nil })
	r, _ := DecodeResult(out)
	return r
}
