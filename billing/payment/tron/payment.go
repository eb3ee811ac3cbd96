package tron

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

	"github.com/aerolithdb/aerolith/billing/payment"
)

// PaymentVerifier is the Tron side of the chain-independent core: a
// payment.Verifier over Verifier, and the Tron part of making an intent.
//
// An intent's Amount is made unique among the open intents of its token
// (UniqueIntent): the transfer of exactly that amount to the merchant,
// made after the intent was created, is the intent's. The package
// documentation says why unique amounts and not deposit addresses.
type PaymentVerifier struct {
	v        *Verifier
	merchant Address
	usdt     Token
}

var _ payment.Verifier = (*PaymentVerifier)(nil)

// NewPaymentVerifier builds the verifier of validated settings.
func NewPaymentVerifier(s Settings) (*PaymentVerifier, error) {
	c, err := NewClient(s.Client)
	if err != nil {
		return nil, err
	}
	return &PaymentVerifier{v: NewVerifier(c), merchant: s.Merchant, usdt: s.USDT}, nil
}

// SettingsFrom validates the core's Tron configuration (the network's
// testnet is Nile).
func SettingsFrom(pc payment.Config) (Settings, error) {
	n := Mainnet
	if pc.Network == payment.Testnet {
		n = Nile
	}
	url := pc.Tron.APIURL
	if url == n.DefaultURL() {
		url = ""
	}
	return Config{Network: n, URL: url, APIKey: pc.Tron.APIKey, Merchant: pc.Tron.Merchant, USDTContract: pc.Tron.USDTContract}.Validate()
}

// Chain is payment.Tron.
func (p *PaymentVerifier) Chain() payment.Chain { return payment.Tron }

// Client is the TronGrid client the verifier reads through.
func (p *PaymentVerifier) Client() *Client { return p.v.c }

// Merchant is the address every intent pays.
func (p *PaymentVerifier) Merchant() Address { return p.merchant }

// Token is the tron token of an accepted payment token.
func (p *PaymentVerifier) Token(t payment.Token) (Token, error) {
	switch t {
	case payment.TRX:
		return TRX(), nil
	case payment.USDT:
		return p.usdt, nil
	}
	return Token{}, fmt.Errorf("token %q: not paid on tron (want TRX or USDT)", t)
}

// ErrNotTron is returned for an intent of another chain.
var ErrNotTron = errors.New("not a tron payment intent")

func (p *PaymentVerifier) expected(in payment.Intent) (Expected, error) {
	if in.Chain != payment.Tron {
		return Expected{}, fmt.Errorf("%w: intent %s is on %s", ErrNotTron, in.ID, in.Chain)
	}
	tok, err := p.Token(in.Token)
	if err != nil {
		return Expected{}, err
	}
	if in.Recipient != p.merchant.String() {
		return Expected{}, fmt.Errorf("intent %s pays %s, not this merchant %s", in.ID, in.Recipient, p.merchant)
	}
	return Expected{Token: tok, Merchant: p.merchant, Amount: new(big.Int).SetUint64(in.Amount)}, nil
}

// Verify returns every solidified transfer of exactly the intent's amount
// of its token to the merchant since the intent was created, each
// verified from scratch (Observe, Judge). Transfers of other amounts are
// tied to the intent only by VerifyTx (confirm with a transaction id).
func (p *PaymentVerifier) Verify(ctx context.Context, in payment.Intent) ([]payment.Observation, error) {
	exp, err := p.expected(in)
	if err != nil {
		return nil, err
	}
	cands, err := p.v.Candidates(ctx, exp.Token, exp.Merchant, in.Created)
	if err != nil {
		return nil, err
	}
	var out []payment.Observation
	for _, c := range cands {
		if c.Amount.Cmp(exp.Amount) != 0 {
			continue
		}
		vd, err := p.v.Verify(ctx, exp, c.TxID)
		if err != nil {
			if errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnsigned) || errors.Is(err, ErrBadTransaction) || errors.Is(err, ErrBadResponse) {
				continue // a listing's lead that does not check is no payment
			}
			return nil, err
		}
		out = append(out, ToObservation(in, p.merchant, vd))
	}
	return out, nil
}

