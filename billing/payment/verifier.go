package payment

import (
	"context"
	"errors"
	"time"
)

// Verifier finds and verifies the transfers that pay an intent on its
// chain. Each chain package provides one.
type Verifier interface {
	// Chain is the chain the verifier reads.
	Chain() Chain
	// Verify returns every transfer tied to the intent (on Solana: every
	// transaction naming its reference), oldest first; none when nothing
	// has been seen yet. A transfer that is tied to the intent but wrong
	// (failed, wrong token, wrong recipient, malformed) is returned with
	// Rejected set, so it can be recorded with its reason. An error means
	// the chain could not be read (RPC error, timeout): nothing is known,
	// try again.
	Verify(ctx context.Context, in Intent) ([]Observation, error)
}

// Observation is one transfer seen on chain for an intent.
type Observation struct {
	Chain Chain `json:"chain"`
	// TxID is the transaction signature (Solana) or hash (Tron). A TxID
	// settles at most one intent, ever.
	TxID string `json:"tx_id"`
	// Token is what was actually sent ("" when it is no accepted token).
	Token Token `json:"token,omitempty"`
	// Amount is what the recipient received, in Token's smallest unit.
	Amount uint64 `json:"amount"`
	// Recipient is the address that received it.
	Recipient string    `json:"recipient,omitempty"`
	Finality  Finality  `json:"finality"`
	BlockTime time.Time `json:"block_time"`
	// Failed: the transaction is on chain but did not execute (Solana
	// meta.err, Tron receipt not SUCCESS); nothing was transferred.
	Failed bool `json:"failed,omitempty"`
	// Rejected says why the transfer does not pay the intent ("" when it
	// does, apart from the amount and time, which Assess judges).
	Rejected string `json:"rejected,omitempty"`
}

// ErrNotFound is returned by chain lookups that find nothing yet.
var ErrNotFound = errors.New("not found on chain")
