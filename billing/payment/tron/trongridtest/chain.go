// Package trongridtest is an in-process stand-in for TronGrid: a small
// Tron chain (blocks, a solidified head, TRX transfers and TRC-20 token
// contracts) behind the HTTP API's real paths and JSON shapes. Every
// transaction it holds is real: raw_data is the protobuf encoding of
// Transaction.raw, txID its SHA-256 and each signature a recoverable
// secp256k1 signature of txID by the sender's key, so a client that
// checks what it is served (as billing/payment/tron does) is tested
// against the same checks the chain makes. Faults (HTTP errors, garbage,
// hangs) and the API key are switchable.
package trongridtest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/aerolithdb/aerolith/billing/payment/tron"
)

// Key derives a deterministic private key from seed, for test accounts.
func Key(seed string) *secp256k1.PrivateKey {
	h := sha256.Sum256([]byte("trongridtest key " + seed))
	return secp256k1.PrivKeyFromBytes(h[:])
}

// Addr is the Tron address of key.
func Addr(key *secp256k1.PrivateKey) tron.Address { return tron.PublicKeyAddress(key.PubKey()) }

// entry is one transaction the chain knows.
type entry struct {
	tx    tron.TxJSON
	raw   *tron.RawData
	block int64 // 0 while in the mempool
	info  tron.TxInfoJSON
	// movements of a successful TRC-20 transfer, for the /v1 listing.
	trc20 []trc20Move
	opts  txOpts
}

type trc20Move struct {
	contract, from, to tron.Address
	value              *big.Int
}

type block struct {
	number int64
	id     [32]byte
	time   int64 // unix ms
	txs    []string
}

// TxOption changes how Send* builds and executes a transaction.
type TxOption func(*txOpts)

type txOpts struct {
	result    string // receipt result of a contract call; "" = SUCCESS
	signer    *secp256k1.PrivateKey
	zeroV     bool
	memo      []byte
	mempool   bool
	extraLogs []tron.LogJSON
}

// Fail makes a contract call fail with receipt result r (REVERT,
// OUT_OF_ENERGY, …): no logs, result FAILED, fee still charged.
func Fail(r string) TxOption { return func(o *txOpts) { o.result = r } }

// SignedBy signs with key instead of the sender's own.
func SignedBy(key *secp256k1.PrivateKey) TxOption { return func(o *txOpts) { o.signer = key } }

// ZeroV writes the recovery id as 0/1 (java-tron's form) rather than 27/28.
func ZeroV() TxOption { return func(o *txOpts) { o.zeroV = true } }

// Memo sets raw_data.data.
func Memo(m string) TxOption { return func(o *txOpts) { o.memo = []byte(m) } }

// InMempool keeps the transaction out of blocks until Mine is called.
func InMempool() TxOption { return func(o *txOpts) { o.mempool = true } }

// ExtraLogs adds logs to a contract call's info (a contract that emits
// more than the token's own Transfer).
func ExtraLogs(l ...tron.LogJSON) TxOption {
	return func(o *txOpts) { o.extraLogs = append(o.extraLogs, l...) }
}

// chain is the ledger behind the server; all methods hold s.mu.
type chain struct {
	blocks []block // blocks[0] is genesis
	solid  int64
	txs    map[string]*entry
	tokens map[tron.Address]string // contract → symbol
	mem    []string
	// trx is the TRX balance of each account (an account exists once it
	// has received TRX); bal the token balances, contract → holder.
	trx map[tron.Address]int64
	bal map[tron.Address]map[tron.Address]*big.Int
}

func newChain() *chain {
	c := &chain{txs: map[string]*entry{}, tokens: map[tron.Address]string{}, trx: map[tron.Address]int64{}, bal: map[tron.Address]map[tron.Address]*big.Int{}}
	c.blocks = []block{{number: 0, time: time.Now().UnixMilli()}}
	c.blocks[0].id = blockID(0, []byte("genesis"))
	return c
}

func blockID(n int64, seed []byte) [32]byte {
	h := sha256.Sum256(append(binary.BigEndian.AppendUint64(nil, uint64(n)), seed...))
	binary.BigEndian.PutUint64(h[:8], uint64(n)) // java-tron block ids start with the number
	return h
}

func (c *chain) head() *block { return &c.blocks[len(c.blocks)-1] }

