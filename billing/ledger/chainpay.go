package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/payment"
)

// Chain payments: payment intents for an invoice (billing/payment.Intent)
// and the transfers seen on chain for them. A transfer is judged by
// payment.Assess inside the state machine (a pure function of the intent
// and the observation, so every replica reaches the same verdict); one
// that moves money is recorded through RecordPayment (method
// "<chain>-<token>", external ref "<chain>:<tx id>", excess credited), so
// partial payment, credit and resuming a tenant suspended for dunning work
// as for manual payments. A transaction id is recorded once ever, for one
// intent: the same transaction offered for another intent is ErrConflict.

// The kinds of the chain payment commands, set apart from the run in
// command.go like KindSetClusterCA (values are part of the log format).
const (
	KindCreatePaymentIntent Kind = 96
	KindRecordChainPayment  Kind = 97
	KindExpirePaymentIntent Kind = 98
)

// Buckets of chain payments.
var (
	bIntents        = []byte("ledger.payment_intents")        // intent id → PaymentIntent JSON
	bIntentRefs     = []byte("ledger.payment_intent_refs")    // chain \0 reference → intent id
	bTenantIntents  = []byte("ledger.tenant_payment_intents") // tenant \0 be64(created ns) intent id → ""
	bPendingIntents = []byte("ledger.pending_payment_intents")
	bChainTxs       = []byte("ledger.chain_txs") // chain:tx id → intent id
)

// Intent statuses.
const (
	IntentPending   = "pending"
	IntentUnderpaid = "underpaid"
	IntentPaid      = "paid"
	IntentOverpaid  = "overpaid"
	// IntentExpired: nothing was paid by the end of the monitoring window.
	IntentExpired = "expired"
)

// PaymentIntent is a stored payment intent and what was seen for it.
type PaymentIntent struct {
	payment.Intent
	// Status: pending (nothing settled yet), underpaid, paid, overpaid,
	// expired (nothing paid in the monitoring window).
	Status string `json:"status"`
	// PaidCents is the value of the transfers settled for the intent at
	// its quoted rate.
	PaidCents uint64 `json:"paid_cents"`
	// CreditedCents is the part of it that went to the tenant's credit.
	CreditedCents int64          `json:"credited_cents"`
	Transfers     []ChainPayment `json:"transfers"`
	CreatedBy     string         `json:"created_by"`
}

// ChainPayment is one transfer recorded for an intent, with its verdict.
type ChainPayment struct {
	payment.Observation
	Outcome payment.Outcome `json:"outcome"`
	// PaymentID is the ledger payment it was recorded as ("" when it
	// moved no money).
	PaymentID  string    `json:"payment_id,omitempty"`
	RecordedAt time.Time `json:"recorded_at"`
}

// CreatePaymentIntent stores a payment intent for an open (or
// uncollectible) invoice of the intent's tenant, for at most the amount
// due. Its reference is unique per chain (reuse is ErrConflict); the
// amount must be AmountCents at the quoted rate. Re-proposing an
// identical intent returns it with Result.Unchanged.
type CreatePaymentIntent struct {
	Header
	Intent payment.Intent
}

// RecordChainPayment records a transfer seen on chain for an intent: the
// state machine judges it with payment.Assess. A transfer that moves money
// (paid, underpaid, overpaid, late within the monitoring window) is
// recorded as a payment of the invoice, the excess credited (to the
// tenant's credit whole once the invoice needs nothing more); a rejected
// (wrong token, chain or recipient, after the monitoring window) or failed
// one is kept on the intent with its reason. A transfer that is not
// final is refused (ErrState). The same transaction recorded again for the
// same intent returns it unchanged; for another intent it is ErrConflict.
type RecordChainPayment struct {
	Header
	IntentID    string
	Observation payment.Observation
}

// ExpirePaymentIntent stops watching an intent whose monitoring window is
// over (Time after MonitorUntil, else ErrState): it leaves the pending set,
// and one with nothing paid becomes expired (an underpaid one stays
// underpaid; its invoice stays open). Transfers can still be recorded for
// it. Expiring an intent no longer pending returns it unchanged.
type ExpirePaymentIntent struct {
	Header
	IntentID string
}

// Kind methods.
func (CreatePaymentIntent) Kind() Kind { return KindCreatePaymentIntent }
func (RecordChainPayment) Kind() Kind  { return KindRecordChainPayment }
func (ExpirePaymentIntent) Kind() Kind { return KindExpirePaymentIntent }

func (c ExpirePaymentIntent) encode(e *encoder) { e.str(c.IntentID) }

