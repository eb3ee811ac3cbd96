package ledger

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

var _ store.StateMachine = (*StateMachine)(nil)

// TestReplicatedScheduler runs the ledger on a real 3-node store with three
// schedulers, one per node, each closing and finalizing the same periods
// concurrently through its own node (proposals forward to the leader):
// every node ends up with exactly one invoice per period, and identical.
func TestReplicatedScheduler(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node raft cluster")
	}
	c := storetest.NewCluster(t, 3,
		storetest.WithConfig(func(i int, cfg *store.Config) { storetest.FastConfig(cfg) }),
		storetest.WithStateMachine(func(int) store.StateMachine {
			sm, err := New(Config{})
			if err != nil {
				t.Fatal(err)
			}
			return sm
		}))
	ctx, cancel := context.WithTimeout(context.Background(), storetest.WaitTimeout)
	defer cancel()
	propose := func(s *store.Store, cmd Command) Result {
		t.Helper()
		raw, err := Encode(cmd)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := s.Propose(ctx, raw)
		if err != nil {
			t.Fatalf("propose %s: %v", cmd.Kind(), err)
		}
		r, err := DecodeResult(out)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	nodes := c.Stores()
	h := Header{Time: t0.UnixNano(), Actor: "admin"}
	for _, id := range []string{"t1", "t2"} {
		if r := propose(nodes[0], CreateTenant{Header: h, ID: id, Organization: "O", Name: "N " + id, Tier: "starter", Email: "a@b.example"}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if r := propose(nodes[1], RegisterCluster{Header: h, ClusterID: "c1", Tenants: []string{"t1", "t2"}, TokenHash: token("c1")}); r.Err != nil {
		t.Fatal(r.Err)
	}
	r := propose(nodes[2], IngestUsage{Header: Header{Time: t0.Add(time.Hour).UnixNano(), Actor: "cluster:c1"}, ClusterID: "c1",
		Records: []UsageRecord{rec("n1", 1, "t1", t0, 3_000_000, 0), rec("n1", 2, "t2", t0, 10, 0)}})
	if r.Err != nil || r.Ingest.Accepted != 2 {
		t.Fatalf("ingest = %+v", r)
	}

	now := feb.Add(2 * time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i, s := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sched := Header{Time: now.UnixNano(), Actor: fmt.Sprintf("scheduler@n%d", i)}
			var due []DraftDue
			if err := s.View(ctx, store.Linearizable, func(tx *bolt.Tx) (err error) { due, err = DueForDraft(tx, now, Cycle{}); return }); err != nil {
				errs <- err
				return
			}
			for _, d := range due {
				raw, _ := Encode(d.Command(sched))
				out, _, err := s.Propose(ctx, raw)
				if err != nil {
					errs <- err
					return
				}
				res, err := DecodeResult(out)
				if err != nil || res.Err != nil {
					errs <- fmt.Errorf("close: %v %v", err, res.Err)
					return
				}
				raw, _ = Encode(FinalizeInvoice{Header: sched, InvoiceID: res.Invoice.ID, DueAt: now.Add(24 * time.Hour).UnixNano()})
				if out, _, err = s.Propose(ctx, raw); err != nil {
					errs <- err
					return
				}
				if res, err = DecodeResult(out); err != nil || res.Err != nil {
					errs <- fmt.Errorf("finalize: %v %v", err, res.Err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	var want []Invoice
	for i, s := range nodes {
		var invs []Invoice
		if err := s.View(ctx, store.Leader, func(tx *bolt.Tx) (err error) { invs, err = ListInvoices(tx, ""); return }); err != nil {
			t.Fatal(err)
		}
		if len(invs) != 2 || invs[0].Tenant != "t1" || invs[0].TotalCents != 1050 || invs[0].Status != InvoiceOpen || invs[1].TotalCents != 1000 {
			t.Fatalf("node %d invoices = %+v", i, invs)
		}
		if i == 0 {
			want = invs
			continue
		}
		for j := range invs {
			if invs[j].ID != want[j].ID || !invs[j].FinalizedAt.Equal(want[j].FinalizedAt) || invs[j].TotalCents != want[j].TotalCents {
				t.Fatalf("node %d invoice %d = %+v, node 0 has %+v", i, j, invs[j], want[j])
			}
		}
	}
}
