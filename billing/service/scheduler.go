package service

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/tier"
	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/store"
)

// SchedulerActor is the audit actor of the scheduler's commands.
const SchedulerActor = "scheduler"

// schedulerWorkers bounds the tenants the scheduler works on at once (each
// tenant's periods are closed in order).
const schedulerWorkers = 8

// Replica is what the scheduler needs of the store (*store.Store
// implements it).
type Replica interface {
	IsLeader() bool
	Ready() bool
	Propose(ctx context.Context, cmd []byte) ([]byte, uint64, error)
	View(ctx context.Context, c store.Consistency, fn func(tx *bolt.Tx) error) error
}

var _ Replica = (*store.Store)(nil)

// SchedulerConfig configures a Scheduler.
type SchedulerConfig struct {
	// Store is the replica; the scheduler acts only while it leads.
	Store Replica
	// Cycle is the billing cycle.
	Cycle ledger.Cycle
	// Grace, PaymentTerms and DunningGrace: finalize a draft Grace after
	// its period ends, with due date PaymentTerms after finalization;
	// suspend a tenant whose open invoice is DunningGrace past due.
	Grace, PaymentTerms, DunningGrace time.Duration
	// Interval is the time between runs. A replica that becomes leader
	// runs at once (within leaderPoll).
	Interval time.Duration
	// Catalog, when set, is proposed (SetCatalog) at the start of every
	// leadership term if the state holds another.
	Catalog *tier.Catalog
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the scheduler's metrics.
	Registerer prometheus.Registerer
	// Audit records each dunning suspension the scheduler applies
	// (ActionDunningSuspend, system actor); nil records nothing.
	Audit audit.Auditor
}

// ActionDunningSuspend is the audit action of a suspension for an unpaid
// invoice.
const ActionDunningSuspend = "tenant.suspend"

// Scheduler is the billing cycle scheduler. On the leader only, every
// Interval it closes the drafts of ended periods (ledger.DueForDraft →
// CloseDraft), finalizes drafts past their grace (DueForFinalize →
// FinalizeInvoice) and suspends tenants with invoices past due plus the
// dunning grace (Overdue → SuspendTenant{Reason: dunning}). Times are
// chosen here, by the proposer. Every command is idempotent in the ledger
// (one invoice id per tenant and period, finalizing twice is a no-op, a
// dunning suspension is refused once paid), so a crash mid-run, a leader
// change or two replicas believing they lead never bill twice.
//
// At the start of each leadership term it also makes sure the policy
// signing key is set (SetSigningKey with a fresh random seed; the first
// proposal wins) and the configured catalog is in force.
type Scheduler struct {
	cfg  SchedulerConfig
	log  *slog.Logger
	runs *prometheus.CounterVec
	acts *prometheus.CounterVec

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	setup  atomic.Bool // signing key and catalog done for the current term
}

// NewScheduler returns a stopped scheduler. It does no I/O.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	if cfg.Store == nil {
		return nil, errors.New("scheduler: Store is required")
	}
	if err := cfg.Cycle.Validate(); err != nil {
		return nil, err
	}
	if cfg.Interval <= 0 {
		return nil, errors.New("scheduler: Interval must be positive")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Scheduler{
		cfg: cfg,
		log: cfg.Logger.With("component", "scheduler"),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "aerolith", Subsystem: "billing_scheduler", Name: "runs_total",
			Help: "Scheduler runs on this replica, by result (ok, error, follower).",
		}, []string{"result"}),
		acts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "aerolith", Subsystem: "billing_scheduler", Name: "actions_total",
			Help: "Commands the scheduler proposed and the ledger applied, by action (draft, finalize, suspend) and outcome (applied, unchanged, refused).",
		}, []string{"action", "outcome"}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{s.runs, s.acts} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// Open starts the loop. It returns at once.
func (s *Scheduler) Open(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return errors.New("scheduler: already open")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go s.loop(ctx)
	return nil
}

// Close stops the loop and waits for a run in progress to end (its
// proposals are canceled). It is idempotent.
func (s *Scheduler) Close() error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	return nil
}

// leaderPoll bounds how long a new leader waits before its term setup and
// first run, whatever the Interval.
const leaderPoll = 250 * time.Millisecond