// rawFor fills in the reference block and times as java-tron does.
func (c *chain) rawFor(contract tron.Contract, memo []byte, feeLimit int64) *tron.RawData {
	h := c.head()
	var num [8]byte
	binary.BigEndian.PutUint64(num[:], uint64(h.number))
	now := time.Now().UnixMilli()
	return &tron.RawData{
		RefBlockBytes: num[6:8],
		RefBlockHash:  h.id[8:16],
		Expiration:    now + 60_000,
		Data:          memo,
		Contracts:     []tron.Contract{contract},
		Timestamp:     now,
		FeeLimit:      feeLimit,
	}
}

// txJSON renders a signed transaction as /wallet/gettransactionbyid does.
func txJSON(raw *tron.RawData, sigs [][]byte, ret string) tron.TxJSON {
	b := raw.Marshal()
	id := tron.TxID(b)
	j := tron.TxJSON{TxID: hex.EncodeToString(id[:]), RawDataHex: hex.EncodeToString(b), RawData: rawJSON(raw)}
	for _, s := range sigs {
		j.Signature = append(j.Signature, hex.EncodeToString(s))
	}
	if ret != "" {
		j.Ret = []tron.TxRet{{ContractRet: ret}}
	}
	return j
}

func rawJSON(r *tron.RawData) json.RawMessage {
	type param struct {
		Value   map[string]any `json:"value"`
		TypeURL string         `json:"type_url"`
	}
	type contract struct {
		Parameter param  `json:"parameter"`
		Type      string `json:"type"`
	}
	m := map[string]any{
		"ref_block_bytes": hex.EncodeToString(r.RefBlockBytes),
		"ref_block_hash":  hex.EncodeToString(r.RefBlockHash),
		"expiration":      r.Expiration,
		"timestamp":       r.Timestamp,
	}
	if len(r.Data) > 0 {
		m["data"] = hex.EncodeToString(r.Data)
	}
	if r.FeeLimit > 0 {
		m["fee_limit"] = r.FeeLimit
	}
	var cs []contract
	for _, c := range r.Contracts {
		ct := contract{Type: c.Type.String(), Parameter: param{TypeURL: c.TypeURL}}
		switch {
		case c.Transfer != nil:
			ct.Parameter.Value = map[string]any{"owner_address": c.Transfer.Owner.Hex(), "to_address": c.Transfer.To.Hex(), "amount": c.Transfer.Amount}
			if ct.Parameter.TypeURL == "" {
				ct.Parameter.TypeURL = tron.TransferContractURL
			}
		case c.Trigger != nil:
			ct.Parameter.Value = map[string]any{"owner_address": c.Trigger.Owner.Hex(), "contract_address": c.Trigger.Contract.Hex(), "data": hex.EncodeToString(c.Trigger.Data)}
			if ct.Parameter.TypeURL == "" {
				ct.Parameter.TypeURL = tron.TriggerSmartContractURL
			}
		}
		cs = append(cs, ct)
	}
	m["contract"] = cs
	b, _ := json.Marshal(m)
	return b
}

