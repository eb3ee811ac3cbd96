package tron

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// Movement is one transfer of value a transaction made: the TRX of a
// TransferContract, or one TRC-20 Transfer event log.
type Movement struct {
	Token    Address // TRC-20 contract; zero for TRX
	From, To Address
	Amount   *big.Int // base units
}

// Observation is what the chain says about one transaction, checked:
// its id is the hash of its raw data and its owner signed it.
type Observation struct {
	TxID        string
	Owner       Address // the signer, the contract's owner_address
	Type        ContractType
	Movements   []Movement
	BlockNumber int64 // 0 when not in a block the node reported
	BlockTime   time.Time
	Solidified  bool
	// Failure is empty when the transaction succeeded, else the reason:
	// the receipt result (REVERT, OUT_OF_ENERGY, …) or the contract ret.
	Failure string
}

// Verifier observes transactions through a Client. It holds no state.
type Verifier struct {
	c *Client
}

// NewVerifier returns a Verifier reading the chain through c.
func NewVerifier(c *Client) *Verifier { return &Verifier{c: c} }

// ErrUnsigned is returned when a transaction's signatures do not recover
// to its owner: the node served something the chain would not accept.
var ErrUnsigned = errors.New("transaction not signed by its owner")

// Observe fetches transaction id and what it did. ErrNotFound when the
// node does not know it; ErrUnsigned, ErrBadResponse or ErrBadTransaction
// when what it serves does not check; ErrRPC when it could not be asked.
//
// Solidified is true only when /walletsolidity has the transaction's info
// (it is in a block at or below the solidified head, i.e. confirmed by
// more than two thirds of the super representatives). Before that the
// info of the full node is used, so a caller can show "confirming".
func (v *Verifier) Observe(ctx context.Context, id string) (*Observation, error) {
	tx, err := v.c.TransactionByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(tx.RawData.Contracts) != 1 {
		return nil, fmt.Errorf("%w: transaction %s has %d contracts, want 1", ErrBadTransaction, tx.ID, len(tx.RawData.Contracts))
	}
	ct := tx.RawData.Contracts[0]
	o := &Observation{TxID: tx.ID, Type: ct.Type}
	switch {
	case ct.Transfer != nil:
		o.Owner = ct.Transfer.Owner
	case ct.Trigger != nil:
		o.Owner = ct.Trigger.Owner
	default:
		return nil, fmt.Errorf("%w: transaction %s is a %s, neither a TRX transfer nor a contract call", ErrBadTransaction, tx.ID, ct.Type)
	}
	if !tx.SignedBy(o.Owner) {
		return nil, fmt.Errorf("%w: %s, owner %s", ErrUnsigned, tx.ID, o.Owner)
	}
	info, err := v.c.SolidTransactionInfo(ctx, tx.ID)
	switch {
	case err == nil:
		o.Solidified = true
	case errors.Is(err, ErrNotFound):
		info, err = v.c.TransactionInfo(ctx, tx.ID)
		if errors.Is(err, ErrNotFound) { // not in a block yet
			info, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if info != nil {
		o.BlockNumber, o.BlockTime = info.BlockNumber, info.BlockTime
	}
	switch {
	case tx.ContractRet != "" && tx.ContractRet != "SUCCESS":
		o.Failure = tx.ContractRet
	case info != nil && ct.Trigger != nil && info.ReceiptResult != "SUCCESS":
		o.Failure = info.ReceiptResult
		if o.Failure == "" {
			o.Failure = "no receipt result"
		}
	case info != nil && info.Failed:
		o.Failure = "FAILED"
	}
	if o.Failure != "" && info != nil && info.Message != "" {
		o.Failure += ": " + clip(info.Message)
	}
	if ct.Transfer != nil {
		o.Movements = []Movement{{From: ct.Transfer.Owner, To: ct.Transfer.To, Amount: big.NewInt(ct.Transfer.Amount)}}
	}
	if ct.Trigger != nil && info != nil && o.Failure == "" {
		if info.ContractAddress != ct.Trigger.Contract {
			return nil, fmt.Errorf("%w: transaction %s calls %s but its info names %s", ErrBadResponse, tx.ID, ct.Trigger.Contract, info.ContractAddress)
		}
		for _, l := range info.Logs {
			if from, to, val, ok := l.TRC20Transfer(); ok {
				o.Movements = append(o.Movements, Movement{Token: l.Address, From: from, To: to, Amount: val})
			}
		}
	}
	return o, nil
}

// Expected is what an intent asks for: Amount base units of Token to
// Merchant.
type Expected struct {
	Token    Token
	Merchant Address
	Amount   *big.Int
}

// Outcome is the verdict on one transaction against one Expected.
type Outcome int

// The outcomes. Only Paid, Underpaid and Overpaid move money; Pending
// asks to look again later.
const (
	Pending        Outcome = iota // seen, not solidified (or not in a block)
	Paid                          // exactly the amount
	Underpaid                     // less: the rest stays due
	Overpaid                      // more: the excess is credit
	WrongToken                    // value reached the merchant in another token
	WrongRecipient                // the token moved, not to the merchant
	Failed                        // the transaction failed on chain
)

var outcomeNames = [...]string{"pending", "paid", "underpaid", "overpaid", "wrong_token", "wrong_recipient", "failed"}

// String is the outcome's wire name.
func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Verdict is the outcome of one transaction for one Expected.
type Verdict struct {
	Outcome Outcome
	TxID    string
	// Received is what reached the merchant in the expected token (summed
	// over the transaction's transfers to it).
	Received *big.Int
	Payer    Address // sender of the first matching transfer, else the owner
	Reason   string  // why, for anything but Paid
	Obs      *Observation
}

// Judge compares an observation with what was expected. Integers only:
// amounts are compared as raw base units.
func Judge(exp Expected, o *Observation) Verdict {
	v := Verdict{TxID: o.TxID, Received: new(big.Int), Payer: o.Owner, Obs: o}
	if o.Failure != "" {
		if !o.Solidified {
			v.Outcome, v.Reason = Pending, "failed in a block not solidified yet: "+o.Failure
			return v
		}
		v.Outcome, v.Reason = Failed, o.Failure
		return v
	}
	var toMerchantOther, tokenElsewhere bool
	first := true
	for _, m := range o.Movements {
		switch {
		case m.Token == exp.Token.Contract && m.To == exp.Merchant:
			v.Received.Add(v.Received, m.Amount)
			if first {
				v.Payer, first = m.From, false
			}
		case m.To == exp.Merchant:
			toMerchantOther = true
		case m.Token == exp.Token.Contract:
			tokenElsewhere = true
		}
	}
	if first {
		switch {
		case toMerchantOther:
			v.Outcome, v.Reason = WrongToken, fmt.Sprintf("transaction %s pays the merchant in another token than %s", o.TxID, exp.Token)
		case tokenElsewhere:
			v.Outcome, v.Reason = WrongRecipient, fmt.Sprintf("transaction %s moves %s to another address than the merchant %s", o.TxID, exp.Token, exp.Merchant)
		case o.Solidified || o.BlockNumber > 0:
			v.Outcome, v.Reason = WrongToken, fmt.Sprintf("transaction %s moves no %s to anyone", o.TxID, exp.Token)
		default:
			v.Outcome, v.Reason = Pending, "not in a block yet"
		}
		return v
	}
	if !o.Solidified {
		v.Outcome, v.Reason = Pending, "not solidified yet"
		return v
	}
	switch v.Received.Cmp(exp.Amount) {
	case 0:
		v.Outcome = Paid
	case -1:
		v.Outcome, v.Reason = Underpaid, fmt.Sprintf("received %s of %s", v.Received, exp.Amount)
	default:
		v.Outcome, v.Reason = Overpaid, fmt.Sprintf("received %s of %s", v.Received, exp.Amount)
	}
	return v
}

// Verify observes transaction id and judges it against exp.
func (v *Verifier) Verify(ctx context.Context, exp Expected, id string) (Verdict, error) {
	o, err := v.Observe(ctx, id)
	if err != nil {
		return Verdict{}, err
	}
	return Judge(exp, o), nil
}

// ErrTxReused is returned by Claims.Claim for a transaction that already
// settled another intent.
var ErrTxReused = errors.New("transaction already settled another intent")

// Claims records which intent each transaction settled, so one
// transaction never settles two. The billing ledger keeps this durably;
// Claims is the in-memory form for tests and single-process use. Safe for
// concurrent use.
type Claims struct {
	mu sync.Mutex
	m  map[string]string // tx id → intent
}

// Claim records that tx settles intent. Claiming again for the same
// intent is a no-op (a retried confirm); for another intent it is
// ErrTxReused naming the transaction and the first intent.
func (c *Claims) Claim(txID, intent string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]string{}
	}
	if prev, ok := c.m[txID]; ok && prev != intent {
		return fmt.Errorf("%w: tron transaction %s settled intent %s", ErrTxReused, txID, prev)
	}
	c.m[txID] = intent
	return nil
}