func (s *Scheduler) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(min(s.cfg.Interval, leaderPoll))
	defer t.Stop()
	var last time.Time // last run while leading; zero: run at once
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.cfg.Store.IsLeader() || !s.cfg.Store.Ready() {
			if s.setup.Load() || !last.IsZero() {
				s.runs.WithLabelValues("follower").Inc()
			}
			s.setup.Store(false)
			last = time.Time{}
			continue
		}
		if !last.IsZero() && time.Since(last) < s.cfg.Interval {
			continue
		}
		last = time.Now()
		if err := s.RunOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.runs.WithLabelValues("error").Inc()
			s.log.Warn("scheduler run failed; retrying next tick", "err", err)
			continue
		}
		s.runs.WithLabelValues("ok").Inc()
	}
}

// RunOnce runs the term setup (once per term) and one pass of drafts,
// finalizations and suspensions, whether or not this replica leads (the
// loop checks that; tests call RunOnce directly). It is safe to call
// concurrently (every command is idempotent). It returns the first
// error that stopped a step; refusals of single commands are logged.
func (s *Scheduler) RunOnce(ctx context.Context) error {
	if !s.setup.Load() {
		if err := s.termSetup(ctx); err != nil {
			return err
		}
		s.setup.Store(true)
	}
	now := s.cfg.Now()
	var drafts []ledger.DraftDue
	if err := s.cfg.Store.View(ctx, store.Stale, func(tx *bolt.Tx) error {
		var err error
		drafts, err = ledger.DueForDraft(tx, now, s.cfg.Cycle)
		return err
	}); err != nil {
		return err
	}
	if err := s.closeDrafts(ctx, now, drafts); err != nil {
		return err
	}

	now = s.cfg.Now()
	var final []ledger.Invoice
	if err := s.cfg.Store.View(ctx, store.Stale, func(tx *bolt.Tx) error {
		var err error
		final, err = ledger.DueForFinalize(tx, now, s.cfg.Grace)
		return err
	}); err != nil {
		return err
	}
	for _, inv := range final {
		h := s.header(now)
		err := s.apply(ctx, "finalize", ledger.FinalizeInvoice{Header: h, InvoiceID: inv.ID, DueAt: now.Add(s.cfg.PaymentTerms).UnixNano()})
		if err != nil {
			return err
		}
	}

	now = s.cfg.Now()
	var overdue []ledger.TenantInvoice
	if err := s.cfg.Store.View(ctx, store.Stale, func(tx *bolt.Tx) error {
		var err error
		overdue, err = ledger.Overdue(tx, now, s.cfg.DunningGrace)
		return err
	}); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, o := range overdue {
		if seen[o.Tenant] {
			continue
		}
		seen[o.Tenant] = true
		s.log.Info("suspending tenant for an unpaid invoice", "tenant", o.Tenant, "invoice", o.InvoiceID, "due_at", o.DueAt, "amount_due_cents", o.AmountDueCents)
		applied, err := s.applied(ctx, "suspend", ledger.SuspendTenant{Header: s.header(now), Tenant: o.Tenant, Reason: ledger.ReasonDunning})
		if err != nil {
			return err
		}
		if applied && s.cfg.Audit != nil {
			aerr := s.cfg.Audit.Append(ctx, audit.Event{
				Actor: audit.Actor{Kind: "system", KeyID: SchedulerActor}, Action: ActionDunningSuspend, Target: "tenant:" + o.Tenant, Outcome: audit.OutcomeOK,
				Detail: map[string]string{"reason": ledger.ReasonDunning, "invoice": o.InvoiceID, "amount_due_cents": strconv.FormatInt(o.AmountDueCents, 10)},
			})
			if aerr != nil {
				s.log.Warn("audit record failed", "action", ActionDunningSuspend, "tenant", o.Tenant, "err", aerr)
			}
		}
	}
	return nil
}