// execute runs a signed transaction: its info, receipt and logs. It is
// called when the transaction enters a block.
func (c *chain) execute(e *entry, blk *block) {
	o := e.opts
	ct := e.raw.Contracts[0]
	e.info = tron.TxInfoJSON{ID: e.tx.TxID, BlockNumber: blk.number, BlockTimeStamp: blk.time, ContractResult: []string{""}}
	if t := ct.Transfer; t != nil {
		c.trx[t.Owner] -= t.Amount
		c.trx[t.To] += t.Amount
		e.info.Receipt = tron.ReceiptJSON{NetUsage: 268}
		e.tx.Ret = []tron.TxRet{{ContractRet: "SUCCESS"}}
		return
	}
	t := ct.Trigger
	e.info.ContractAddress = t.Contract.Hex()
	e.info.Receipt = tron.ReceiptJSON{EnergyUsageTotal: 14650, NetUsage: 345}
	_, isToken := c.tokens[t.Contract]
	to, value, err := tron.DecodeTRC20Transfer(t.Data)
	result := o.result
	if result == "" && (!isToken || err != nil || c.tokenBalance(t.Contract, t.Owner).Cmp(value) < 0) {
		result = "REVERT" // no such token, not transfer(), or not enough tokens
	}
	if result != "" {
		e.info.Result = "FAILED"
		e.info.Fee = 13_890_000
		e.info.Receipt.Result = result
		e.info.Receipt.EnergyFee = 13_890_000
		e.info.ResMessage = hex.EncodeToString([]byte(resMessage(result)))
		e.tx.Ret = []tron.TxRet{{ContractRet: result}}
		return
	}
	c.tokenBalance(t.Contract, t.Owner).Sub(c.tokenBalance(t.Contract, t.Owner), value)
	c.tokenBalance(t.Contract, to).Add(c.tokenBalance(t.Contract, to), value)
	e.info.Receipt.Result = "SUCCESS"
	e.info.Fee = 6_429_000
	e.info.Receipt.EnergyFee = 6_429_000
	e.info.ContractResult = []string{fmt.Sprintf("%064x", 1)}
	e.info.Log = append(e.info.Log, tron.LogJSON{
		Address: hex.EncodeToString(t.Contract.EVM()),
		Topics:  []string{hex.EncodeToString(tron.TransferEventTopic[:]), word(t.Owner), word(to)},
		Data:    fmt.Sprintf("%064x", value),
	})
	e.info.Log = append(e.info.Log, o.extraLogs...)
	e.trc20 = append(e.trc20, trc20Move{contract: t.Contract, from: t.Owner, to: to, value: value})
	for _, l := range o.extraLogs {
		lg, err := decodeLog(l)
		if err != nil {
			continue
		}
		if from, to, v, ok := lg.TRC20Transfer(); ok {
			e.trc20 = append(e.trc20, trc20Move{contract: lg.Address, from: from, to: to, value: v})
		}
	}
	e.tx.Ret = []tron.TxRet{{ContractRet: "SUCCESS"}}
}

func decodeLog(l tron.LogJSON) (tron.Log, error) {
	b, err := json.Marshal(tron.TxInfoJSON{ID: fmt.Sprintf("%064x", 1), BlockNumber: 1, Log: []tron.LogJSON{l}})
	if err != nil {
		return tron.Log{}, err
	}
	info, err := tron.DecodeTransactionInfo(b)
	if err != nil {
		return tron.Log{}, err
	}
	return info.Logs[0], nil
}

func resMessage(result string) string {
	switch result {
	case "REVERT":
		return "REVERT opcode executed"
	case "OUT_OF_ENERGY":
		return "Not enough energy for 'SSTORE' operation executing: curETH = 0"
	}
	return result
}

// word is an address as a 32-byte ABI word in hex.
func word(a tron.Address) string { return fmt.Sprintf("%064x", a.EVM()) }

// tokenBalance is holder's balance of token, created at zero.
func (c *chain) tokenBalance(token, holder tron.Address) *big.Int {
	m := c.bal[token]
	if m == nil {
		m = map[tron.Address]*big.Int{}
		c.bal[token] = m
	}
	if m[holder] == nil {
		m[holder] = new(big.Int)
	}
	return m[holder]
}

// validate is java-tron's check before a transaction enters the
// mempool: a TRX transfer needs the balance (counting what the mempool
// already spends) and may not be to oneself.
func (c *chain) validate(raw *tron.RawData) error {
	t := raw.Contracts[0].Transfer
	if t == nil {
		return nil
	}
	if t.Owner == t.To {
		return errors.New("Cannot transfer TRX to yourself.") // java-tron's words
	}
	pending := int64(0)
	for _, id := range c.mem {
		if p := c.txs[id].raw.Contracts[0].Transfer; p != nil && p.Owner == t.Owner {
			pending += p.Amount
		}
	}
	if c.trx[t.Owner]-pending < t.Amount {
		return errors.New("Validate TransferContract error, balance is not sufficient.")
	}
	return nil
}

// mine puts the mempool into a new block.
func (c *chain) mine() *block {
	prev := c.head()
	n := prev.number + 1
	t := max(time.Now().UnixMilli(), prev.time+1)
	blk := block{number: n, time: t, id: blockID(n, prev.id[:])}
	c.blocks = append(c.blocks, blk)
	b := c.head()
	for _, id := range c.mem {
		e := c.txs[id]
		e.block = n
		b.txs = append(b.txs, id)
		c.execute(e, b)
	}
	c.mem = nil
	return b
}
