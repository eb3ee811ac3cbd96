package solana

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc"

	"github.com/aerolithdb/aerolith/billing/payment"
)

// SignaturePage is the page size of getSignaturesForAddress: the RPC's
// maximum.
const SignaturePage = 1000

// DefaultMaxSignatures bounds how many transactions one reference may name
// before Verify gives up with ErrTooManySignatures: anyone can send dust
// naming a public reference, and reading each costs an RPC call.
const DefaultMaxSignatures = 10 * SignaturePage

// ErrTooManySignatures is returned when a reference names more
// transactions than the verifier reads.
var ErrTooManySignatures = errors.New("too many transactions name the reference")

// ErrRPC wraps every failure to read the chain; the caller retries later.
var ErrRPC = errors.New("solana rpc")

// Verifier verifies Solana payments. It is safe for concurrent use.
type Verifier struct {
	rpc      *rpc.Client
	merchant sol.PublicKey
	usdcMint sol.PublicKey
	usdcATA  sol.PublicKey
	label    string
	message  string
	// MaxSignatures overrides DefaultMaxSignatures when positive.
	MaxSignatures int
}

var _ payment.Verifier = (*Verifier)(nil)

// New builds a verifier for the Solana section of the configuration,
// talking to client (rpc.New(cfg.RPCURL) in production). It does no I/O.
func New(cfg payment.SolanaConfig, client *rpc.Client) (*Verifier, error) {
	merchant, err := sol.PublicKeyFromBase58(cfg.Merchant)
	if err != nil {
		return nil, fmt.Errorf("payment.solana.merchant: %q is not a base58 public key: %w", cfg.Merchant, err)
	}
	mint, err := sol.PublicKeyFromBase58(cfg.USDCMint)
	if err != nil {
		return nil, fmt.Errorf("payment.solana.usdc_mint: %q is not a base58 public key: %w", cfg.USDCMint, err)
	}
	ata, _, err := sol.FindAssociatedTokenAddress(merchant, mint)
	if err != nil {
		return nil, fmt.Errorf("payment.solana.merchant: no associated token account for the USDC mint: %w", err)
	}
	if client == nil {
		return nil, errors.New("solana verifier: no rpc client")
	}
	return &Verifier{rpc: client, merchant: merchant, usdcMint: mint, usdcATA: ata, label: cfg.Label, message: cfg.Message}, nil
}

// Chain implements payment.Verifier.
func (v *Verifier) Chain() payment.Chain { return payment.Solana }

// Merchant is the wallet payments go to.
func (v *Verifier) Merchant() sol.PublicKey { return v.merchant }

// USDCMint is the mint accepted as USDC.
func (v *Verifier) USDCMint() sol.PublicKey { return v.usdcMint }

// NewReference returns a fresh reference key: the public half of a new
// random ed25519 key, whose private half is thrown away — nobody can sign
// for it, and nobody can guess it before the intent exists.
func NewReference() (sol.PublicKey, error) {
	k, err := sol.NewRandomPrivateKey()
	if err != nil {
		return sol.PublicKey{}, fmt.Errorf("reference key: %w", err)
	}
	return k.PublicKey(), nil
}

// Quote prepares a payment.Quote for the token at the rate, with a fresh
// reference and the memo.
func (v *Verifier) Quote(t payment.Token, rate payment.Rate, memo string) (payment.Quote, error) {
	if t.Chain() != payment.Solana {
		return payment.Quote{}, fmt.Errorf("token %s: not a solana token", t)
	}
	if _, err := ParseMemo([]byte(memo)); err != nil {
		return payment.Quote{}, err
	}
	ref, err := NewReference()
	if err != nil {
		return payment.Quote{}, err
	}
	return payment.Quote{Token: t, Rate: rate, Recipient: v.merchant.String(), Reference: ref.String(), Memo: memo}, nil
}

// TransferRequest is the Solana Pay transfer request for an intent.
func (v *Verifier) TransferRequest(in payment.Intent) (TransferRequest, error) {
	ref, err := sol.PublicKeyFromBase58(in.Reference)
	if err != nil {
		return TransferRequest{}, fmt.Errorf("intent %s: reference %q: %w", in.ID, in.Reference, err)
	}
	r := TransferRequest{Recipient: v.merchant, Amount: in.Amount, HasAmount: true, Decimals: in.Token.Decimals(),
		References: []sol.PublicKey{ref}, Label: v.label, Message: v.message, Memo: in.Memo}
	switch in.Token {
	case payment.SOL:
	case payment.USDC:
		r.SPLToken = v.usdcMint
	default:
		return TransferRequest{}, fmt.Errorf("intent %s: token %s is not paid on solana", in.ID, in.Token)
	}
	return r, nil
}