// VerifyTx judges transaction id against the intent, whatever its amount
// (an underpayment, an overpayment): what a customer's confirm with a tx
// id asks.
func (p *PaymentVerifier) VerifyTx(ctx context.Context, in payment.Intent, id string) (payment.Observation, error) {
	exp, err := p.expected(in)
	if err != nil {
		return payment.Observation{}, err
	}
	id, err = ParseTxID(id)
	if err != nil {
		return payment.Observation{}, err
	}
	vd, err := p.v.Verify(ctx, exp, id)
	if err != nil {
		return payment.Observation{}, err
	}
	return ToObservation(in, p.merchant, vd), nil
}

// ToObservation maps a Verdict onto the core's Observation, which
// payment.Assess judges again (the same way: exact integers, finality
// first). Wrong token and wrong recipient become Rejected with the
// verdict's reason; a failure on chain Failed; a transaction not yet
// solidified keeps the finality it has (Confirmed once in a block) and is
// judged only once it is.
func ToObservation(in payment.Intent, merchant Address, vd Verdict) payment.Observation {
	ob := payment.Observation{Chain: payment.Tron, TxID: vd.TxID, Recipient: merchant.String(), Finality: payment.Pending}
	if o := vd.Obs; o != nil {
		ob.BlockTime = o.BlockTime
		switch {
		case o.Solidified:
			ob.Finality = payment.Finalized
		case o.BlockNumber > 0:
			ob.Finality = payment.Confirmed
		}
	}
	switch vd.Outcome {
	case Pending:
		if ob.Finality == payment.Finalized {
			ob.Finality = payment.Confirmed // Judge waits: so does Assess
		}
		ob.Token = in.Token
	case Failed:
		ob.Token, ob.Failed, ob.Rejected = in.Token, true, vd.Reason
	case WrongToken:
		ob.Rejected = vd.Reason
	case WrongRecipient:
		ob.Token, ob.Rejected = in.Token, vd.Reason
	default:
		ob.Token = in.Token
		if !vd.Received.IsUint64() {
			ob.Rejected = fmt.Sprintf("amount %s does not fit 64 bits", vd.Received)
			break
		}
		ob.Amount = vd.Received.Uint64()
	}
	if ob.Finality != payment.Finalized {
		// Nothing is judged before the block is solidified: it could
		// still be dropped, so neither is a rejection recorded.
		ob.Token, ob.Failed, ob.Rejected = in.Token, false, ""
	}
	return ob
}

// NewReference is a fresh reference for a Tron intent: 128 random bits in
// hex. It ties nothing on chain (the amount does); it keeps intents'
// references unique as the ledger requires.
func NewReference() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("tron: crypto/rand: %v", err))
	}
	return "tron-" + hex.EncodeToString(b[:])
}

// UniqueIntent raises in.Amount (the quote, rounded up) by the smallest
// offset no open intent of the same token asks for (UniqueAmount).
func UniqueIntent(in *payment.Intent, open []payment.Intent) error {
	if in.Chain != payment.Tron {
		return fmt.Errorf("%w: intent %s is on %s", ErrNotTron, in.ID, in.Chain)
	}
	taken := map[uint64]bool{}
	for _, o := range open {
		if o.Token == in.Token && o.ID != in.ID {
			taken[o.Amount] = true
		}
	}
	a, err := UniqueAmount(new(big.Int).SetUint64(in.Amount), func(v *big.Int) bool { return !v.IsUint64() || taken[v.Uint64()] })
	if err != nil {
		return fmt.Errorf("%s %d: %w", in.Token, in.Amount, err)
	}
	if !a.IsUint64() {
		return fmt.Errorf("amount %s does not fit 64 bits", a)
	}
	in.Amount = a.Uint64()
	return nil
}

// AmountOffsetOK reports whether amount is quoted plus an offset
// UniqueAmount may add (1 to MaxOffset): what the ledger accepts as a
// Tron intent's amount.
func AmountOffsetOK(quoted, amount uint64) bool {
	return amount > quoted && amount-quoted <= MaxOffset
}
