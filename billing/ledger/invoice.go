package ledger

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/rating"
	"github.com/aerolithdb/aerolith/billing/tier"
)

// basis is the stored rating basis of an invoice: how its period splits
// into tier segments, and, once finalized, what usage and how many cents
// it has billed for its period (updated when late usage is billed on a
// later invoice).
type basis struct {
	Segments []segment `json:"segments"`
	// Finalized: Usage and RatedCents below are what has been billed.
	Finalized bool       `json:"finalized"`
	Usage     []Counters `json:"usage,omitempty"` // per segment
	// RatedCents is the cents billed for the period's usage and base fees:
	// the invoice's base and overage lines plus every late-usage
	// adjustment since billed for this period on later invoices.
	RatedCents int64 `json:"rated_cents"`
}

// segment is a span of an invoice period on one tier.
type segment struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// UsageFrom is the first usage bucket (Unix s) counted: Start, or 0 for
	// the first segment of a tenant's first invoice, which bills every
	// earlier usage too.
	UsageFrom int64     `json:"usage_from"`
	Tier      tier.Tier `json:"tier"` // snapshot taken when the draft was closed
}

func loadBasis(tx *bolt.Tx, id string) (*basis, *Error) {
	var b basis
	ok, e := getJSON(tx, bBasis, []byte(id), &b)
	if e != nil {
		return nil, e
	}
	if !ok {
		return nil, internalf("invoice %q has no rating basis", id)
	}
	return &b, nil
}

// segmentsFor splits [start, end) by the tenant's tier history.
func segmentsFor(t *Tenant, start, end time.Time, first bool, cat tier.Catalog) ([]segment, *Error) {
	type cut struct {
		at   time.Time
		tier string
	}
	if len(t.TierHistory) == 0 {
		return nil, internalf("tenant %q has no tier history", t.ID)
	}
	var cuts []cut
	cur := t.TierHistory[0].Tier
	for _, h := range t.TierHistory {
		from := truncSec(h.From)
		if !from.After(start) {
			cur = h.Tier
			continue
		}
		if from.Before(end) {
			cuts = append(cuts, cut{from, h.Tier})
		}
	}
	var segs []segment
	s, name := start, cur
	flush := func(until time.Time) *Error {
		if !until.After(s) {
			return nil
		}
		def, ok := cat.Get(name)
		if !ok {
			return internalf("tenant %q: tier %q is not in the catalog", t.ID, name)
		}
		from := s.Unix()
		if first && len(segs) == 0 {
			from = 0
		}
		segs = append(segs, segment{Start: s, End: until, UsageFrom: from, Tier: def})
		return nil
	}
	for _, c := range cuts {
		if e := flush(c.at); e != nil {
			return nil, e
		}
		if c.at.After(s) {
			s = c.at
		}
		name = c.tier
	}
	if e := flush(end); e != nil {
		return nil, e
	}
	return segs, nil
}

// sumUsage adds up tenant's usage buckets starting in [from, to) (Unix s).
func sumUsage(tx *bolt.Tx, tenant string, from, to int64) (Counters, *Error) {
	var sum Counters
	b := tx.Bucket(bUsage)
	if b == nil || to <= from {
		return sum, nil
	}
	end := tkey(tenant, uint64(to))
	c := b.Cursor()
	for k, v := c.Seek(tkey(tenant, uint64(max(from, 0)))); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
		u, ok := decodeCounters(v)
		if !ok {
			return sum, internalf("corrupt usage bucket %q", k)
		}
		saturatingAdd(&sum, u) // RatingUsage reports a sum beyond int64
	}
	return sum, nil
}

