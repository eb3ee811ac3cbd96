package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Result is what applying a command returns to its proposer (Apply's
// bytes, decoded by DecodeResult).
type Result struct {
	// Kind is the command's kind (0 when the command could not be decoded).
	Kind Kind `json:"kind"`
	// Err is the failure, nil on success. Nothing of a failed command was
	// applied.
	Err *Error `json:"-"`
	// Unchanged reports a success that changed nothing: an idempotent
	// replay (CloseDraft of an existing period, an identical registration,
	// finalizing a finalized invoice), a tier change to the current tier.
	Unchanged bool `json:"unchanged,omitempty"`
	// The entity the command created or changed, by kind: Tenant for tenant
	// commands (and RecordPayment when it resumed the tenant), Cluster for
	// RegisterCluster, Invoice for invoice commands and RecordPayment
	// against an invoice, Payment for RecordPayment, Ingest for IngestUsage,
	// APIKey for CreateAPIKey and RevokeAPIKey, Node for RegisterNode.
	Tenant  *Tenant  `json:"tenant,omitempty"`
	Cluster *Cluster `json:"cluster,omitempty"`
	Invoice *Invoice `json:"invoice,omitempty"`
	Payment *Payment `json:"payment,omitempty"`
	APIKey  *APIKey  `json:"api_key,omitempty"`
	Node    *Node    `json:"node,omitempty"`
	// PaymentIntent for CreatePaymentIntent and RecordChainPayment.
	PaymentIntent *PaymentIntent `json:"payment_intent,omitempty"`
	// WalletChallenge for IssueWalletChallenge; Wallet for ConnectWallet
	// and DisconnectWallet.
	WalletChallenge *WalletChallenge `json:"wallet_challenge,omitempty"`
	Wallet          *Wallet          `json:"wallet,omitempty"`
	Ingest          *IngestResult    `json:"-"`
}

// Error returns r.Err as an error, or nil (never a typed nil).
func (r Result) Error() error {
	if r.Err == nil {
		return nil
	}
	return r.Err
}

// RecordStatus is the outcome of one usage record.
type RecordStatus uint8

// The record outcomes. The agent removes a record from its outbox on any
// of them except a rejection whose Retry is true.
const (
	RecordAccepted  RecordStatus = 1
	RecordDuplicate RecordStatus = 2
	RecordRejected  RecordStatus = 3
)

func (s RecordStatus) String() string {
	switch s {
	case RecordAccepted:
		return "accepted"
	case RecordDuplicate:
		return "duplicate"
	case RecordRejected:
		return "rejected"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// MarshalText writes the status name.
func (s RecordStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a status name.
func (s *RecordStatus) UnmarshalText(b []byte) error {
	for _, v := range []RecordStatus{RecordAccepted, RecordDuplicate, RecordRejected} {
		if string(b) == v.String() {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("unknown record status %q (want accepted, duplicate or rejected)", b)
}

// RecordResult is the outcome of one record of an IngestUsage batch.
type RecordResult struct {
	Status RecordStatus `json:"status"`
	// Code classifies a rejection like Error.Code: CodeInvalid (a bad
	// field), CodeForbidden (tenant not assigned to the cluster),
	// CodeNotFound, CodeState (tenant deleted before the window; too many
	// sequence gaps).
	Code string `json:"code,omitempty"`
	// Reason says why a record was rejected, naming the field.
	Reason string `json:"reason,omitempty"`
	// Retry marks a rejection that may succeed later (the node has too many
	// outstanding sequence gaps); its sequence number was not consumed.
	// Every other rejection is final and consumes the sequence number.
	Retry bool `json:"retry,omitempty"`
}

// IngestResult is the outcome of an IngestUsage batch, one RecordResult
// per record in order, and the counts.
type IngestResult struct {
	Accepted   int            `json:"accepted"`
	Duplicates int            `json:"duplicates"`
	Rejected   int            `json:"rejected"`
	Records    []RecordResult `json:"records"`
}

const (
	resultFormat byte = 1

	resultErr    byte = 'E'
	resultJSON   byte = 'J'
	resultIngest byte = 'I'
)

func encodeError(k Kind, err *Error) []byte {
	e := &encoder{b: make([]byte, 0, 16+len(err.Message))}
	e.byte1(resultFormat)
	e.byte1(byte(k))
	e.byte1(resultErr)
	e.str(err.Code)
	e.str(err.Message)
	return e.b
}

func encodeResult(r Result) []byte {
	if r.Err != nil {
		return encodeError(r.Kind, r.Err)
	}
	e := &encoder{}
	if r.Ingest != nil {
		e.b = make([]byte, 0, 16+2*len(r.Ingest.Records))
		e.byte1(resultFormat)
		e.byte1(byte(r.Kind))
		e.byte1(resultIngest)
		e.u64(uint64(len(r.Ingest.Records)))
		for _, rr := range r.Ingest.Records {
			e.byte1(byte(rr.Status))
			if rr.Status == RecordRejected {
				e.bool1(rr.Retry)
				e.str(rr.Code)
				e.str(rr.Reason)
			}
		}
		return e.b
	}
	body, err := json.Marshal(r)
	if err != nil {
		return encodeError(r.Kind, internalf("encode result: %v", err))
	}
	e.b = make([]byte, 0, 3+len(body))
	e.byte1(resultFormat)
	e.byte1(byte(r.Kind))
	e.byte1(resultJSON)
	e.b = append(e.b, body...)
	return e.b
}

// DecodeResult decodes the bytes Apply returned (as handed back by
// store.Propose). An application failure is in Result.Err; the error
// return is for bytes that are not a result at all.
func DecodeResult(b []byte) (Result, error) {
	if len(b) < 3 {
		return Result{}, errors.New("ledger result too short")
	}
	if b[0] != resultFormat {
		return Result{}, fmt.Errorf("unknown ledger result format %d", b[0])
	}
	r := Result{Kind: Kind(b[1])}
	d := &decoder{b: b[3:]}
	switch b[2] {
	case resultErr:
		r.Err = &Error{Code: d.str(), Message: d.str()}
	case resultIngest:
		n := d.count(1)
		ir := &IngestResult{Records: make([]RecordResult, n)}
		for i := range ir.Records {
			rr := &ir.Records[i]
			rr.Status = RecordStatus(d.byte1())
			switch rr.Status {
			case RecordAccepted:
				ir.Accepted++
			case RecordDuplicate:
				ir.Duplicates++
			case RecordRejected:
				ir.Rejected++
				rr.Retry = d.bool1()
				rr.Code = d.str()
				rr.Reason = d.str()
			default:
				d.fail(fmt.Errorf("bad record status %d", rr.Status))
			}
		}
		r.Ingest = ir
	case resultJSON:
		if err := json.Unmarshal(b[3:], &r); err != nil {
			return Result{}, fmt.Errorf("decode ledger result: %w", err)
		}
		r.Kind = Kind(b[1])
		return r, nil
	default:
		return Result{}, fmt.Errorf("unknown ledger result type %q", b[2])
	}
	if err := d.done(); err != nil {
		return Result{}, fmt.Errorf("decode ledger result: %w", err)
	}
	return r, nil
}
