package service

import (
	"context"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/tier"
	"github.com/aerolithdb/aerolith/internal/audit/audittest"
	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func ledgerCluster(t *testing.T, n int) *storetest.Cluster {
	t.Helper()
	return storetest.NewCluster(t, n, storetest.WithStateMachine(func(int) store.StateMachine {
		lsm, err := ledger.New(ledger.Config{UsageBucket: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return lsm
	}))
}

func mustPropose(t *testing.T, st Replica, cmd ledger.Command) ledger.Result {
	t.Helper()
	res, err := propose(context.Background(), st, cmd)
	if err != nil {
		t.Fatalf("propose %s: %v", cmd.Kind(), err)
	}
	return res
}

// TestSchedulerIdempotent runs the scheduler of all three replicas at the
// same time, over and over, as if each believed it led (a deposed leader,
// a crash and restart mid-run): every tenant still gets exactly one
// invoice per period, contiguous, each finalized once.
func TestSchedulerIdempotent(t *testing.T) {
	c := ledgerCluster(t, 3)
	clk := &fakeClock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	leader := c.Leader()
	tenants := []string{"t1", "t2", "t3", "t4", "t5"}
	for _, id := range tenants {
		mustPropose(t, leader, ledger.CreateTenant{Header: ledger.Header{Time: clk.Now().UnixNano(), Actor: "test"},
			ID: id, Organization: "Org " + id, Name: id, Tier: "starter", Email: id + "@example.com"})
	}
	cycle := ledger.Cycle{Every: 10 * time.Second}
	var scheds []*Scheduler
	for _, st := range c.Stores() {
		s, err := NewScheduler(SchedulerConfig{Store: st, Cycle: cycle, Grace: 2 * time.Second, PaymentTerms: time.Hour,
			DunningGrace: time.Hour, Interval: time.Second, Now: clk.Now, Logger: storetest.TestLogger()})
		if err != nil {
			t.Fatal(err)
		}
		scheds = append(scheds, s)
	}
	const periods = 4
	for step := 0; step < periods*4; step++ {
		clk.Add(cycle.Every / 4)
		var wg sync.WaitGroup
		for _, s := range scheds {
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := s.RunOnce(context.Background()); err != nil {
						t.Errorf("RunOnce: %v", err)
					}
				}()
			}
		}
		wg.Wait()
	}
	var invs []ledger.Invoice
	err := leader.View(context.Background(), store.Linearizable, func(tx *bolt.Tx) error {
		var err error
		invs, err = ledger.ListInvoices(tx, "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	byTenant := map[string][]ledger.Invoice{}
	for _, inv := range invs {
		byTenant[inv.Tenant] = append(byTenant[inv.Tenant], inv)
	}
	for _, id := range tenants {
		list := byTenant[id]
		if len(list) != periods {
			t.Fatalf("tenant %s has %d invoices, want %d (one per ended period)", id, len(list), periods)
		}
		seen := map[time.Time]bool{}
		for i, inv := range list {
			if seen[inv.PeriodStart] {
				t.Fatalf("tenant %s has two invoices for the period starting %s", id, inv.PeriodStart)
			}
			seen[inv.PeriodStart] = true
			if i > 0 && !inv.PeriodStart.Equal(list[i-1].PeriodEnd) {
				t.Fatalf("tenant %s: period %d starts %s, previous ended %s", id, i, inv.PeriodStart, list[i-1].PeriodEnd)
			}
			ended := !inv.PeriodEnd.Add(2 * time.Second).After(clk.Now())
			if ended && inv.Status != ledger.InvoiceOpen {
				t.Fatalf("tenant %s invoice %s is %s, want open (past its grace)", id, inv.ID, inv.Status)
			}
		}
	}

	// The signing key was set once, by whichever replica came first, and
	// every replica signs with it.
	var keys []string
	for _, st := range c.Stores() {
		if err := st.View(context.Background(), store.Linearizable, func(tx *bolt.Tx) error {
			k, err := ledger.SigningKey(tx)
			if err == nil {
				keys = append(keys, string(k.Seed()))
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if keys[0] != keys[1] || keys[1] != keys[2] {
		t.Fatal("replicas hold different signing keys")
	}
}

// TestSchedulerDunning: an invoice past due plus the dunning grace
// suspends its tenant once; a payment racing the scheduler wins.
func TestSchedulerDunning(t *testing.T) {
	c := ledgerCluster(t, 1)
	st := c.Leader()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	h := func() ledger.Header { return ledger.Header{Time: clk.Now().UnixNano(), Actor: "test"} }
	for _, id := range []string{"late", "payer"} {
		mustPropose(t, st, ledger.CreateTenant{Header: h(), ID: id, Organization: "O", Name: id, Tier: "starter", Email: id + "@example.com"})
	}
	rec := &audittest.Recorder{}
	s, err := NewScheduler(SchedulerConfig{Store: st, Cycle: ledger.Cycle{Every: time.Minute}, Grace: 5 * time.Second,
		PaymentTerms: 10 * time.Second, DunningGrace: 5 * time.Second, Interval: time.Second, Now: clk.Now, Logger: storetest.TestLogger(), Audit: rec})
	if err != nil {
		t.Fatal(err)
	}
	run := func() {
		t.Helper()
		if err := s.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	tenant := func(id string) ledger.Tenant {
		t.Helper()
		var tn ledger.Tenant
		if err := st.View(context.Background(), store.Linearizable, func(tx *bolt.Tx) error {
			var err error
			tn, err = ledger.GetTenant(tx, id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return tn
	}
	clk.Add(time.Minute + 6*time.Second) // period ended, grace passed: finalized, due in 10s
	run()
	inv := ledger.InvoiceID("payer", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	var open ledger.Invoice
	if err := st.View(context.Background(), store.Linearizable, func(tx *bolt.Tx) error {
		var err error
		open, err = ledger.GetInvoice(tx, inv)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if open.Status != ledger.InvoiceOpen || open.AmountDueCents <= 0 {
		t.Fatalf("invoice = %s due %d, want open with an amount due", open.Status, open.AmountDueCents)
	}
	clk.Add(12 * time.Second) // past due, within the dunning grace
	run()
	if got := tenant("late").Status; got != ledger.StatusActive {
		t.Fatalf("within the dunning grace: status %s, want active", got)
	}
	mustPropose(t, st, ledger.RecordPayment{Header: h(), PaymentID: "p1", InvoiceID: inv, AmountCents: open.AmountDueCents, Method: "manual", ExternalRef: "ref-1"})
	clk.Add(5 * time.Second)
	run()
	run() // a second pass changes nothing
	if tn := tenant("late"); tn.Status != ledger.StatusSuspended || tn.SuspendReason != ledger.ReasonDunning {
		t.Fatalf("unpaid tenant = %s (%s), want suspended for dunning", tn.Status, tn.SuspendReason)
	}
	if got := tenant("payer").Status; got != ledger.StatusActive {
		t.Fatalf("paying tenant = %s, want active", got)
	}
	// An administrator resumes the unpaid tenant: later passes leave it
	// active (the invoice past due is waived, not forgotten).
	mustPropose(t, st, ledger.ResumeTenant{Header: h(), Tenant: "late", Reason: "payment promised"})
	clk.Add(5 * time.Second)
	run()
	run()
	if tn := tenant("late"); tn.Status != ledger.StatusActive || len(tn.DunningWaived) != 1 {
		t.Fatalf("manually resumed tenant after scheduler passes = %s, waived %v; want active with one invoice waived", tn.Status, tn.DunningWaived)
	}
	// One suspension, recorded once, by the system.
	evs := rec.Actions(ActionDunningSuspend)
	if len(evs) != 1 || evs[0].Target != "tenant:late" || evs[0].Actor.Kind != "system" || evs[0].Detail["reason"] != ledger.ReasonDunning || evs[0].Detail["invoice"] == "" {
		t.Fatalf("dunning audit events = %+v, want one suspension of late", evs)
	}
}

// TestSchedulerCatalog: the tiers file's catalog is put in force at the
// start of a term; one the ledger refuses leaves the old one and the
// scheduler running.
func TestSchedulerCatalog(t *testing.T) {
	c := ledgerCluster(t, 1)
	st := c.Leader()
	cat := tier.Defaults()
	cat.Tiers[1].BasePrice = tier.Dollars(12)
	s, err := NewScheduler(SchedulerConfig{Store: st, Cycle: ledger.Cycle{}, Interval: time.Second, Catalog: &cat, Logger: storetest.TestLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got tier.Catalog
	if err := st.View(context.Background(), store.Linearizable, func(tx *bolt.Tx) error {
		var err error
		got, err = ledger.Catalog(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if st, _ := got.Get("starter"); st.BasePrice != tier.Dollars(12) {
		t.Fatalf("starter base price after setup = %s, want 12.00", st.BasePrice)
	}
	mustPropose(t, c.Leader(), ledger.CreateTenant{Header: ledger.Header{Time: time.Now().UnixNano(), Actor: "t"}, ID: "t1", Organization: "O", Name: "n", Tier: "starter", Email: "a@b.example"})
	small := tier.Catalog{Tiers: []tier.Tier{cat.Tiers[0]}}
	s2, err := NewScheduler(SchedulerConfig{Store: st, Cycle: ledger.Cycle{}, Interval: time.Second, Catalog: &small, Logger: storetest.TestLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.RunOnce(context.Background()); err != nil {
		t.Fatalf("a refused catalog must not stop the scheduler: %v", err)
	}
}