// rateSegments rates the period's usage as it stands, per segment.
func rateSegments(tx *bolt.Tx, inv *Invoice, b *basis) (rating.Lines, []Counters, int64, *Error) {
	var lines rating.Lines
	usage := make([]Counters, len(b.Segments))
	for i, s := range b.Segments {
		u, e := sumUsage(tx, inv.Tenant, s.UsageFrom, s.End.Unix())
		if e != nil {
			return nil, nil, 0, e
		}
		usage[i] = u
		ru, err := u.RatingUsage()
		if err != nil {
			return nil, nil, 0, invalidf("invoice %s: %v", inv.ID, err)
		}
		ls, err := rating.Rate(s.Tier, ru, rating.Period{Start: s.Start, End: s.End, CycleStart: inv.CycleStart, CycleEnd: inv.CycleEnd})
		if err != nil {
			return nil, nil, 0, invalidf("invoice %s: rating %s to %s: %v", inv.ID, s.Start.Format(time.RFC3339), s.End.Format(time.RFC3339), err)
		}
		lines = append(lines, ls...)
	}
	cents, err := lines.TotalCents()
	if err != nil {
		return nil, nil, 0, invalidf("invoice %s: %v", inv.ID, err)
	}
	return lines, usage, cents, nil
}

// trueUp is a late-usage adjustment for an earlier finalized invoice.
type trueUp struct {
	key   []byte // bDirty key
	id    string
	basis *basis
	usage []Counters
	cents int64
	line  rating.Line
	void  bool // the invoice was voided since: nothing to bill
}

// trueUps computes the adjustments for every finalized invoice of tenant
// that received late usage since it was billed.
func trueUps(tx *bolt.Tx, tenant string) ([]trueUp, *Error) {
	b := tx.Bucket(bDirty)
	if b == nil {
		return nil, nil
	}
	var out []trueUp
	prefix := tprefix(tenant)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		id := string(v)
		tu := trueUp{key: bytes.Clone(k), id: id}
		inv, e := loadInvoice(tx, id)
		if e != nil {
			return nil, e
		}
		if inv.Status == InvoiceVoid {
			tu.void = true
			out = append(out, tu)
			continue
		}
		bs, e := loadBasis(tx, id)
		if e != nil {
			return nil, e
		}
		_, usage, cents, e := rateSegments(tx, inv, bs)
		if e != nil {
			return nil, e
		}
		delta := cents - bs.RatedCents
		if delta > math.MaxInt64/10000 || delta < -math.MaxInt64/10000 {
			return nil, invalidf("invoice %s: late usage adjustment out of range", id)
		}
		line, err := rating.Adjustment(lateDescription(inv, bs, usage), rating.Micros(delta*10000))
		if err != nil {
			return nil, invalidf("invoice %s: %v", id, err)
		}
		tu.basis, tu.usage, tu.cents, tu.line = bs, usage, cents, line
		out = append(out, tu)
	}
	return out, nil
}

