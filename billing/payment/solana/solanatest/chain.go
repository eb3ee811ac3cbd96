package solanatest

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	sol "github.com/gagliardetto/solana-go"

	"github.com/aerolithdb/aerolith/billing/payment"
)

// Commitment is how settled a transaction is.
type Commitment int

// The commitment levels, weakest first.
const (
	Processed Commitment = iota
	Confirmed
	Finalized
)

func (c Commitment) String() string {
	return [...]string{"processed", "confirmed", "finalized"}[c]
}

// parseCommitment reads a commitment parameter ("" is def).
func parseCommitment(s string, def Commitment) (Commitment, error) {
	switch s {
	case "":
		return def, nil
	case "processed", "recent":
		return Processed, nil
	case "confirmed", "single", "singleGossip":
		return Confirmed, nil
	case "finalized", "max", "root":
		return Finalized, nil
	}
	return 0, invalidParams("unknown commitment %q", s)
}

// FeePerSignature is the fee charged per signature, in lamports.
const FeePerSignature = 5000

// blockhashLife is how many slots a blockhash stays valid.
const blockhashLife = 150

type tokenAccount struct {
	mint, owner sol.PublicKey
	amount      uint64
}

// entry is one landed transaction.
type entry struct {
	sig       sol.Signature
	tx        *sol.Transaction
	raw       []byte
	slot      uint64
	blockTime int64
	level     Commitment
	keys      []sol.PublicKey
	v0        bool
	meta      txMeta
	memo      *string
}

type txMeta struct {
	Err                  any         `json:"err"`
	Status               any         `json:"status"`
	Fee                  uint64      `json:"fee"`
	PreBalances          []uint64    `json:"preBalances"`
	PostBalances         []uint64    `json:"postBalances"`
	InnerInstructions    []any       `json:"innerInstructions"`
	PreTokenBalances     []tokenBal  `json:"preTokenBalances"`
	PostTokenBalances    []tokenBal  `json:"postTokenBalances"`
	LogMessages          []string    `json:"logMessages"`
	Rewards              []any       `json:"rewards"`
	LoadedAddresses      loadedAddrs `json:"loadedAddresses"`
	ComputeUnitsConsumed uint64      `json:"computeUnitsConsumed"`
}

type loadedAddrs struct {
	Writable []string `json:"writable"`
	Readonly []string `json:"readonly"`
}

type tokenBal struct {
	AccountIndex  int      `json:"accountIndex"`
	Mint          string   `json:"mint"`
	Owner         string   `json:"owner"`
	ProgramID     string   `json:"programId"`
	UITokenAmount uiAmount `json:"uiTokenAmount"`
}

// uiAmount is the RPC's token amount: the raw integer string, and the
// decimal forms (uiAmount is a JSON number, written from the exact decimal
// string so no float is computed here).
type uiAmount struct {
	Amount         string  `json:"amount"`
	Decimals       uint8   `json:"decimals"`
	UIAmount       numText `json:"uiAmount"`
	UIAmountString string  `json:"uiAmountString"`
}

// numText marshals a decimal string as a JSON number.
type numText string

func (n numText) MarshalJSON() ([]byte, error) { return []byte(n), nil }

func amountOf(v uint64, decimals uint8) uiAmount {
	s := payment.FormatUnits(v, decimals)
	return uiAmount{Amount: strconv.FormatUint(v, 10), Decimals: decimals, UIAmount: numText(s), UIAmountString: s}
}

type chain struct {
	slot        uint64
	clock       func() time.Time
	landAt      Commitment
	lamports    map[sol.PublicKey]uint64
	tokens      map[sol.PublicKey]*tokenAccount
	mints       map[sol.PublicKey]uint8
	tables      map[sol.PublicKey][]sol.PublicKey
	blockhashes map[sol.Hash]uint64
	latest      sol.Hash
	txs         map[sol.Signature]*entry
	byAddr      map[sol.PublicKey][]*entry
}