// Verify implements payment.Verifier.
func (v *Verifier) Verify(ctx context.Context, in payment.Intent) ([]payment.Observation, error) {
	if in.Chain != payment.Solana {
		return nil, fmt.Errorf("intent %s: chain %s, not solana", in.ID, in.Chain)
	}
	ref, err := sol.PublicKeyFromBase58(in.Reference)
	if err != nil {
		return nil, fmt.Errorf("intent %s: reference %q: %w", in.ID, in.Reference, err)
	}
	sigs, err := v.Signatures(ctx, ref)
	if err != nil {
		return nil, err
	}
	var out []payment.Observation
	for _, s := range sigs {
		ob, found, err := v.observe(ctx, s, in, []sol.PublicKey{ref})
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, ob)
		}
	}
	return out, nil
}

// Signatures lists every transaction naming the account at commitment
// confirmed, oldest first, paging back from the newest with before until a
// page is shorter than SignaturePage.
func (v *Verifier) Signatures(ctx context.Context, account sol.PublicKey) ([]sol.Signature, error) {
	limit := SignaturePage
	maxSigs := v.MaxSignatures
	if maxSigs <= 0 {
		maxSigs = DefaultMaxSignatures
	}
	var (
		newestFirst []sol.Signature
		seen        = map[sol.Signature]bool{}
		before      sol.Signature
	)
	for {
		page, err := v.rpc.GetSignaturesForAddressWithOpts(ctx, account, &rpc.GetSignaturesForAddressOpts{
			Limit: &limit, Before: before, Commitment: rpc.CommitmentConfirmed,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: getSignaturesForAddress %s: %w", ErrRPC, account, err)
		}
		if err := checkPage(page, limit, seen); err != nil {
			return nil, fmt.Errorf("%w: getSignaturesForAddress %s: %w", ErrRPC, account, err)
		}
		for _, sig := range page {
			newestFirst = append(newestFirst, sig.Signature)
		}
		if len(newestFirst) > maxSigs {
			return nil, fmt.Errorf("%w: more than %d for %s", ErrTooManySignatures, maxSigs, account)
		}
		if len(page) < limit {
			break
		}
		before = page[len(page)-1].Signature
	}
	out := make([]sol.Signature, len(newestFirst))
	for i, s := range newestFirst {
		out[len(out)-1-i] = s
	}
	return out, nil
}

// checkPage checks one page of getSignaturesForAddress and adds its
// signatures to seen: no more than limit, no null entry, none seen before
// (a page overlapping the last one would loop forever).
func checkPage(page []*rpc.TransactionSignature, limit int, seen map[sol.Signature]bool) error {
	if len(page) > limit {
		return fmt.Errorf("%d signatures in a page of %d", len(page), limit)
	}
	for _, s := range page {
		if s == nil {
			return errors.New("null entry")
		}
		if s.Signature.IsZero() {
			return errors.New("entry without a signature")
		}
		if seen[s.Signature] {
			return fmt.Errorf("%s returned twice", s.Signature)
		}
		seen[s.Signature] = true
	}
	return nil
}

// observe reads one transaction, at finalized first, else at confirmed.
// found is false when it is not readable at either (processed only, or
// dropped).
func (v *Verifier) observe(ctx context.Context, sig sol.Signature, in payment.Intent, refs []sol.PublicKey) (payment.Observation, bool, error) {
	for _, level := range []struct {
		c rpc.CommitmentType
		f payment.Finality
	}{{rpc.CommitmentFinalized, payment.Finalized}, {rpc.CommitmentConfirmed, payment.Confirmed}} {
		res, err := v.GetTransaction(ctx, sig, level.c)
		if errors.Is(err, rpc.ErrNotFound) {
			continue
		}
		if err != nil {
			return payment.Observation{}, false, err
		}
		ob := v.inspect(sig, res, in, refs)
		ob.Finality = level.f
		return ob, true, nil
	}
	return payment.Observation{}, false, nil
}

// GetTransaction reads one transaction in base64 at the commitment,
// accepting v0. rpc.ErrNotFound when the node has none at that level.
func (v *Verifier) GetTransaction(ctx context.Context, sig sol.Signature, c rpc.CommitmentType) (*rpc.GetTransactionResult, error) {
	maxVersion := uint64(0)
	res, err := v.rpc.GetTransaction(ctx, sig, &rpc.GetTransactionOpts{
		Encoding: sol.EncodingBase64, Commitment: c, MaxSupportedTransactionVersion: &maxVersion,
	})
	if errors.Is(err, rpc.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: getTransaction %s: %w", ErrRPC, sig, err)
	}
	return res, nil
}

// Instruction discriminators checked by inspect.
const (
	systemTransfer        = 2  // u32 LE, then lamports u64 LE
	tokenTransferChecked  = 12 // u8, then amount u64 LE, decimals u8
	systemTransferDataLen = 12
	tokenCheckedDataLen   = 10
)

// inspect judges a transaction against the intent. Everything wrong with
// it becomes Rejected (or Failed); amount, token, recipient and time are
// reported for payment.Assess.
func (v *Verifier) inspect(sig sol.Signature, res *rpc.GetTransactionResult, in payment.Intent, refs []sol.PublicKey) payment.Observation {
	ob := payment.Observation{Chain: payment.Solana, TxID: sig.String()}
	if res.BlockTime != nil {
		ob.BlockTime = time.Unix(int64(*res.BlockTime), 0).UTC()
	}
	reject := func(format string, a ...any) payment.Observation {
		ob.Rejected = fmt.Sprintf(format, a...)
		return ob
	}
	if res.Transaction == nil || res.Meta == nil {
		return reject("transaction has no status meta")
	}
	tx, err := res.Transaction.GetTransaction()
	if err != nil || tx == nil {
		return reject("transaction does not decode: %v", err)
	}
	if len(tx.Signatures) == 0 || tx.Signatures[0] != sig {
		return reject("transaction is not the one signed %s", sig)
	}
	if err := tx.VerifySignatures(); err != nil {
		return reject("transaction signatures do not verify: %v", err)
	}
	meta := res.Meta
	keys, err := accountKeys(tx, meta)
	if err != nil {
		return reject("%v", err)
	}
	if meta.Err != nil {
		ob.Failed = true
		ob.Rejected = fmt.Sprintf("transaction failed on chain: %v", meta.Err)
		return ob
	}
	ins := tx.Message.Instructions
	if len(ins) == 0 {
		return reject("transaction has no instructions")
	}
	last := ins[len(ins)-1]
	accts, program, err := resolve(last, keys)
	if err != nil {
		return reject("last instruction: %v", err)
	}
	var base int
	switch program {
	case sol.SystemProgramID:
		base = 2
	case sol.TokenProgramID:
		base = 4
	default:
		return reject("the last instruction is not a transfer (program %s)", program)
	}
	if len(accts) < base {
		return reject("transfer instruction has %d accounts, needs %d", len(accts), base)
	}
	extra := accts[base:]
	if len(extra) != len(refs) {
		return reject("transfer instruction carries %d extra accounts, the intent %d reference(s)", len(extra), len(refs))
	}
	for i, r := range refs {
		if keys[extra[i]] != r {
			return reject("transfer instruction's reference %d is %s, not %s", i, keys[extra[i]], r)
		}
	}
	if in.Memo != "" {
		if len(ins) < 2 {
			return reject("no memo instruction before the transfer")
		}
		_, mProgram, err := resolve(ins[len(ins)-2], keys)
		if err != nil || (mProgram != sol.MemoProgramID && mProgram != sol.MemoProgramIDV1) {
			return reject("the instruction before the transfer is not a memo")
		}
		memo, err := ParseMemo(ins[len(ins)-2].Data)
		if err != nil {
			return reject("memo: %v", err)
		}
		if memo != in.Memo {
			return reject("memo %q is not the intent's %q", memo, in.Memo)
		}
	}
	data := []byte(last.Data)
	switch program {
	case sol.SystemProgramID:
		if len(data) != systemTransferDataLen || binary.LittleEndian.Uint32(data) != systemTransfer {
			return reject("the last instruction is a system instruction, not a transfer")
		}
		to := accts[1]
		ob.Token = payment.SOL
		ob.Recipient = keys[to].String()
		if int(to) >= len(meta.PreBalances) || int(to) >= len(meta.PostBalances) {
			return reject("no lamport balances for the recipient")
		}
		if post, pre := meta.PostBalances[to], meta.PreBalances[to]; post > pre {
			ob.Amount = post - pre
		}
	case sol.TokenProgramID:
		if len(data) != tokenCheckedDataLen || data[0] != tokenTransferChecked {
			return reject("the last instruction is a token instruction, not transferChecked")
		}
		mint, dest := keys[accts[1]], accts[2]
		switch {
		case mint == v.usdcMint:
			ob.Token = payment.USDC
		default:
			ob.Rejected = fmt.Sprintf("paid in SPL token %s, not the accepted USDC mint %s", mint, v.usdcMint)
		}
		ob.Recipient = keys[dest].String()
		if keys[dest] == v.usdcATA {
			ob.Recipient = v.merchant.String()
		}
		pre, err := tokenBalance(meta.PreTokenBalances, dest, mint, true)
		if err != nil {
			return reject("pre token balance: %v", err)
		}
		post, err := tokenBalance(meta.PostTokenBalances, dest, mint, false)
		if err != nil {
			return reject("post token balance: %v", err)
		}
		if post > pre {
			ob.Amount = post - pre
		}
	}
	return ob
}

// accountKeys are the transaction's account keys as instructions index
// them: the static keys, then for v0 the loaded writable, then the loaded
// readonly addresses.
func accountKeys(tx *sol.Transaction, meta *rpc.TransactionMeta) ([]sol.PublicKey, error) {
	keys := append([]sol.PublicKey(nil), tx.Message.AccountKeys...)
	lookups := 0
	for _, l := range tx.Message.AddressTableLookups {
		lookups += len(l.WritableIndexes) + len(l.ReadonlyIndexes)
	}
	loaded := len(meta.LoadedAddresses.Writable) + len(meta.LoadedAddresses.ReadOnly)
	switch tx.Message.GetVersion() {
	case sol.MessageVersionLegacy:
		if loaded > 0 {
			return nil, errors.New("legacy transaction with loaded addresses")
		}
	case sol.MessageVersionV0:
	default:
		return nil, fmt.Errorf("transaction version %d is newer than v0", tx.Message.GetVersion())
	}
	if loaded != lookups {
		return nil, fmt.Errorf("transaction looks up %d addresses, meta.loadedAddresses has %d", lookups, loaded)
	}
	keys = append(keys, meta.LoadedAddresses.Writable...)
	keys = append(keys, meta.LoadedAddresses.ReadOnly...)
	return keys, nil
}

// resolve checks an instruction's indexes against the keys.
func resolve(ix sol.CompiledInstruction, keys []sol.PublicKey) ([]uint16, sol.PublicKey, error) {
	if int(ix.ProgramIDIndex) >= len(keys) {
		return nil, sol.PublicKey{}, fmt.Errorf("program index %d out of %d keys", ix.ProgramIDIndex, len(keys))
	}
	for _, a := range ix.Accounts {
		if int(a) >= len(keys) {
			return nil, sol.PublicKey{}, fmt.Errorf("account index %d out of %d keys", a, len(keys))
		}
	}
	return ix.Accounts, keys[ix.ProgramIDIndex], nil
}

// tokenBalance finds the raw amount of the account's entry in a
// pre/post token balance list. A missing pre entry is zero (the account
// was created in this transaction); a missing post entry is an error.
func tokenBalance(list []rpc.TokenBalance, account uint16, mint sol.PublicKey, missingIsZero bool) (uint64, error) {
	for _, b := range list {
		if b.AccountIndex != account {
			continue
		}
		if b.Mint != mint {
			return 0, fmt.Errorf("account holds mint %s, the transfer names %s", b.Mint, mint)
		}
		if b.UiTokenAmount == nil {
			return 0, errors.New("no uiTokenAmount")
		}
		n, err := ParseRawAmount(b.UiTokenAmount.Amount)
		if err != nil {
			return 0, err
		}
		return n, nil
	}
	if missingIsZero {
		return 0, nil
	}
	return 0, fmt.Errorf("no entry for account index %d", account)
}

// ParseRawAmount reads a raw token amount (uiTokenAmount.amount): the
// decimal digits of a u64, nothing else.
func ParseRawAmount(s string) (uint64, error) {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%w: raw token amount %q", payment.ErrAmount, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: raw token amount %q", payment.ErrAmount, s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: raw token amount %q", payment.ErrAmount, s)
	}
	return n, nil
}