// closeDrafts proposes the CloseDraft commands, each tenant's in order,
// up to schedulerWorkers tenants at a time.
func (s *Scheduler) closeDrafts(ctx context.Context, now time.Time, drafts []ledger.DraftDue) error {
	byTenant := map[string][]ledger.DraftDue{}
	var order []string
	for _, d := range drafts {
		if _, ok := byTenant[d.Tenant]; !ok {
			order = append(order, d.Tenant)
		}
		byTenant[d.Tenant] = append(byTenant[d.Tenant], d)
	}
	work := make(chan string)
	errc := make(chan error, len(order))
	var wg sync.WaitGroup
	for range min(schedulerWorkers, len(order)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tenant := range work {
				for _, d := range byTenant[tenant] {
					if err := s.apply(ctx, "draft", d.Command(s.header(now))); err != nil {
						errc <- err
						break
					}
				}
			}
		}()
	}
	for _, t := range order {
		select {
		case work <- t:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	close(errc)
	return <-errc // nil when no worker failed
}

// apply proposes cmd. A refusal by the ledger (the state moved on, e.g. a
// payment beat a dunning suspension) is logged and not an error; a store
// failure is.
func (s *Scheduler) apply(ctx context.Context, action string, cmd ledger.Command) error {
	_, err := s.applied(ctx, action, cmd)
	return err
}

// applied is apply, also reporting whether the command changed the state.
func (s *Scheduler) applied(ctx context.Context, action string, cmd ledger.Command) (bool, error) {
	res, err := propose(ctx, s.cfg.Store, cmd)
	var le *ledger.Error
	switch {
	case errors.As(err, &le):
		s.acts.WithLabelValues(action, "refused").Inc()
		s.log.Warn("scheduler command refused", "action", action, "err", err)
		return false, nil
	case err != nil:
		return false, err
	case res.Unchanged:
		s.acts.WithLabelValues(action, "unchanged").Inc()
		return false, nil
	}
	s.acts.WithLabelValues(action, "applied").Inc()
	return true, nil
}

func (s *Scheduler) header(now time.Time) ledger.Header {
	return ledger.Header{Time: now.UnixNano(), Actor: SchedulerActor}
}

// termSetup sets the signing key when none is set and the configured
// catalog when the state holds another.
func (s *Scheduler) termSetup(ctx context.Context) error {
	var haveKey bool
	var cur tier.Catalog
	if err := s.cfg.Store.View(ctx, store.Stale, func(tx *bolt.Tx) error {
		_, err := ledger.SigningKey(tx)
		switch {
		case err == nil:
			haveKey = true
		case !errors.Is(err, ledger.ErrNotFound):
			return err
		}
		cur, err = ledger.Catalog(tx)
		return err
	}); err != nil {
		return err
	}
	now := s.cfg.Now()
	if !haveKey {
		var seed [32]byte
		if _, err := rand.Read(seed[:]); err != nil {
			return err
		}
		_, err := propose(ctx, s.cfg.Store, ledger.SetSigningKey{Header: s.header(now), Seed: seed})
		if err != nil && !errors.Is(err, ledger.ErrConflict) { // conflict: another leader set it first
			return err
		}
		if err == nil {
			s.log.Info("policy signing key set")
		}
	}
	if s.cfg.Catalog != nil && !reflect.DeepEqual(cur, *s.cfg.Catalog) {
		res, err := propose(ctx, s.cfg.Store, ledger.SetCatalog{Header: s.header(now), Catalog: *s.cfg.Catalog})
		if err != nil {
			var le *ledger.Error
			if errors.As(err, &le) {
				// The catalog is refused (e.g. it drops a tier in use): keep
				// billing with the one in force, and say so every term.
				s.log.Error("the tiers file was refused; billing continues with the catalog in force", "err", err)
				return nil
			}
			return err
		}
		if !res.Unchanged {
			s.log.Info("tier catalog from the tiers file is in force", "tiers", s.cfg.Catalog.Names())
		}
	}
	return nil
}

// propose replicates a ledger command and decodes its result; an
// application failure is returned as the error.
func propose(ctx context.Context, st Replica, cmd ledger.Command) (ledger.Result, error) {
	b, err := ledger.Encode(cmd)
	if err != nil {
		return ledger.Result{}, err
	}
	out, _, err := st.Propose(ctx, b)
	if err != nil {
		return ledger.Result{}, err
	}
	res, err := ledger.DecodeResult(out)
	if err != nil {
		return ledger.Result{}, err
	}
	return res, res.Error()
}