func (c CreatePaymentIntent) encode(e *encoder) { e.bytes(mustJSON(c.Intent)) }
func (c RecordChainPayment) encode(e *encoder) {
	e.str(c.IntentID)
	e.bytes(mustJSON(c.Observation))
}

// mustJSON marshals the payment types, which always marshal.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("ledger: marshal %T: %v", v, err))
	}
	return b
}

// decodeChainPay decodes the chain payment commands (ok false for other
// kinds).
func decodeChainPay(k Kind, h Header, d *decoder) (Command, bool, error) {
	switch k {
	case KindCreatePaymentIntent:
		c := CreatePaymentIntent{Header: h}
		raw := d.span()
		if d.err == nil {
			if err := strictJSON(raw, &c.Intent); err != nil {
				return nil, true, fmt.Errorf("%s: intent: %w", k, err)
			}
		}
		return c, true, nil
	case KindRecordChainPayment:
		c := RecordChainPayment{Header: h, IntentID: d.str()}
		raw := d.span()
		if d.err == nil {
			if err := strictJSON(raw, &c.Observation); err != nil {
				return nil, true, fmt.Errorf("%s: observation: %w", k, err)
			}
		}
		return c, true, nil
	case KindExpirePaymentIntent:
		return ExpirePaymentIntent{Header: h, IntentID: d.str()}, true, nil
	}
	return nil, false, nil
}

func strictJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func chainPayKindName(k Kind) string {
	switch k {
	case KindCreatePaymentIntent:
		return "create_payment_intent"
	case KindRecordChainPayment:
		return "record_chain_payment"
	case KindExpirePaymentIntent:
		return "expire_payment_intent"
	}
	return ""
}

func (a *applier) createPaymentIntent(c CreatePaymentIntent) Result {
	in := c.Intent
	if err := payment.CheckIntentID(in.ID); err != nil {
		return Result{Err: invalidf("id: %v", err)}
	}
	if e := checkID("invoice_id", in.InvoiceID); e != nil {
		return Result{Err: e}
	}
	if e := checkID("tenant_id", in.TenantID); e != nil {
		return Result{Err: e}
	}
	switch {
	case in.Token.Chain() == "":
		return Result{Err: invalidf("token: %q is not accepted (SOL, USDC, TRX, USDT)", in.Token)}
	case in.Token.Chain() != in.Chain:
		return Result{Err: invalidf("chain: %s is paid on %s, not %q", in.Token, in.Token.Chain(), in.Chain)}
	case in.AmountCents == 0 || in.AmountCents > MaxPaymentCents:
		return Result{Err: invalidf("amount_cents: %d must be between 1 and %d", in.AmountCents, int64(MaxPaymentCents))}
	case !in.Rate.Valid():
		return Result{Err: invalidf("rate: %s must have both sides positive", in.Rate)}
	}
	if e := checkIntentAmount(a.tx, in); e != nil {
		return Result{Err: e}
	}
	for _, f := range []struct {
		name, v  string
		required bool
	}{{"recipient", in.Recipient, true}, {"reference", in.Reference, true}, {"memo", in.Memo, false}} {
		if e := checkText(f.name, f.v, maxTextLen, f.required); e != nil {
			return Result{Err: e}
		}
	}
	if in.Created.IsZero() || in.Expires.Before(in.Created) || in.MonitorUntil.Before(in.Expires) {
		return Result{Err: invalidf("times: want created ≤ expires ≤ monitor_until (got %s, %s, %s)", in.Created, in.Expires, in.MonitorUntil)}
	}
	var old PaymentIntent
	if ok, e := getJSON(a.tx, bIntents, []byte(in.ID), &old); e != nil {
		return Result{Err: e}
	} else if ok {
		if reflect.DeepEqual(normIntent(old.Intent), normIntent(in)) {
			return Result{Unchanged: true, PaymentIntent: &old}
		}
		return Result{Err: conflictf("id: payment intent %q already exists", in.ID)}
	}
	refKey := []byte(string(in.Chain) + "\x00" + in.Reference)
	if id := get(a.tx, bIntentRefs, refKey); id != nil {
		return Result{Err: conflictf("reference: %s is already the reference of payment intent %q", in.Reference, id)}
	}
	inv, e := a.invoice(in.InvoiceID)
	if e != nil {
		return Result{Err: e}
	}
	if inv.Tenant != in.TenantID {
		return Result{Err: invalidf("tenant_id: invoice %s belongs to tenant %q, not %q", inv.ID, inv.Tenant, in.TenantID)}
	}
	if inv.Status != InvoiceOpen && inv.Status != InvoiceUncollectible {
		return Result{Err: statef("invoice %s is %s and accepts no payment", inv.ID, inv.Status)}
	}
	if due := max(inv.AmountDueCents, 0); int64(in.AmountCents) > due {
		return Result{Err: invalidf("amount_cents: %d is more than the %d due on invoice %s", in.AmountCents, due, inv.ID)}
	}

	p := &PaymentIntent{Intent: normIntent(in), Status: IntentPending, Transfers: []ChainPayment{}, CreatedBy: a.h.Actor}
	putJSON(a.tx, bIntents, []byte(in.ID), p)
	put(a.tx, bIntentRefs, refKey, []byte(in.ID))
	put(a.tx, bTenantIntents, append(tkey(in.TenantID, uint64(in.Created.UnixNano())), in.ID...), present)
	put(a.tx, bPendingIntents, []byte(in.ID), present)
	a.audit(in.TenantID, "payment_intent", in.ID, "payment_intent.created", map[string]string{
		"invoice_id": in.InvoiceID, "chain": string(in.Chain), "token": string(in.Token),
		"amount_cents": strconv.FormatUint(in.AmountCents, 10), "amount": strconv.FormatUint(in.Amount, 10),
		"rate": in.Rate.String(), "reference": in.Reference,
	})
	return Result{PaymentIntent: p}
}

