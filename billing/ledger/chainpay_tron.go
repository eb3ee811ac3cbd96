package ledger

import (
	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/tron"
)

// checkIntentAmount checks an intent's Amount against its quote: exactly
// AmountCents at the rate, except on Tron, where the amount carries the
// intent (billing/payment/tron: unique amounts) and is the quote plus an
// offset of 1 to tron.MaxOffset base units that no other pending intent
// of the same token asks for. The state machine checks uniqueness, so
// two intents created at once on two replicas can never share an amount:
// the second is ErrConflict and its creator picks again.
func checkIntentAmount(tx *bolt.Tx, in payment.Intent) *Error {
	units, err := in.Rate.UnitsFor(in.AmountCents)
	if err != nil {
		return invalidf("amount: %d cents at %s: %v", in.AmountCents, in.Rate, err)
	}
	if in.Chain != payment.Tron {
		if units != in.Amount {
			return invalidf("amount: %d is not %d cents at %s", in.Amount, in.AmountCents, in.Rate)
		}
		return nil
	}
	if !tron.AmountOffsetOK(units, in.Amount) {
		return invalidf("amount: %d is not %d cents at %s (%d) plus a unique offset of 1 to %d", in.Amount, in.AmountCents, in.Rate, units, tron.MaxOffset)
	}
	b := tx.Bucket(bPendingIntents)
	if b == nil {
		return nil
	}
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if string(k) == in.ID {
			continue
		}
		var p PaymentIntent
		if ok, e := getJSON(tx, bIntents, k, &p); e != nil {
			return e
		} else if ok && p.Token == in.Token && p.Amount == in.Amount {
			return conflictf("amount: %d %s is already the amount of open payment intent %q; each open tron intent asks for its own", in.Amount, in.Token, p.ID)
		}
	}
	return nil
}