// lateDescription describes the late usage of an invoice's period.
func lateDescription(inv *Invoice, b *basis, usage []Counters) string {
	var late Counters
	lf := late.fields()
	for i := range usage {
		nf := usage[i].fields()
		var of [7]*uint64
		if i < len(b.Usage) {
			of = b.Usage[i].fields()
		}
		for j := range lf {
			old := uint64(0)
			if of[j] != nil {
				old = *of[j]
			}
			if *nf[j] > old {
				*lf[j] += *nf[j] - old
			}
		}
	}
	var parts []string
	for i, f := range lf {
		if *f > 0 {
			parts = append(parts, fmt.Sprintf("%s +%d", counterNames[i], *f))
		}
	}
	return fmt.Sprintf("Late usage for %s to %s (invoice %s): %s",
		day(inv.PeriodStart), day(inv.PeriodEnd), inv.ID, strings.Join(parts, ", "))
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// computed is an invoice's figures as rated now.
type computed struct {
	lines    rating.Lines
	usage    []Counters
	rated    int64 // cents of the period's own lines
	trueUps  []trueUp
	subtotal int64
	credit   int64 // CreditAppliedCents
}

// compute rates inv (a draft) as of now: its period's usage, late-usage
// adjustments of earlier invoices, and the tenant's credit balance.
func compute(tx *bolt.Tx, inv *Invoice, t *Tenant, b *basis) (*computed, *Error) {
	lines, usage, rated, e := rateSegments(tx, inv, b)
	if e != nil {
		return nil, e
	}
	out := &computed{lines: lines, usage: usage, rated: rated}
	tus, e := trueUps(tx, inv.Tenant)
	if e != nil {
		return nil, e
	}
	out.trueUps = tus
	for _, tu := range tus {
		if !tu.void {
			out.lines = append(out.lines, tu.line)
		}
	}
	sub, err := out.lines.TotalCents()
	if err != nil {
		return nil, invalidf("invoice %s: %v", inv.ID, err)
	}
	out.subtotal = sub
	switch {
	case sub > 0 && t.CreditCents > 0:
		out.credit = min(sub, t.CreditCents)
		out.lines = append(out.lines, creditLine("Credit balance applied", -out.credit))
	case sub < 0:
		out.credit = sub
		out.lines = append(out.lines, creditLine("Negative balance moved to credit", -sub))
	}
	return out, nil
}

func creditLine(desc string, cents int64) rating.Line {
	return rating.Line{Kind: LineCredit, Description: desc, Unit: "credit", Amount: rating.Micros(cents * 10000), Cents: cents}
}

// apply copies computed figures into inv.
func (c *computed) apply(inv *Invoice) {
	inv.Lines = c.lines
	inv.SubtotalCents = c.subtotal
	inv.CreditAppliedCents = c.credit
	inv.TotalCents = c.subtotal - c.credit
	inv.AmountDueCents = inv.TotalCents - inv.AmountPaidCents
}

func (a *applier) closeDraft(c CloseDraft) Result {
	if e := checkID("tenant", c.Tenant); e != nil {
		return Result{Err: e}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"period_start", c.PeriodStart}, {"period_end", c.PeriodEnd}, {"cycle_start", c.CycleStart}, {"cycle_end", c.CycleEnd}} {
		if e := checkWholeSeconds(f.name, f.v); e != nil {
			return Result{Err: e}
		}
	}
	start, end := unixTime(c.PeriodStart), unixTime(c.PeriodEnd)
	cs, ce := unixTime(c.CycleStart), unixTime(c.CycleEnd)
	switch {
	case !end.After(start):
		return Result{Err: invalidf("period_end: %s is not after period_start %s", stamp(end), stamp(start))}
	case start.Before(cs) || end.After(ce):
		return Result{Err: invalidf("period: %s to %s is not inside the cycle %s to %s", stamp(start), stamp(end), stamp(cs), stamp(ce))}
	}
	t, e := loadTenant(a.tx, c.Tenant)
	if e != nil {
		return Result{Err: e}
	}
	id := InvoiceID(t.ID, start)
	if inv, e := loadInvoice(a.tx, id); e == nil {
		if e := refreshDraft(a.tx, inv); e != nil {
			return Result{Err: e}
		}
		return Result{Unchanged: true, Invoice: inv}
	} else if e.Code != CodeNotFound {
		return Result{Err: e}
	}
	next := nextPeriodStart(t)
	switch {
	case start.Before(next):
		return Result{Err: conflictf("period_start: %s overlaps tenant %q's invoiced periods (billed through %s)", stamp(start), t.ID, stamp(next))}
	case start.After(next):
		return Result{Err: invalidf("period_start: %s leaves a gap: tenant %q's next period starts %s", stamp(start), t.ID, stamp(next))}
	}
	if be := billableEnd(t); !be.IsZero() && end.After(be) {
		return Result{Err: invalidf("period_end: %s is after tenant %q's deletion at %s", stamp(end), t.ID, stamp(be))}
	}
	if end.After(a.now()) {
		return Result{Err: statef("period_end: %s has not passed yet (now %s)", stamp(end), stamp(a.now()))}
	}
	cat, e := loadCatalog(a.tx)
	if e != nil {
		return Result{Err: e}
	}
	segs, e := segmentsFor(t, start, end, t.BilledThrough.IsZero(), cat)
	if e != nil {
		return Result{Err: e}
	}
	inv := &Invoice{
		ID: id, Tenant: t.ID, Status: InvoiceDraft, Currency: "usd",
		PeriodStart: start, PeriodEnd: end, CycleStart: cs, CycleEnd: ce,
		CreatedAt: a.now(),
	}
	b := &basis{Segments: segs}
	cp, e := compute(a.tx, inv, t, b)
	if e != nil {
		return Result{Err: e}
	}
	cp.apply(inv)
	putJSON(a.tx, bBasis, []byte(id), b)
	saveInvoice(a.tx, inv)
	t.BilledThrough = end
	pruneHistory(t)
	saveTenant(a.tx, t)
	a.audit(t.ID, "invoice", id, "invoice.drafted", map[string]string{
		"period_start": stamp(start), "period_end": stamp(end), "subtotal_cents": strconv.FormatInt(inv.SubtotalCents, 10),
	})
	return Result{Invoice: inv}
}

