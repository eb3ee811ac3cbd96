package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/store"
)

// PaymentWatcherActor is the audit actor of the watcher's commands.
const PaymentWatcherActor = "payment-watcher"

// DefaultWatchSlack is how long after an intent's monitoring window the
// watcher still looks at it: a transfer made inside the window may
// finalize after the window closes (it is then judged by its block time).
const DefaultWatchSlack = time.Hour

// PaymentWatcherConfig configures a PaymentWatcher.
type PaymentWatcherConfig struct {
	// Store is the replica; the watcher acts only while it leads.
	Store Replica
	// Verifiers read the chains, one per chain; intents on a chain without
	// one are left alone.
	Verifiers []payment.Verifier
	// Interval is the time between passes.
	Interval time.Duration
	// Slack: see DefaultWatchSlack (0: the default).
	Slack time.Duration
	// VerifyTimeout bounds one intent's chain reads (default 30s).
	VerifyTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the watcher's metrics.
	Registerer prometheus.Registerer
}

// PaymentWatcher confirms pending payment intents without anyone asking:
// on the leader, every Interval, it asks each pending intent's chain for
// its transfers (payment.Verifier) and proposes every final one it has not
// recorded (ledger.RecordChainPayment), which the ledger judges, records
// once and settles. Transfers seen only confirmed wait for the next pass.
// An intent Slack past its monitoring window is expired
// (ledger.ExpirePaymentIntent) and no longer watched.
// Every command is idempotent (a transaction is recorded once, for one
// intent), so several replicas believing they lead, or a crash mid-pass,
// never pay twice.
type PaymentWatcher struct {
	cfg       PaymentWatcherConfig
	verifiers map[payment.Chain]payment.Verifier
	log       *slog.Logger
	recorded  *prometheus.CounterVec
	errs      prometheus.Counter

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewPaymentWatcher returns a stopped watcher. It does no I/O.
func NewPaymentWatcher(cfg PaymentWatcherConfig) (*PaymentWatcher, error) {
	if cfg.Store == nil {
		return nil, errors.New("payment watcher: Store is required")
	}
	if cfg.Interval <= 0 {
		return nil, errors.New("payment watcher: Interval must be positive")
	}
	if cfg.Slack <= 0 {
		cfg.Slack = DefaultWatchSlack
	}
	if cfg.VerifyTimeout <= 0 {
		cfg.VerifyTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	w := &PaymentWatcher{cfg: cfg, verifiers: map[payment.Chain]payment.Verifier{}, log: cfg.Logger.With("component", "payment-watcher"),
		recorded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "aerolith", Subsystem: "billing_payments", Name: "transfers_total",
			Help: "Chain transfers the payment watcher proposed, by chain and result (recorded, refused).",
		}, []string{"chain", "result"}),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "aerolith", Subsystem: "billing_payments", Name: "verify_errors_total",
			Help: "Chain reads of the payment watcher that failed (RPC errors, timeouts); retried next pass.",
		}),
	}
	for _, v := range cfg.Verifiers {
		if _, dup := w.verifiers[v.Chain()]; dup {
			return nil, fmt.Errorf("payment watcher: two verifiers for %s", v.Chain())
		}
		w.verifiers[v.Chain()] = v
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{w.recorded, w.errs} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return w, nil
}

// Open starts the loop. It returns at once.
func (w *PaymentWatcher) Open(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel != nil {
		return errors.New("payment watcher: already open")
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go w.loop(ctx)
	return nil
}

// Close stops the loop and waits for a pass in progress. Idempotent.
func (w *PaymentWatcher) Close() error {
	w.mu.Lock()
	cancel, done := w.cancel, w.done
	w.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	return nil
}

func (w *PaymentWatcher) loop(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !w.cfg.Store.IsLeader() || !w.cfg.Store.Ready() {
			continue
		}
		if err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("payment watcher pass incomplete; retrying next tick", "err", err)
		}
	}
}

// RunOnce makes one pass over the pending intents, leader or not (the
// loop checks that; tests call it directly). It returns the first error
// (a chain or store read); the other intents are still looked at.
func (w *PaymentWatcher) RunOnce(ctx context.Context) error {
	var pending []ledger.PaymentIntent
	if err := w.cfg.Store.View(ctx, store.Stale, func(tx *bolt.Tx) (err error) {
		pending, err = ledger.PendingPaymentIntents(tx)
		return err
	}); err != nil {
		return err
	}
	var first error
	for _, p := range pending {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := w.watch(ctx, p); err != nil {
			w.errs.Inc()
			w.log.Warn("payment intent not checked", "intent", p.ID, "chain", p.Chain, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// watch checks one intent.
func (w *PaymentWatcher) watch(ctx context.Context, p ledger.PaymentIntent) error {
	v := w.verifiers[p.Chain]
	if v == nil {
		return nil
	}
	if now := w.cfg.Now(); now.After(p.MonitorUntil.Add(w.cfg.Slack)) {
		// Long over: a transfer inside the window has had the slack to
		// finalize. Stop watching (the ledger keeps what was paid).
		_, err := propose(ctx, w.cfg.Store, ledger.ExpirePaymentIntent{Header: ledger.Header{Time: now.UnixNano(), Actor: PaymentWatcherActor}, IntentID: p.ID})
		var le *ledger.Error
		if errors.As(err, &le) {
			w.log.Warn("payment intent expiry refused", "intent", p.ID, "err", err)
			return nil
		}
		return err
	}
	vctx, cancel := context.WithTimeout(ctx, w.cfg.VerifyTimeout)
	obs, err := v.Verify(vctx, p.Intent)
	cancel()
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, t := range p.Transfers {
		known[t.TxID] = true
	}
	for _, ob := range obs {
		if known[ob.TxID] || payment.Assess(p.Intent, ob).Status == payment.StatusPending {
			continue
		}
		cmd := ledger.RecordChainPayment{Header: ledger.Header{Time: w.cfg.Now().UnixNano(), Actor: PaymentWatcherActor}, IntentID: p.ID, Observation: ob}
		res, err := propose(ctx, w.cfg.Store, cmd)
		var le *ledger.Error
		switch {
		case errors.As(err, &le):
			// Typically the transaction already settled another intent
			// (a reused reference): the ledger said so; keep going.
			w.recorded.WithLabelValues(string(p.Chain), "refused").Inc()
			w.log.Warn("chain transfer refused by the ledger", "intent", p.ID, "tx", ob.TxID, "err", err)
			continue
		case err != nil:
			return err
		}
		w.recorded.WithLabelValues(string(p.Chain), "recorded").Inc()
		if pi := res.PaymentIntent; pi != nil {
			w.log.Info("chain transfer recorded", "intent", p.ID, "tx", ob.TxID, "status", pi.Status, "invoice", p.InvoiceID)
		}
	}
	return nil
}
