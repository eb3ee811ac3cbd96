// Package backoff is the one capped exponential backoff of Aerolith's
// retry loops (the API clients, the usage meter, the managed agent's
// enrollment, the store's discovery and join, the local provisioner's
// restarts), so that their schedules are computed and tested in one place.
//
// The n-th consecutive failure (1-based) waits d = Min·2^(n-1), capped at
// Max, drawn uniformly from [d/2, d] ("equal jitter": retries of many
// clients spread out, yet each wait stays within a factor of two of the
// schedule, so a bound on attempts is also a bound on time).
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is a capped exponential schedule. The zero Max means no cap
// beyond Min; a Max below Min is treated as Min.
type Policy struct {
	Min, Max time.Duration
}

// Cap returns the un-jittered delay after the n-th consecutive failure
// (n >= 1; smaller n counts as 1): Min·2^(n-1), capped at Max.
func (p Policy) Cap(n int) time.Duration {
	hi := max(p.Max, p.Min)
	d := p.Min
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// Delay returns the jittered delay after the n-th consecutive failure:
// Cap(n)/2 plus r times the other half, for r in [0, 1).
func (p Policy) Delay(n int, r float64) time.Duration {
	d := p.Cap(n)
	half := d / 2
	return half + time.Duration(r*float64(d-half))
}

// Jittered is Delay with r drawn from math/rand/v2.
func (p Policy) Jittered(n int) time.Duration { return p.Delay(n, rand.Float64()) }

// Backoff counts the consecutive failures of one retry loop. It is not
// safe for concurrent use; each loop owns its own.
type Backoff struct {
	Policy
	// Rand draws r in [0, 1) for Delay; nil means math/rand/v2.
	Rand func() float64
	n    int
}

// New returns a Backoff over [lo, hi] with no failures counted.
func New(lo, hi time.Duration) *Backoff { return &Backoff{Policy: Policy{Min: lo, Max: hi}} }

// Next counts one more failure and returns the wait before the next
// attempt.
func (b *Backoff) Next() time.Duration {
	b.n++
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	return b.Delay(b.n, r())
}

// Attempt is the number of failures counted since New or the last Reset.
func (b *Backoff) Attempt() int { return b.n }

// Reset starts the schedule over after a success.
func (b *Backoff) Reset() { b.n = 0 }

// Wait counts one more failure and sleeps its delay, returning early with
// ctx's error when ctx ends first.
func (b *Backoff) Wait(ctx context.Context) error { return Sleep(ctx, b.Next()) }

// Sleep waits d, or returns ctx's error when ctx ends first (at once when
// ctx has already ended, even for d <= 0).
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