// pruneHistory drops tier history no future period needs: everything
// before the last change at or before BilledThrough.
func pruneHistory(t *Tenant) {
	keep := 0
	for i, h := range t.TierHistory {
		if !truncSec(h.From).After(t.BilledThrough) {
			keep = i
		}
	}
	t.TierHistory = t.TierHistory[keep:]
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (a *applier) finalize(c FinalizeInvoice) Result {
	inv, e := a.invoice(c.InvoiceID)
	if e != nil {
		return Result{Err: e}
	}
	switch inv.Status {
	case InvoiceOpen, InvoicePaid, InvoiceUncollectible:
		return Result{Unchanged: true, Invoice: inv}
	case InvoiceVoid:
		return Result{Err: statef("invoice %s is void and cannot be finalized", inv.ID)}
	}
	if c.DueAt <= 0 {
		return Result{Err: invalidf("due_at: required (Unix nanoseconds)")}
	}
	due := unixTime(c.DueAt)
	if due.Before(a.now()) {
		return Result{Err: invalidf("due_at: %s is before the finalization time %s", stamp(due), stamp(a.now()))}
	}
	t, e := loadTenant(a.tx, inv.Tenant)
	if e != nil {
		return Result{Err: e}
	}
	b, e := loadBasis(a.tx, inv.ID)
	if e != nil {
		return Result{Err: e}
	}
	cp, e := compute(a.tx, inv, t, b)
	if e != nil {
		return Result{Err: e}
	}
	newCredit := t.CreditCents - cp.credit
	if newCredit < 0 {
		return Result{Err: internalf("invoice %s: credit balance would go negative", inv.ID)}
	}

	// Write phase.
	cp.apply(inv)
	now := a.now()
	inv.Status = InvoiceOpen
	inv.FinalizedAt = now
	inv.DueAt = due
	if inv.AmountDueCents <= 0 {
		inv.Status = InvoicePaid
		inv.PaidAt = now
	}
	saveInvoice(a.tx, inv)
	b.Finalized, b.Usage, b.RatedCents = true, cp.usage, cp.rated
	putJSON(a.tx, bBasis, []byte(inv.ID), b)
	for _, tu := range cp.trueUps {
		del(a.tx, bDirty, tu.key)
		if tu.void {
			continue
		}
		tu.basis.Usage, tu.basis.RatedCents = tu.usage, tu.cents
		putJSON(a.tx, bBasis, []byte(tu.id), tu.basis)
	}
	if newCredit != t.CreditCents {
		t.CreditCents = newCredit
		t.UpdatedAt = now
		saveTenant(a.tx, t)
	}
	a.audit(t.ID, "invoice", inv.ID, "invoice.finalized", map[string]string{
		"total_cents": strconv.FormatInt(inv.TotalCents, 10), "credit_applied_cents": strconv.FormatInt(inv.CreditAppliedCents, 10),
		"due_at": stamp(due), "adjustments": strconv.Itoa(len(cp.trueUps)),
	})
	if inv.Status == InvoicePaid {
		a.audit(t.ID, "invoice", inv.ID, "invoice.paid", map[string]string{"total_cents": strconv.FormatInt(inv.TotalCents, 10)})
	}
	return Result{Invoice: inv}
}

// invoice validates an id and loads the invoice.
func (a *applier) invoice(id string) (*Invoice, *Error) {
	if e := checkID("invoice_id", id); e != nil {
		return nil, e
	}
	return loadInvoice(a.tx, id)
}

func (a *applier) void(c VoidInvoice) Result {
	inv, e := a.invoice(c.InvoiceID)
	if e != nil {
		return Result{Err: e}
	}
	if e := checkText("reason", c.Reason, maxTextLen, false); e != nil {
		return Result{Err: e}
	}
	switch inv.Status {
	case InvoiceVoid:
		return Result{Unchanged: true, Invoice: inv}
	case InvoicePaid:
		return Result{Err: statef("invoice %s is paid and cannot be voided", inv.ID)}
	}
	t, e := loadTenant(a.tx, inv.Tenant)
	if e != nil {
		return Result{Err: e}
	}
	past, e := pastDue(a.tx, t.ID, a.now())
	if e != nil {
		return Result{Err: e}
	}
	// Give back what the invoice took: payments, and credit it applied.
	refund := inv.AmountPaidCents + max(inv.CreditAppliedCents, 0)
	if inv.Status == InvoiceDraft {
		refund = 0
	}
	now := a.now()
	was := inv.Status
	inv.Status = InvoiceVoid
	inv.VoidedAt = now
	inv.StatusReason = c.Reason
	inv.AmountDueCents = 0
	saveInvoice(a.tx, inv)
	if refund > 0 {
		t.CreditCents += refund
		t.UpdatedAt = now
	}
	a.audit(t.ID, "invoice", inv.ID, "invoice.voided", map[string]string{
		"from": string(was), "reason": c.Reason, "credited_cents": strconv.FormatInt(refund, 10),
	})
	res := Result{Invoice: inv}
	if resumed := a.maybeResume(t, past, inv.ID, "invoice "+inv.ID+" voided; no invoice past due"); resumed || refund > 0 {
		saveTenant(a.tx, t)
		res.Tenant = t
	}
	return res
}

func (a *applier) markUncollectible(c MarkUncollectible) Result {
	inv, e := a.invoice(c.InvoiceID)
	if e != nil {
		return Result{Err: e}
	}
	if e := checkText("reason", c.Reason, maxTextLen, false); e != nil {
		return Result{Err: e}
	}
	switch inv.Status {
	case InvoiceUncollectible:
		return Result{Unchanged: true, Invoice: inv}
	case InvoiceOpen:
	default:
		return Result{Err: statef("invoice %s is %s; only an open invoice can be marked uncollectible", inv.ID, inv.Status)}
	}
	inv.Status = InvoiceUncollectible
	inv.UncollectibleAt = a.now()
	inv.StatusReason = c.Reason
	saveInvoice(a.tx, inv)
	a.audit(inv.Tenant, "invoice", inv.ID, "invoice.marked_uncollectible", map[string]string{
		"reason": c.Reason, "amount_due_cents": strconv.FormatInt(inv.AmountDueCents, 10),
	})
	return Result{Invoice: inv}
}

// GetInvoice returns an invoice, or ErrNotFound. A draft's lines and
// totals are recomputed from the usage recorded so far (a preview of what
// finalization would bill now).
func GetInvoice(tx *bolt.Tx, id string) (Invoice, error) {
	inv, e := loadInvoice(tx, id)
	if e != nil {
		return Invoice{}, e
	}
	if e := refreshDraft(tx, inv); e != nil {
		return Invoice{}, e
	}
	return *inv, nil
}

func refreshDraft(tx *bolt.Tx, inv *Invoice) *Error {
	if inv.Status != InvoiceDraft {
		return nil
	}
	t, e := loadTenant(tx, inv.Tenant)
	if e != nil {
		return e
	}
	b, e := loadBasis(tx, inv.ID)
	if e != nil {
		return e
	}
	cp, e := compute(tx, inv, t, b)
	if e != nil {
		return e
	}
	cp.apply(inv)
	return nil
}

// ListInvoices returns the invoices of tenant (every tenant's when tenant
// is ""), by tenant and period. Drafts are refreshed as in GetInvoice.
func ListInvoices(tx *bolt.Tx, tenant string) ([]Invoice, error) {
	out := []Invoice{}
	b := tx.Bucket(bTenantInv)
	if tenant != "" {
		if _, e := loadTenant(tx, tenant); e != nil {
			return nil, e
		}
	}
	if b == nil {
		return out, nil
	}
	c := b.Cursor()
	var prefix []byte
	if tenant != "" {
		prefix = tprefix(tenant)
	}
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(v) < 2 {
			return nil, internalf("corrupt invoice index entry %q", k)
		}
		inv, e := loadInvoice(tx, string(v[1:]))
		if e != nil {
			return nil, e
		}
		if e := refreshDraft(tx, inv); e != nil {
			return nil, e
		}
		out = append(out, *inv)
	}
	return out, nil
}
