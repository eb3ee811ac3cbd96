package api

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/payment"
)

// Defaults of CheckoutConfig.
const (
	DefaultCheckoutProbeInterval = 5 * time.Second
	DefaultCheckoutProbeTimeout  = 10 * time.Second
)

// Bounds of the probe: anonymous pollers must not turn into unbounded
// chain reads. At most maxProbeReads reads run at once (a poll that finds
// them busy gets the last answer), and at most maxProbeEntries intents
// are remembered (stale ones are dropped first).
const (
	maxProbeReads   = 4
	maxProbeEntries = 10_000
)

// checkoutProbe answers whether the chain shows a transfer for an intent
// that the ledger has not recorded yet, reading the chain at most once per
// interval per intent, whatever the number of pollers. Safe for
// concurrent use.
type checkoutProbe struct {
	verifiers map[payment.Chain]payment.Verifier
	every     time.Duration
	timeout   time.Duration
	log       *slog.Logger
	sem       chan struct{}

	mu      sync.Mutex
	entries map[string]*probeEntry
}

type probeEntry struct {
	at         time.Time // when the last read finished (zero: never)
	busy       bool
	confirming bool
}

// newCheckoutProbe returns nil when no chain can be read.
func newCheckoutProbe(cfg CheckoutConfig, log *slog.Logger) *checkoutProbe {
	if len(cfg.Verifiers) == 0 {
		return nil
	}
	p := &checkoutProbe{verifiers: map[payment.Chain]payment.Verifier{}, every: cfg.ProbeInterval, timeout: cfg.ProbeTimeout,
		log: log, sem: make(chan struct{}, maxProbeReads), entries: map[string]*probeEntry{}}
	if p.every <= 0 {
		p.every = DefaultCheckoutProbeInterval
	}
	if p.timeout <= 0 {
		p.timeout = DefaultCheckoutProbeTimeout
	}
	for _, v := range cfg.Verifiers {
		p.verifiers[v.Chain()] = v
	}
	return p
}

// confirming reports whether the chain shows a transfer tied to pi that is
// neither recorded on it nor failed nor rejected: one on its way to being
// recorded. A chain read error keeps the previous answer.
func (c *checkoutProbe) confirming(ctx context.Context, pi ledger.PaymentIntent, now time.Time) bool {
	v := c.verifiers[pi.Chain]
	if v == nil {
		return false
	}
	c.mu.Lock()
	e := c.entries[pi.ID]
	if e == nil {
		c.prune(now)
		e = &probeEntry{}
		c.entries[pi.ID] = e
	}
	if e.busy || (!e.at.IsZero() && now.Sub(e.at) < c.every) {
		ans := e.confirming
		c.mu.Unlock()
		return ans
	}
	select {
	case c.sem <- struct{}{}:
	default:
		ans := e.confirming
		c.mu.Unlock()
		return ans
	}
	e.busy = true
	c.mu.Unlock()

	ans, ok := c.read(ctx, v, pi)
	<-c.sem
	c.mu.Lock()
	defer c.mu.Unlock()
	e.busy = false
	if ok {
		e.at, e.confirming = now, ans
	}
	return e.confirming
}

func (c *checkoutProbe) read(ctx context.Context, v payment.Verifier, pi ledger.PaymentIntent) (bool, bool) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	obs, err := v.Verify(ctx, pi.Intent)
	if err != nil {
		c.log.Debug("checkout: chain read failed", "intent", pi.ID, "err", err)
		return false, false
	}
	recorded := map[string]bool{}
	for _, t := range pi.Transfers {
		recorded[t.TxID] = true
	}
	for _, ob := range obs {
		if !recorded[ob.TxID] && !ob.Failed && ob.Rejected == "" {
			return true, true
		}
	}
	return false, true
}

// prune drops the entries not read for a while once the map is full, and
// all of them if that is not enough. Called with mu held.
func (c *checkoutProbe) prune(now time.Time) {
	if len(c.entries) < maxProbeEntries {
		return
	}
	for id, e := range c.entries {
		if !e.busy && now.Sub(e.at) > c.every {
			delete(c.entries, id)
		}
	}
	if len(c.entries) >= maxProbeEntries {
		for id, e := range c.entries {
			if !e.busy {
				delete(c.entries, id)
			}
		}
	}
}
