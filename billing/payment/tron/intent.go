package tron

import (
	"context"
	"errors"
	"math/big"
	"time"
)

// MaxOffset is the largest offset UniqueAmount adds to a quoted amount:
// 9,999 base units, less than one cent of USDT and 0.01 TRX.
const MaxOffset = 9999

// ErrNoUniqueAmount is returned when every offset of an amount is taken
// by an open intent.
var ErrNoUniqueAmount = errors.New("no unique amount left for this quote")

// UniqueAmount returns base+k for the smallest k in [1, MaxOffset] that
// taken reports free: the amount that ties a transfer to one open intent
// on the shared merchant address (see the package doc). Offset 0 is never
// used so that round amounts sent for anything else never match.
func UniqueAmount(base *big.Int, taken func(*big.Int) bool) (*big.Int, error) {
	for k := int64(1); k <= MaxOffset; k++ {
		a := new(big.Int).Add(base, big.NewInt(k))
		if !taken(a) {
			return a, nil
		}
	}
	return nil, ErrNoUniqueAmount
}

// Candidate is a solidified transfer to the merchant as TronGrid's
// account listings report it: a lead to verify, never proof by itself.
type Candidate struct {
	TxID      string
	From      Address
	Amount    *big.Int
	BlockTime time.Time
}

// Candidates lists the solidified transfers of token to merchant in
// blocks at or after since, oldest first (one listing serves every open
// intent of the token: a watcher matches amounts, then verifies).
func (v *Verifier) Candidates(ctx context.Context, token Token, merchant Address, since time.Time) ([]Candidate, error) {
	var out []Candidate
	if token.Native() {
		txs, err := v.c.IncomingTRX(ctx, merchant, ListQuery{Since: since})
		if err != nil {
			return nil, err
		}
		for _, tx := range txs {
			for _, ct := range tx.RawData.Contracts {
				if t := ct.Transfer; t != nil && t.To == merchant {
					out = append(out, Candidate{TxID: tx.ID, From: t.Owner, Amount: big.NewInt(t.Amount), BlockTime: time.UnixMilli(tx.JSON.BlockTimestamp).UTC()})
				}
			}
		}
		return out, nil
	}
	ts, err := v.c.IncomingTRC20(ctx, merchant, ListQuery{Since: since, Contract: token.Contract})
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t.Contract == token.Contract {
			out = append(out, Candidate{TxID: t.TxID, From: t.From, Amount: t.Value, BlockTime: t.BlockTime})
		}
	}
	return out, nil
}

// FindPayment looks for the transfer that pays exp: a solidified transfer
// of exactly exp.Amount of exp.Token to exp.Merchant in a block at or
// after since (the intent's creation). Each candidate of that amount is
// verified from scratch (Observe and Judge); claimed skips transactions
// that already settled an intent. nil, nil when there is none yet.
func (v *Verifier) FindPayment(ctx context.Context, exp Expected, since time.Time, claimed func(txID string) bool) (*Verdict, error) {
	cands, err := v.Candidates(ctx, exp.Token, exp.Merchant, since)
	if err != nil {
		return nil, err
	}
	for _, c := range cands {
		if c.Amount.Cmp(exp.Amount) != 0 || (claimed != nil && claimed(c.TxID)) {
			continue
		}
		vd, err := v.Verify(ctx, exp, c.TxID)
		if err != nil {
			if errors.Is(err, ErrRPC) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil, err
			}
			continue // a candidate that does not check is no payment
		}
		if vd.Outcome == Paid && !vd.Obs.BlockTime.Before(since) {
			return &vd, nil
		}
	}
	return nil, nil
}
