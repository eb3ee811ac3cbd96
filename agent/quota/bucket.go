package quota

import "time"

// bucket is a token bucket implemented as GCRA: tat is the theoretical
// arrival time of the next request at the sustained rate; a request at now
// conforms when tat-now <= tau, where tau = (burst-1)×interval. All times
// are nanoseconds on the Enforcer's clock (Unix nanoseconds).
type bucket struct {
	interval int64 // ns between tokens at the sustained rate, rounded up
	tau      int64 // burst tolerance: (burst-1)×interval
	tat      int64 // theoretical arrival time
}

// newBucket makes a full bucket admitting limit per period with the given
// burst. limit and burst must be positive.
func newBucket(limit int64, period time.Duration, burst int64) bucket {
	var b bucket
	b.configure(limit, period, burst, 0)
	return b
}

// configure sets the rate, keeping what the bucket owes (tat-now) scaled
// to the new interval so a rebalance neither refills nor forgets.
func (b *bucket) configure(limit int64, period time.Duration, burst int64, now int64) {
	p := int64(period)
	interval := (p + limit - 1) / limit // ceil: never faster than limit/period
	if interval < 1 {
		interval = 1
	}
	if burst < 1 {
		burst = 1
	}
	if b.interval > 0 && b.tat > now {
		owed := b.tat - now
		// owed/old = tokens in use; scale to the new interval. Split the
		// product to stay inside int64 for day-long periods.
		tokens, rem := owed/b.interval, owed%b.interval
		b.tat = now + tokens*interval + rem*interval/b.interval
	}
	b.interval = interval
	b.tau = (burst - 1) * interval
}

// wait returns how long a request at now must wait to conform (0 when it
// conforms now).
func (b *bucket) wait(now int64) int64 {
	tat := b.tat
	if tat < now {
		tat = now
	}
	if w := tat - b.tau - now; w > 0 {
		return w
	}
	return 0
}

// take consumes one token at now (the request may have waited: the token
// is the next one due).
func (b *bucket) take(now int64) {
	if b.tat < now {
		b.tat = now
	}
	b.tat += b.interval
}