func newChain() *chain {
	c := &chain{
		slot: 1000, clock: time.Now, landAt: Processed,
		lamports: map[sol.PublicKey]uint64{}, tokens: map[sol.PublicKey]*tokenAccount{},
		mints: map[sol.PublicKey]uint8{}, tables: map[sol.PublicKey][]sol.PublicKey{},
		blockhashes: map[sol.Hash]uint64{}, txs: map[sol.Signature]*entry{}, byAddr: map[sol.PublicKey][]*entry{},
	}
	c.newSlot()
	return c
}

// newSlot advances the slot and rotates the blockhash.
func (c *chain) newSlot() {
	c.slot++
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], c.slot)
	c.latest = sha256.Sum256(append([]byte("solanatest blockhash "), b[:]...))
	c.blockhashes[c.latest] = c.slot
}

// instrError is a failed instruction: {"InstructionError":[i, err]}.
type instrError struct {
	index int
	err   any
}

func (e *instrError) Error() string {
	return fmt.Sprintf("Error processing Instruction %d: %v", e.index, e.err)
}

func custom(n int) any { return map[string]any{"Custom": n} }

// Token program error codes.
const (
	tokenInsufficientFunds     = 1
	tokenMintMismatch          = 3
	tokenOwnerMismatch         = 4
	tokenMintDecimalsMismatch  = 18
	systemResultWithNegLamport = 1
)