// normIntent puts an intent's times in UTC, as JSON gives them back.
func normIntent(in payment.Intent) payment.Intent {
	in.Created, in.Expires, in.MonitorUntil = in.Created.UTC(), in.Expires.UTC(), in.MonitorUntil.UTC()
	return in
}

func (a *applier) recordChainPayment(c RecordChainPayment) Result {
	if e := checkID("intent_id", c.IntentID); e != nil {
		return Result{Err: e}
	}
	var p PaymentIntent
	if ok, e := getJSON(a.tx, bIntents, []byte(c.IntentID), &p); e != nil {
		return Result{Err: e}
	} else if !ok {
		return Result{Err: notFoundf("payment intent %q not found", c.IntentID)}
	}
	ob := c.Observation
	ob.BlockTime = ob.BlockTime.UTC()
	if _, err := payment.ParseChain(string(ob.Chain)); err != nil || ob.Chain != payment.Chain(strings.ToLower(string(ob.Chain))) {
		return Result{Err: invalidf("chain: %q is not a chain (solana, tron)", ob.Chain)}
	}
	if e := checkText("tx_id", ob.TxID, maxTextLen, true); e != nil {
		return Result{Err: e}
	}
	if ob.Token != "" && ob.Token.Chain() == "" {
		return Result{Err: invalidf("token: %q is not a token (leave it empty for an unaccepted one)", ob.Token)}
	}
	if e := checkText("recipient", ob.Recipient, maxTextLen, false); e != nil {
		return Result{Err: e}
	}
	if e := checkText("rejected", ob.Rejected, maxNoteLen, false); e != nil {
		return Result{Err: e}
	}
	txKey := string(ob.Chain) + ":" + ob.TxID
	if id := get(a.tx, bChainTxs, []byte(txKey)); id != nil {
		if string(id) == p.ID {
			return Result{Unchanged: true, PaymentIntent: &p}
		}
		return Result{Err: conflictf("tx_id: transaction %s is already recorded for payment intent %q; a transaction settles one intent", ob.TxID, id)}
	}
	out := payment.Assess(p.Intent, ob)
	if out.Status == payment.StatusPending {
		return Result{Err: statef("transaction %s is not final (%s); only finalized transfers are recorded", ob.TxID, out.Reason)}
	}
	if out.ValueCents > MaxPaymentCents {
		return Result{Err: invalidf("amount: transaction %s is worth %d cents, over the limit of one payment", ob.TxID, out.ValueCents)}
	}
	now := a.now()
	cp := ChainPayment{Observation: ob, Outcome: out, RecordedAt: now}
	var res Result
	if out.Settles() && out.ValueCents > 0 {
		inv, e := a.invoice(p.InvoiceID)
		if e != nil {
			return Result{Err: e}
		}
		invoiceID := p.InvoiceID
		if (inv.Status != InvoiceOpen && inv.Status != InvoiceUncollectible) || inv.AmountDueCents <= 0 {
			// Paid meanwhile (another intent, a manual payment) or void:
			// the transfer is the tenant's credit, never lost.
			invoiceID = ""
		}
		sum := sha256.Sum256([]byte(txKey))
		note := fmt.Sprintf("payment intent %s: %s", p.ID, out.Status)
		if out.Late {
			note += ", late (after the quote expired), honoured at the quoted rate"
		}
		res = a.recordPayment(RecordPayment{
			Header: a.h, PaymentID: "cp_" + hex.EncodeToString(sum[:16]), Tenant: p.TenantID, InvoiceID: invoiceID,
			AmountCents: int64(out.ValueCents), Method: string(p.Chain) + "-" + strings.ToLower(string(p.Token)),
			ExternalRef: txKey, Note: note, Credit: true,
		})
		if res.Err != nil {
			return res
		}
		cp.PaymentID = res.Payment.ID
		p.PaidCents += out.ValueCents
		p.CreditedCents += res.Payment.CreditedCents
		switch {
		case p.PaidCents > p.AmountCents:
			p.Status = IntentOverpaid
		case p.PaidCents == p.AmountCents:
			p.Status = IntentPaid
		default:
			p.Status = IntentUnderpaid
		}
	}
	p.Transfers = append(p.Transfers, cp)
	putJSON(a.tx, bIntents, []byte(p.ID), &p)
	put(a.tx, bChainTxs, []byte(txKey), []byte(p.ID))
	if p.Status == IntentPaid || p.Status == IntentOverpaid {
		del(a.tx, bPendingIntents, []byte(p.ID))
	}
	details := map[string]string{"tx_id": ob.TxID, "outcome": string(out.Status), "value_cents": strconv.FormatUint(out.ValueCents, 10),
		"amount": strconv.FormatUint(ob.Amount, 10), "token": string(ob.Token), "status": p.Status}
	if out.Reason != "" {
		details["reason"] = out.Reason
	}
	if out.Late {
		details["late"] = "true"
	}
	a.audit(p.TenantID, "payment_intent", p.ID, "payment_intent.transfer", details)
	res.PaymentIntent = &p
	return res
}

