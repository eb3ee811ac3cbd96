package payment

import "fmt"

// Status is what a transfer does to its intent.
type Status string

// The outcomes of Assess.
const (
	// StatusPending: the transfer is not yet final; look again.
	StatusPending Status = "pending"
	// StatusPaid: exactly the amount asked for.
	StatusPaid Status = "paid"
	// StatusUnderpaid: less; what came is credited to the invoice, which
	// stays open for the rest.
	StatusUnderpaid Status = "underpaid"
	// StatusOverpaid: more; the excess becomes the tenant's credit.
	StatusOverpaid Status = "overpaid"
	// StatusRejected: wrong token, chain or recipient, or after the
	// monitoring window; recorded with the reason, nothing is credited.
	StatusRejected Status = "rejected"
	// StatusFailed: the transaction failed on chain; nothing moved.
	StatusFailed Status = "failed"
)

// Outcome is Assess's verdict on one observation.
type Outcome struct {
	Status Status `json:"status"`
	// Late: the transfer came after the quote expired but within the
	// monitoring window, and is honoured at the quoted rate.
	Late bool `json:"late,omitempty"`
	// ValueCents is what the transfer is worth at the quoted rate (rounded
	// down); for StatusPaid exactly the intent's AmountCents.
	ValueCents uint64 `json:"value_cents"`
	// CreditCents is the part of ValueCents above AmountCents (overpaid).
	CreditCents uint64 `json:"credit_cents,omitempty"`
	// ShortCents is what is still missing (underpaid).
	ShortCents uint64 `json:"short_cents,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// Settles reports whether the outcome moves money onto the ledger.
func (o Outcome) Settles() bool {
	return o.Status == StatusPaid || o.Status == StatusUnderpaid || o.Status == StatusOverpaid
}

// Assess judges one observation against its intent. Finality comes first
// (a confirmed transfer is pending until finalized), then failure, then
// whether it is the right chain, token and recipient, then time (after
// MonitorUntil it is rejected; after Expires it is late but honoured), then
// the amount, converted at the intent's quoted rate.
func Assess(in Intent, ob Observation) Outcome {
	switch {
	case ob.Failed:
		return Outcome{Status: StatusFailed, Reason: firstNonEmpty(ob.Rejected, "transaction failed on chain")}
	case ob.Rejected != "":
		return Outcome{Status: StatusRejected, Reason: ob.Rejected}
	case ob.Chain != in.Chain:
		return Outcome{Status: StatusRejected, Reason: fmt.Sprintf("paid on %s, the intent asks for %s", ob.Chain, in.Chain)}
	case ob.Token != in.Token:
		return Outcome{Status: StatusRejected, Reason: fmt.Sprintf("paid in %s, the intent asks for %s", tokenName(ob.Token), in.Token)}
	case ob.Recipient != in.Recipient:
		return Outcome{Status: StatusRejected, Reason: fmt.Sprintf("paid to %s, the intent's recipient is %s", ob.Recipient, in.Recipient)}
	case ob.Finality != Finalized:
		return Outcome{Status: StatusPending, Reason: fmt.Sprintf("transaction is %s, waiting for finalized", ob.Finality)}
	case ob.BlockTime.IsZero():
		return Outcome{Status: StatusPending, Reason: "block time not yet known"}
	case ob.BlockTime.After(in.MonitorUntil):
		return Outcome{Status: StatusRejected, Reason: fmt.Sprintf("arrived %s, after the monitoring window closed at %s",
			ob.BlockTime.UTC().Format("2006-01-02T15:04:05Z"), in.MonitorUntil.UTC().Format("2006-01-02T15:04:05Z"))}
	case ob.Amount == 0:
		return Outcome{Status: StatusRejected, Reason: "nothing was received"}
	}
	late := ob.BlockTime.After(in.Expires)
	value, err := in.Rate.CentsFor(ob.Amount)
	if err != nil {
		return Outcome{Status: StatusRejected, Reason: fmt.Sprintf("amount %d: %v", ob.Amount, err)}
	}
	switch {
	case ob.Amount == in.Amount:
		return Outcome{Status: StatusPaid, Late: late, ValueCents: in.AmountCents}
	case ob.Amount < in.Amount:
		// value < AmountCents: Amount was rounded up from AmountCents.
		return Outcome{Status: StatusUnderpaid, Late: late, ValueCents: value, ShortCents: in.AmountCents - value}
	default:
		value = max(value, in.AmountCents)
		return Outcome{Status: StatusOverpaid, Late: late, ValueCents: value, CreditCents: value - in.AmountCents}
	}
}

func tokenName(t Token) string {
	if t == "" {
		return "an unaccepted token"
	}
	return string(t)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
