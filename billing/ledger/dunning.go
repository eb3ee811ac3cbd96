package ledger

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Cycle is the billing cycle: a calendar month in UTC when Every is zero,
// otherwise consecutive spans of Every (whole seconds, at least one)
// aligned to the Unix epoch, e.g. 1h for demos and tests.
type Cycle struct {
	Every time.Duration
}

// ParseCycle parses "month" (or "") or a Go duration such as "1h".
func ParseCycle(s string) (Cycle, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "month", "monthly", "1mo":
		return Cycle{}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return Cycle{}, fmt.Errorf("period: %q is neither \"month\" nor a duration such as 1h", s)
	}
	c := Cycle{Every: d}
	if d <= 0 {
		return Cycle{}, fmt.Errorf("period: %s must be at least 1s", d)
	}
	if err := c.Validate(); err != nil {
		return Cycle{}, err
	}
	return c, nil
}

// Validate checks Every.
func (c Cycle) Validate() error {
	if c.Every != 0 && (c.Every < time.Second || c.Every%time.Second != 0) {
		return fmt.Errorf("period: %s must be whole seconds, at least 1s", c.Every)
	}
	return nil
}

func (c Cycle) String() string {
	if c.Every == 0 {
		return "month"
	}
	return c.Every.String()
}

// Containing returns the cycle [start, end) holding t.
func (c Cycle) Containing(t time.Time) (start, end time.Time) {
	t = t.UTC()
	if c.Every == 0 {
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	}
	every := int64(c.Every / time.Second)
	s := t.Unix()
	s -= ((s % every) + every) % every
	return secTime(s), secTime(s + every)
}

// DraftDue is a tenant period that has ended without an invoice.
type DraftDue struct {
	Tenant      string
	PeriodStart time.Time
	PeriodEnd   time.Time
	CycleStart  time.Time
	CycleEnd    time.Time
}

// Command returns the CloseDraft that bills d.
func (d DraftDue) Command(h Header) CloseDraft {
	return CloseDraft{Header: h, Tenant: d.Tenant,
		PeriodStart: d.PeriodStart.UnixNano(), PeriodEnd: d.PeriodEnd.UnixNano(),
		CycleStart: d.CycleStart.UnixNano(), CycleEnd: d.CycleEnd.UnixNano()}
}

// maxDuePerTenant bounds the periods DueForDraft lists per tenant in one
// call; the scheduler calls again after closing them.
const maxDuePerTenant = 100

// DueForDraft lists, for every tenant, the periods ended by now that have
// no invoice yet, oldest first: the first starts at the tenant's creation
// (whole seconds), each next one where the previous ended; each ends at the
// end of its cycle, or at the tenant's deletion. Close them in the listed
// order (CloseDraft requires contiguous periods). A deleted tenant gets its
// final, partial period and nothing after.
func DueForDraft(tx *bolt.Tx, now time.Time, c Cycle) ([]DraftDue, error) {
	if err := c.Validate(); err != nil {
		return nil, invalidf("%v", err)
	}
	out := []DraftDue{}
	err := eachTenant(tx, func(t *Tenant) error {
		start := nextPeriodStart(t)
		stop := billableEnd(t)
		for n := 0; n < maxDuePerTenant; n++ {
			if !stop.IsZero() && !start.Before(stop) {
				break
			}
			cs, ce := c.Containing(start)
			end := ce
			if !stop.IsZero() && stop.Before(end) {
				end = stop
			}
			if end.After(now) {
				break
			}
			out = append(out, DraftDue{Tenant: t.ID, PeriodStart: start, PeriodEnd: end, CycleStart: cs, CycleEnd: ce})
			start = end
		}
		return nil
	})
	return out, err
}

// DueForFinalize lists the drafts whose period ended at least grace before
// now (late usage is accepted into a draft during its grace), oldest
// period first.
func DueForFinalize(tx *bolt.Tx, now time.Time, grace time.Duration) ([]Invoice, error) {
	out := []Invoice{}
	err := eachIndexed(tx, bDrafts, func(inv *Invoice) {
		if !inv.PeriodEnd.Add(grace).After(now) {
			out = append(out, *inv)
		}
	})
	slices.SortFunc(out, func(a, b Invoice) int {
		if c := a.PeriodStart.Compare(b.PeriodStart); c != 0 {
			return c
		}
		return strings.Compare(a.Tenant, b.Tenant)
	})
	return out, err
}

// TenantInvoice names an invoice of a tenant, for the dunning scheduler.
type TenantInvoice struct {
	Tenant         string
	InvoiceID      string
	DueAt          time.Time
	AmountDueCents int64
}

// Overdue lists the open invoices of active tenants that are past due by
// more than grace at now (by tenant, then due date), leaving out those a
// manual resumption waived (Tenant.DunningWaived). The scheduler proposes
// SuspendTenant{Reason: ReasonDunning} for each tenant listed.
func Overdue(tx *bolt.Tx, now time.Time, grace time.Duration) ([]TenantInvoice, error) {
	out := []TenantInvoice{}
	tenants := map[string]*Tenant{}
	var ferr error
	err := eachIndexed(tx, bOpen, func(inv *Invoice) {
		if !now.After(inv.DueAt.Add(grace)) || ferr != nil {
			return
		}
		t, ok := tenants[inv.Tenant]
		if !ok {
			var e *Error
			if t, e = loadTenant(tx, inv.Tenant); e != nil {
				ferr = e
				return
			}
			tenants[inv.Tenant] = t
		}
		if t.Status == StatusActive && !slices.Contains(t.DunningWaived, inv.ID) {
			out = append(out, TenantInvoice{Tenant: inv.Tenant, InvoiceID: inv.ID, DueAt: inv.DueAt, AmountDueCents: inv.AmountDueCents})
		}
	})
	if err == nil {
		err = ferr
	}
	slices.SortFunc(out, func(a, b TenantInvoice) int {
		if c := strings.Compare(a.Tenant, b.Tenant); c != 0 {
			return c
		}
		return a.DueAt.Compare(b.DueAt)
	})
	return out, err
}

// eachIndexed calls fn for every invoice listed in index bucket name.
func eachIndexed(tx *bolt.Tx, name []byte, fn func(*Invoice)) error {
	b := tx.Bucket(name)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, _ []byte) error {
		inv, e := loadInvoice(tx, string(k))
		if e != nil {
			return e
		}
		fn(inv)
		return nil
	})
}

// eachTenant calls fn for every tenant in id order.
func eachTenant(tx *bolt.Tx, fn func(*Tenant) error) error {
	b := tx.Bucket(bTenants)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		var t Tenant
		if err := json.Unmarshal(v, &t); err != nil {
			return internalf("corrupt tenant %q: %v", k, err)
		}
		return fn(&t)
	})
}