// execute checks and lands a transaction. With skipPreflight a
// transaction whose instructions fail lands failed (fee charged), as on
// the real network; without, it is refused like a failed simulation.
func (c *chain) execute(tx *sol.Transaction, skipPreflight bool) (sol.Signature, error) {
	raw, err := tx.MarshalBinary()
	if err != nil {
		return sol.Signature{}, invalidParams("transaction does not encode: %v", err)
	}
	if len(tx.Signatures) == 0 {
		return sol.Signature{}, invalidParams("transaction has no signatures")
	}
	if v := tx.Message.GetVersion(); v != sol.MessageVersionLegacy && v != sol.MessageVersionV0 {
		return sol.Signature{}, invalidParams("unsupported transaction version")
	}
	if err := tx.VerifySignatures(); err != nil {
		return sol.Signature{}, &rpcError{Code: codeSigVerify, Message: "Transaction signature verification failure"}
	}
	sig := tx.Signatures[0]
	if _, dup := c.txs[sig]; dup {
		return sol.Signature{}, simulationFailed("AlreadyProcessed", nil)
	}
	if at, ok := c.blockhashes[tx.Message.RecentBlockhash]; !ok || c.slot-at > blockhashLife {
		return sol.Signature{}, simulationFailed("BlockhashNotFound", nil)
	}
	keys, loadedW, loadedR, err := c.keys(tx)
	if err != nil {
		return sol.Signature{}, err
	}
	m := &tx.Message
	nSigned := int(m.Header.NumRequiredSignatures)
	nStatic := len(m.AccountKeys)
	signer := func(i int) bool { return i < nSigned }
	writable := func(i int) bool {
		switch {
		case i < nSigned:
			return i < nSigned-int(m.Header.NumReadonlySignedAccounts)
		case i < nStatic:
			return i < nStatic-int(m.Header.NumReadonlyUnsignedAccounts)
		default:
			return i < nStatic+len(loadedW)
		}
	}
	fee := uint64(FeePerSignature * len(tx.Signatures))
	payer := keys[0]
	if !writable(0) || c.lamports[payer] < fee {
		return sol.Signature{}, simulationFailed("AccountNotFound", nil)
	}

	meta := txMeta{Status: map[string]any{"Ok": nil}, Fee: fee, InnerInstructions: []any{}, Rewards: []any{},
		PreTokenBalances: []tokenBal{}, PostTokenBalances: []tokenBal{}}
	for _, k := range loadedW {
		meta.LoadedAddresses.Writable = append(meta.LoadedAddresses.Writable, k.String())
	}
	for _, k := range loadedR {
		meta.LoadedAddresses.Readonly = append(meta.LoadedAddresses.Readonly, k.String())
	}
	if meta.LoadedAddresses.Writable == nil {
		meta.LoadedAddresses.Writable = []string{}
	}
	if meta.LoadedAddresses.Readonly == nil {
		meta.LoadedAddresses.Readonly = []string{}
	}
	// Work on copies of the touched accounts; commit on success.
	lam := map[sol.PublicKey]uint64{}
	tok := map[sol.PublicKey]tokenAccount{}
	for i, k := range keys {
		lam[k] = c.lamports[k]
		meta.PreBalances = append(meta.PreBalances, c.lamports[k])
		if ta, ok := c.tokens[k]; ok {
			tok[k] = *ta
			meta.PreTokenBalances = append(meta.PreTokenBalances, c.tokenBal(i, *ta))
		}
	}
	lam[payer] -= fee
	feeOnly := map[sol.PublicKey]uint64{payer: lam[payer]}

	var memos []string
	var failure *instrError
	for i, ix := range m.Instructions {
		if int(ix.ProgramIDIndex) >= len(keys) {
			return sol.Signature{}, invalidParams("instruction %d: program index out of range", i)
		}
		for _, a := range ix.Accounts {
			if int(a) >= len(keys) {
				return sol.Signature{}, invalidParams("instruction %d: account index out of range", i)
			}
		}
		program := keys[ix.ProgramIDIndex]
		meta.LogMessages = append(meta.LogMessages, fmt.Sprintf("Program %s invoke [1]", program))
		acct := func(j int) (sol.PublicKey, int) { return keys[ix.Accounts[j]], int(ix.Accounts[j]) }
		var ierr any
		data := []byte(ix.Data)
		switch program {
		case sol.SystemProgramID:
			if len(data) != 12 || binary.LittleEndian.Uint32(data) != 2 || len(ix.Accounts) < 2 {
				ierr = "InvalidInstructionData"
				break
			}
			amount := binary.LittleEndian.Uint64(data[4:])
			from, fi := acct(0)
			to, ti := acct(1)
			switch {
			case !signer(fi):
				ierr = "MissingRequiredSignature"
			case !writable(fi) || !writable(ti):
				ierr = "ReadonlyLamportChange"
			case lam[from] < amount:
				meta.LogMessages = append(meta.LogMessages, fmt.Sprintf("Transfer: insufficient lamports %d, need %d", lam[from], amount))
				ierr = custom(systemResultWithNegLamport)
			default:
				lam[from] -= amount
				lam[to] += amount
			}
		case sol.TokenProgramID:
			if len(data) != 10 || data[0] != 12 || len(ix.Accounts) < 4 {
				ierr = "InvalidInstructionData"
				break
			}
			amount, decimals := binary.LittleEndian.Uint64(data[1:9]), data[9]
			src, _ := acct(0)
			mint, _ := acct(1)
			dst, di := acct(2)
			auth, ai := acct(3)
			s, sok := tok[src]
			d, dok := tok[dst]
			dec, mok := c.mints[mint]
			switch {
			case !sok || !dok || !mok || !writable(di):
				ierr = "InvalidAccountData"
			case s.mint != mint || d.mint != mint:
				ierr = custom(tokenMintMismatch)
			case dec != decimals:
				ierr = custom(tokenMintDecimalsMismatch)
			case s.owner != auth || !signer(ai):
				ierr = custom(tokenOwnerMismatch)
			case s.amount < amount:
				meta.LogMessages = append(meta.LogMessages, "Program log: Error: insufficient funds")
				ierr = custom(tokenInsufficientFunds)
			default:
				s.amount -= amount
				tok[src] = s
				d = tok[dst]
				d.amount += amount
				tok[dst] = d
			}
		case sol.MemoProgramID, sol.MemoProgramIDV1:
			for j := range ix.Accounts {
				if _, k := acct(j); !signer(k) {
					ierr = "MissingRequiredSignature"
				}
			}
			if !utf8.Valid(data) {
				ierr = "InvalidInstructionData"
			} else if ierr == nil {
				memos = append(memos, fmt.Sprintf("[%d] %s", len(data), data))
				meta.LogMessages = append(meta.LogMessages, fmt.Sprintf("Program log: Memo (len %d): %q", len(data), data))
			}
		case sol.ComputeBudget:
		default:
			ierr = "UnsupportedProgramId"
		}
		if ierr != nil {
			meta.LogMessages = append(meta.LogMessages, fmt.Sprintf("Program %s failed: %v", program, ierr))
			failure = &instrError{index: i, err: ierr}
			break
		}
		meta.LogMessages = append(meta.LogMessages, fmt.Sprintf("Program %s success", program))
	}
	if failure != nil {
		if !skipPreflight {
			return sol.Signature{}, simulationFailed(failure, meta.LogMessages)
		}
		meta.Err = map[string]any{"InstructionError": []any{failure.index, failure.err}}
		meta.Status = map[string]any{"Err": meta.Err}
		lam, tok = feeOnly, nil
	}
	for k, v := range lam {
		c.lamports[k] = v
	}
	for k, v := range tok {
		*c.tokens[k] = v
	}
	for _, k := range keys {
		meta.PostBalances = append(meta.PostBalances, c.lamports[k])
	}
	for i, k := range keys {
		if ta, ok := c.tokens[k]; ok {
			meta.PostTokenBalances = append(meta.PostTokenBalances, c.tokenBal(i, *ta))
		}
	}
	meta.ComputeUnitsConsumed = uint64(150 * len(m.Instructions))
	c.newSlot()
	e := &entry{sig: sig, tx: tx, raw: raw, slot: c.slot, blockTime: c.clock().Unix(), level: c.landAt,
		keys: keys, v0: tx.Message.GetVersion() == sol.MessageVersionV0, meta: meta}
	if len(memos) > 0 {
		s := strings.Join(memos, "; ")
		e.memo = &s
	}
	c.txs[sig] = e
	seen := map[sol.PublicKey]bool{}
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			c.byAddr[k] = append(c.byAddr[k], e)
		}
	}
	return sig, nil
}

