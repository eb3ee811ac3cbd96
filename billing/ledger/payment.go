package ledger

import (
	"bytes"
	"math"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MaxPaymentCents bounds one payment (ten trillion dollars), which keeps
// every balance far from int64 overflow.
const MaxPaymentCents = 1_000_000_000_000_000

func (a *applier) recordPayment(c RecordPayment) Result {
	if e := checkID("payment_id", c.PaymentID); e != nil {
		return Result{Err: e}
	}
	switch {
	case c.AmountCents <= 0:
		return Result{Err: invalidf("amount_cents: must be positive (got %d)", c.AmountCents)}
	case c.AmountCents > MaxPaymentCents:
		return Result{Err: invalidf("amount_cents: %d exceeds the limit of %d", c.AmountCents, int64(MaxPaymentCents))}
	}
	if e := checkText("method", c.Method, 64, true); e != nil {
		return Result{Err: e}
	}
	if e := checkText("external_ref", c.ExternalRef, maxTextLen, true); e != nil {
		return Result{Err: e}
	}
	if e := checkText("note", c.Note, maxNoteLen, false); e != nil {
		return Result{Err: e}
	}
	var old Payment
	if ok, e := getJSON(a.tx, bPayments, []byte(c.PaymentID), &old); e != nil {
		return Result{Err: e}
	} else if ok {
		if old.ExternalRef == c.ExternalRef && old.AmountCents == c.AmountCents && old.InvoiceID == c.InvoiceID &&
			(c.Tenant == "" || c.Tenant == old.Tenant) && old.RecordedAt.Equal(a.now()) {
			return Result{Unchanged: true, Payment: &old}
		}
		return Result{Err: conflictf("payment_id: payment %q already exists", c.PaymentID)}
	}
	if id := get(a.tx, bPayRefs, []byte(c.ExternalRef)); id != nil {
		return Result{Err: conflictf("external_ref: %q is already recorded as payment %q", c.ExternalRef, id)}
	}

	var inv *Invoice
	tenantID := c.Tenant
	if c.InvoiceID != "" {
		var e *Error
		if inv, e = a.invoice(c.InvoiceID); e != nil {
			return Result{Err: e}
		}
		if tenantID != "" && tenantID != inv.Tenant {
			return Result{Err: invalidf("tenant_id: invoice %s belongs to tenant %q, not %q", inv.ID, inv.Tenant, tenantID)}
		}
		tenantID = inv.Tenant
		switch inv.Status {
		case InvoiceOpen, InvoiceUncollectible:
		case InvoiceDraft:
			return Result{Err: statef("invoice %s is a draft; finalize it before recording payments", inv.ID)}
		default:
			return Result{Err: statef("invoice %s is %s and accepts no payment (record it without invoice_id to credit the tenant)", inv.ID, inv.Status)}
		}
		if due := max(inv.AmountDueCents, 0); c.AmountCents > due && !c.Credit && !a.h.legacy {
			return Result{Err: invalidf("amount_cents: %d is more than the %d due on invoice %s; to keep the excess of %d as the tenant's credit, "+
				"say it is a prepayment (\"credit\": true; CLI: invoice pay --credit)", c.AmountCents, due, inv.ID, c.AmountCents-due)}
		}
	} else if tenantID == "" {
		return Result{Err: invalidf("tenant_id: required when invoice_id is not given")}
	}
	if e := checkID("tenant_id", tenantID); e != nil {
		return Result{Err: e}
	}
	t, e := loadTenant(a.tx, tenantID)
	if e != nil {
		return Result{Err: e}
	}
	past, e := pastDue(a.tx, t.ID, a.now())
	if e != nil {
		return Result{Err: e}
	}
	if t.CreditCents > math.MaxInt64-c.AmountCents {
		return Result{Err: invalidf("amount_cents: tenant %q's credit balance would overflow", t.ID)}
	}

	// Write phase.
	now := a.now()
	p := &Payment{
		ID: c.PaymentID, Tenant: t.ID, InvoiceID: c.InvoiceID, AmountCents: c.AmountCents,
		Method: c.Method, ExternalRef: c.ExternalRef, Note: c.Note, RecordedAt: now, RecordedBy: a.h.Actor,
	}
	res := Result{Payment: p}
	if inv != nil {
		p.AppliedCents = min(c.AmountCents, max(inv.AmountDueCents, 0))
		inv.AmountPaidCents += p.AppliedCents
		inv.AmountDueCents -= p.AppliedCents
		if inv.AmountDueCents <= 0 {
			inv.Status = InvoicePaid
			inv.PaidAt = now
		}
		saveInvoice(a.tx, inv)
		res.Invoice = inv
	}
	p.CreditedCents = c.AmountCents - p.AppliedCents
	putJSON(a.tx, bPayments, []byte(p.ID), p)
	put(a.tx, bPayRefs, []byte(p.ExternalRef), []byte(p.ID))
	put(a.tx, bTenantPays, append(tkey(t.ID, uint64(now.UnixNano())), p.ID...), present)
	a.audit(t.ID, "payment", p.ID, "payment.recorded", map[string]string{
		"amount_cents": strconv.FormatInt(p.AmountCents, 10), "applied_cents": strconv.FormatInt(p.AppliedCents, 10),
		"credited_cents": strconv.FormatInt(p.CreditedCents, 10), "invoice_id": p.InvoiceID,
		"method": p.Method, "external_ref": p.ExternalRef,
	})
	if inv != nil && inv.Status == InvoicePaid {
		a.audit(t.ID, "invoice", inv.ID, "invoice.paid", map[string]string{"amount_paid_cents": strconv.FormatInt(inv.AmountPaidCents, 10)})
	}
	changed := false
	if p.CreditedCents > 0 {
		source := "prepayment"
		if inv != nil {
			source = "overpayment of invoice " + inv.ID
		}
		a.audit(t.ID, "tenant", t.ID, "tenant.credited", map[string]string{
			"credited_cents": strconv.FormatInt(p.CreditedCents, 10), "payment_id": p.ID, "source": source,
			"credit_cents": strconv.FormatInt(t.CreditCents+p.CreditedCents, 10),
		})
		t.CreditCents += p.CreditedCents
		t.UpdatedAt = now
		changed = true
	}
	settled := ""
	if inv != nil && inv.Status == InvoicePaid {
		settled = inv.ID
	}
	resumed := a.maybeResume(t, past, settled, "payment "+p.ID+" cleared every invoice past due")
	if changed || resumed {
		saveTenant(a.tx, t)
		res.Tenant = t
	}
	return res
}

// maybeResume reactivates t (without saving it) when it is suspended for
// dunning and no open invoice of it is past due any more, apart from those
// waived by a manual resumption: past is what was past due before this
// command, settled the invoice it paid or voided.
func (a *applier) maybeResume(t *Tenant, past []*Invoice, settled, reason string) bool {
	if t.Status != StatusSuspended || t.SuspendReason != ReasonDunning {
		return false
	}
	for _, inv := range unwaived(t, past) {
		if inv.ID != settled {
			return false
		}
	}
	a.resume(t, reason, nil)
	return true
}

// pastDue returns tenant's open invoices due before now.
func pastDue(tx *bolt.Tx, tenant string, now time.Time) ([]*Invoice, *Error) {
	var out []*Invoice
	b := tx.Bucket(bTenantInv)
	if b == nil {
		return nil, nil
	}
	prefix := tprefix(tenant)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(v) < 2 || v[0] != invoiceStatusByte(InvoiceOpen) {
			continue
		}
		inv, e := loadInvoice(tx, string(v[1:]))
		if e != nil {
			return nil, e
		}
		if inv.Status == InvoiceOpen && inv.DueAt.Before(now) {
			out = append(out, inv)
		}
	}
	return out, nil
}

// GetPayment returns a payment, or ErrNotFound.
func GetPayment(tx *bolt.Tx, id string) (Payment, error) {
	var p Payment
	ok, e := getJSON(tx, bPayments, []byte(id), &p)
	if e != nil {
		return Payment{}, e
	}
	if !ok {
		return Payment{}, notFoundf("payment %q not found", id)
	}
	return p, nil
}

// Payments returns tenant's payments, oldest first; ErrNotFound for an
// unknown tenant.
func Payments(tx *bolt.Tx, tenant string) ([]Payment, error) {
	if _, e := loadTenant(tx, tenant); e != nil {
		return nil, e
	}
	out := []Payment{}
	b := tx.Bucket(bTenantPays)
	if b == nil {
		return out, nil
	}
	prefix := tprefix(tenant)
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) <= len(prefix)+8 {
			return nil, internalf("corrupt payment index entry %q", k)
		}
		p, err := GetPayment(tx, string(k[len(prefix)+8:]))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
