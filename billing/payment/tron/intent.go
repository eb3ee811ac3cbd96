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

// FindPayment looks for the transfer that pays exp: a solidified transfer
// of exactly exp.Amount of exp.Token to exp.Merchant in a block at or
// after since (the intent's creation). Candidates come from TronGrid's
// account listings and each is verified from scratch (Observe and Judge);
// claimed skips transactions that already settled an intent. nil, nil
// when there is none yet.
func (v *Verifier) FindPayment(ctx context.Context, exp Expected, since time.Time, claimed func(txID string) bool) (*Verdict, error) {
	var ids []string
	if exp.Token.Native() {
		txs, err := v.c.IncomingTRX(ctx, exp.Merchant, ListQuery{Since: since})
		if err != nil {
			return nil, err
		}
		for _, tx := range txs {
			if t := tx.RawData.Contracts[0].Transfer; t != nil && exp.Amount.IsInt64() && t.Amount == exp.Amount.Int64() {
				ids = append(ids, tx.ID)
			}
		}
	} else {
		ts, err := v.c.IncomingTRC20(ctx, exp.Merchant, ListQuery{Since: since, Contract: exp.Token.Contract})
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if t.Contract == exp.Token.Contract && t.Value.Cmp(exp.Amount) == 0 {
				ids = append(ids, t.TxID)
			}
		}
	}
	for _, id := range ids {
		if claimed != nil && claimed(id) {
			continue
		}
		vd, err := v.Verify(ctx, exp, id)
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