func (a *applier) expirePaymentIntent(c ExpirePaymentIntent) Result {
	if e := checkID("intent_id", c.IntentID); e != nil {
		return Result{Err: e}
	}
	var p PaymentIntent
	if ok, e := getJSON(a.tx, bIntents, []byte(c.IntentID), &p); e != nil {
		return Result{Err: e}
	} else if !ok {
		return Result{Err: notFoundf("payment intent %q not found", c.IntentID)}
	}
	if get(a.tx, bPendingIntents, []byte(p.ID)) == nil {
		return Result{Unchanged: true, PaymentIntent: &p}
	}
	if !a.now().After(p.MonitorUntil) {
		return Result{Err: statef("payment intent %s is watched until %s", p.ID, p.MonitorUntil.Format(time.RFC3339))}
	}
	if p.Status == IntentPending {
		p.Status = IntentExpired
	}
	putJSON(a.tx, bIntents, []byte(p.ID), &p)
	del(a.tx, bPendingIntents, []byte(p.ID))
	a.audit(p.TenantID, "payment_intent", p.ID, "payment_intent.expired", map[string]string{
		"status": p.Status, "paid_cents": strconv.FormatUint(p.PaidCents, 10), "invoice_id": p.InvoiceID,
	})
	return Result{PaymentIntent: &p}
}

// GetPaymentIntent returns a payment intent, or ErrNotFound.
func GetPaymentIntent(tx *bolt.Tx, id string) (PaymentIntent, error) {
	var p PaymentIntent
	ok, e := getJSON(tx, bIntents, []byte(id), &p)
	if e != nil {
		return PaymentIntent{}, e
	}
	if !ok {
		return PaymentIntent{}, notFoundf("payment intent %q not found", id)
	}
	return p, nil
}

// PaymentIntents returns a tenant's payment intents, oldest first.
func PaymentIntents(tx *bolt.Tx, tenant string) ([]PaymentIntent, error) {
	if _, e := loadTenant(tx, tenant); e != nil {
		return nil, e
	}
	out := []PaymentIntent{}
	b := tx.Bucket(bTenantIntents)
	if b == nil {
		return out, nil
	}
	prefix := tprefix(tenant)
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) <= len(prefix)+8 {
			return nil, internalf("corrupt payment intent index entry %q", k)
		}
		p, err := GetPaymentIntent(tx, string(k[len(prefix)+8:]))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// PendingPaymentIntents returns the intents not yet fully paid, by id: the
// ones a watcher looks at (it skips those whose monitoring window is long
// over).
func PendingPaymentIntents(tx *bolt.Tx) ([]PaymentIntent, error) {
	out := []PaymentIntent{}
	b := tx.Bucket(bPendingIntents)
	if b == nil {
		return out, nil
	}
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		p, err := GetPaymentIntent(tx, string(k))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ChainTransaction returns the intent a transaction was recorded for.
func ChainTransaction(tx *bolt.Tx, chain payment.Chain, txID string) (string, bool) {
	id := get(tx, bChainTxs, []byte(string(chain)+":"+txID))
	return string(id), id != nil
}