func (c *chain) tokenBal(index int, ta tokenAccount) tokenBal {
	return tokenBal{AccountIndex: index, Mint: ta.mint.String(), Owner: ta.owner.String(),
		ProgramID: sol.TokenProgramID.String(), UITokenAmount: amountOf(ta.amount, c.mints[ta.mint])}
}

// keys resolves a transaction's account keys: static, then for v0 every
// lookup's writable addresses, then every lookup's readonly ones.
func (c *chain) keys(tx *sol.Transaction) (keys, loadedW, loadedR []sol.PublicKey, err error) {
	keys = append(keys, tx.Message.AccountKeys...)
	for _, l := range tx.Message.AddressTableLookups {
		table, ok := c.tables[l.AccountKey]
		if !ok {
			return nil, nil, nil, simulationFailed("AddressLookupTableNotFound", nil)
		}
		for _, idx := range l.WritableIndexes {
			if int(idx) >= len(table) {
				return nil, nil, nil, simulationFailed("InvalidAddressLookupTableIndex", nil)
			}
			loadedW = append(loadedW, table[idx])
		}
	}
	for _, l := range tx.Message.AddressTableLookups {
		table := c.tables[l.AccountKey]
		for _, idx := range l.ReadonlyIndexes {
			if int(idx) >= len(table) {
				return nil, nil, nil, simulationFailed("InvalidAddressLookupTableIndex", nil)
			}
			loadedR = append(loadedR, table[idx])
		}
	}
	keys = append(append(keys, loadedW...), loadedR...)
	if len(keys) == 0 {
		return nil, nil, nil, invalidParams("transaction has no account keys")
	}
	return keys, loadedW, loadedR, nil
}

// simulationFailed is sendTransaction's preflight error.
func simulationFailed(err any, logs []string) *rpcError {
	msg := fmt.Sprintf("Transaction simulation failed: %v", err)
	var ie *instrError
	if errors.As(asError(err), &ie) {
		msg = "Transaction simulation failed: " + ie.Error()
		err = map[string]any{"InstructionError": []any{ie.index, ie.err}}
	}
	if logs == nil {
		logs = []string{}
	}
	return &rpcError{Code: codeSimulation, Message: msg, Data: map[string]any{"err": err, "logs": logs, "accounts": nil, "unitsConsumed": 0}}
}

func asError(v any) error {
	if e, ok := v.(error); ok {
		return e
	}
	return nil
}
