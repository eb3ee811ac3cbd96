package ledger

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// OpenPeriod is a tenant's billing period not yet invoiced: its draft is
// created when it ends (see DueForDraft).
type OpenPeriod struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// First is true for the tenant's first period (no invoice yet).
	First bool `json:"first"`
}

// CurrentPeriod returns tenant's period not yet invoiced under cycle c:
// from the end of its last invoice (its creation for the first) to the end
// of the cycle holding that start, or to its deletion. Its end may be
// before now while the scheduler has not drafted it yet. ErrNotFound for
// an unknown tenant; ErrState when a deleted tenant has nothing left to
// invoice.
func CurrentPeriod(tx *bolt.Tx, tenant string, c Cycle) (OpenPeriod, error) {
	t, e := loadTenant(tx, tenant)
	if e != nil {
		return OpenPeriod{}, e
	}
	start := nextPeriodStart(t)
	_, end := c.Containing(start)
	if stop := billableEnd(t); !stop.IsZero() {
		if !start.Before(stop) {
			return OpenPeriod{}, statef("tenant %q is deleted and fully invoiced", tenant)
		}
		if stop.Before(end) {
			end = stop
		}
	}
	return OpenPeriod{Start: start, End: end, First: t.BilledThrough.IsZero()}, nil
}
