package tron

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// TronGrid's JSON shapes (java-tron's HTTP API with visible=false, so
// addresses are 41… hex) and their strict decoders. Everything that comes
// back from a node is untrusted: a transaction counts only when its raw
// bytes hash to its id and its signature recovers to its owner.

// ErrNotFound is returned when the node does not know the transaction (it
// answers {}); for the solidity endpoints that includes a transaction that
// is not solidified yet.
var ErrNotFound = errors.New("transaction not found")

// ErrBadResponse is wrapped by every error decoding a node's answer.
var ErrBadResponse = errors.New("invalid trongrid response")

// TxJSON is a transaction as /wallet/gettransactionbyid, /wallet/
// createtransaction and /v1/accounts/{a}/transactions render it.
type TxJSON struct {
	TxID       string          `json:"txID"`
	RawData    json.RawMessage `json:"raw_data,omitempty"`
	RawDataHex string          `json:"raw_data_hex"`
	Signature  []string        `json:"signature,omitempty"`
	Ret        []TxRet         `json:"ret,omitempty"`
	Visible    bool            `json:"visible,omitempty"`
	// Only in /v1 listings.
	BlockNumber    int64 `json:"blockNumber,omitempty"`
	BlockTimestamp int64 `json:"block_timestamp,omitempty"`
}

// TxRet is one entry of a transaction's ret array.
type TxRet struct {
	ContractRet string `json:"contractRet,omitempty"`
	Fee         int64  `json:"fee,omitempty"`
}

// TxInfoJSON is /wallet(solidity)/gettransactioninfobyid's answer.
type TxInfoJSON struct {
	ID              string      `json:"id"`
	Fee             int64       `json:"fee,omitempty"`
	BlockNumber     int64       `json:"blockNumber"`
	BlockTimeStamp  int64       `json:"blockTimeStamp"`
	ContractResult  []string    `json:"contractResult,omitempty"`
	ContractAddress string      `json:"contract_address,omitempty"`
	Receipt         ReceiptJSON `json:"receipt"`
	Log             []LogJSON   `json:"log,omitempty"`
	Result          string      `json:"result,omitempty"` // FAILED, else absent
	ResMessage      string      `json:"resMessage,omitempty"`
}

// ReceiptJSON is the resource receipt; Result is set for contract calls
// (SUCCESS, REVERT, OUT_OF_ENERGY, …) and absent for plain TRX transfers.
type ReceiptJSON struct {
	EnergyUsageTotal int64  `json:"energy_usage_total,omitempty"`
	EnergyFee        int64  `json:"energy_fee,omitempty"`
	NetUsage         int64  `json:"net_usage,omitempty"`
	NetFee           int64  `json:"net_fee,omitempty"`
	Result           string `json:"result,omitempty"`
}

// LogJSON is an event log; Address is the emitting contract's 20 bytes
// (no 41 prefix), topics and data are hex.
type LogJSON struct {
	Address string   `json:"address"`
	Topics  []string `json:"topics"`
	Data    string   `json:"data"`
}

// Transaction is a decoded, self-consistent transaction: ID is the
// SHA-256 of Raw and RawData is Raw decoded.
type Transaction struct {
	ID         string // 64 hex digits
	Raw        []byte
	RawData    *RawData
	Signatures [][]byte
	// ContractRet is ret[0].contractRet ("" when the node gave none).
	ContractRet string
	// JSON is the node's rendering, kept to broadcast it back unchanged.
	JSON TxJSON
}

// TransactionInfo is a decoded transaction info.
type TransactionInfo struct {
	ID              string
	BlockNumber     int64
	BlockTime       time.Time
	Fee             int64
	ContractAddress Address // zero for non-contract transactions
	ReceiptResult   string
	Failed          bool   // result FAILED
	Message         string // resMessage decoded
	Logs            []Log
}

// Log is a decoded event log.
type Log struct {
	Address Address
	Topics  [][32]byte
	Data    []byte
}

// isEmptyObject reports a body that is {} (how java-tron says not found).
func isEmptyObject(body []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(body, &m) == nil && len(m) == 0
}

// DecodeTransaction decodes a transaction answer. {} is ErrNotFound; an
// {"Error": …} answer, a raw_data_hex that does not hash to txID or does
// not decode, or a signature that is not 65 bytes are ErrBadResponse.
func DecodeTransaction(body []byte) (*Transaction, error) {
	if isEmptyObject(body) {
		return nil, ErrNotFound
	}
	if err := nodeError(body); err != nil {
		return nil, err
	}
	var j TxJSON
	if err := strictUnmarshal(body, &j); err != nil {
		return nil, fmt.Errorf("%w: transaction: %v", ErrBadResponse, err)
	}
	return TransactionFromJSON(j)
}

// TransactionFromJSON checks and decodes one TxJSON.
func TransactionFromJSON(j TxJSON) (*Transaction, error) {
	id, err := ParseTxID(j.TxID)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	raw, err := hex.DecodeString(j.RawDataHex)
	if err != nil || len(raw) == 0 {
		return nil, fmt.Errorf("%w: transaction %s: raw_data_hex missing or not hex", ErrBadResponse, id)
	}
	if sum := TxID(raw); hex.EncodeToString(sum[:]) != id {
		return nil, fmt.Errorf("%w: transaction %s: raw_data_hex hashes to %x", ErrBadResponse, id, sum)
	}
	rd, err := DecodeRawData(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: transaction %s: %w", ErrBadResponse, id, err)
	}
	tx := &Transaction{ID: id, Raw: raw, RawData: rd, JSON: j}
	for i, s := range j.Signature {
		sig, err := hex.DecodeString(s)
		if err != nil || len(sig) != SignatureLen {
			return nil, fmt.Errorf("%w: transaction %s: signature %d is not 65 bytes of hex", ErrBadResponse, id, i)
		}
		tx.Signatures = append(tx.Signatures, sig)
	}
	if len(j.Ret) > 0 {
		tx.ContractRet = j.Ret[0].ContractRet
	}
	return tx, nil
}

// SignedBy reports whether one of tx's signatures recovers to owner.
// Multi-signature permissions are not followed: a transfer counts only
// when the owner's own key signed it.
func (tx *Transaction) SignedBy(owner Address) bool {
	id := TxID(tx.Raw)
	for _, sig := range tx.Signatures {
		if a, err := RecoverSigner(id, sig); err == nil && a == owner {
			return true
		}
	}
	return false
}

// DecodeTransactionInfo decodes a transaction info answer; {} is
// ErrNotFound.
func DecodeTransactionInfo(body []byte) (*TransactionInfo, error) {
	if isEmptyObject(body) {
		return nil, ErrNotFound
	}
	if err := nodeError(body); err != nil {
		return nil, err
	}
	var j TxInfoJSON
	if err := strictUnmarshal(body, &j); err != nil {
		return nil, fmt.Errorf("%w: transaction info: %v", ErrBadResponse, err)
	}
	id, err := ParseTxID(j.ID)
	if err != nil {
		return nil, fmt.Errorf("%w: transaction info: %v", ErrBadResponse, err)
	}
	if j.BlockNumber <= 0 {
		return nil, fmt.Errorf("%w: transaction info %s: block number %d", ErrBadResponse, id, j.BlockNumber)
	}
	info := &TransactionInfo{
		ID:            id,
		BlockNumber:   j.BlockNumber,
		BlockTime:     time.UnixMilli(j.BlockTimeStamp).UTC(),
		Fee:           j.Fee,
		ReceiptResult: j.Receipt.Result,
		Failed:        j.Result == "FAILED",
	}
	// java-tron's enum spells success SUCESS; proto3 JSON omits it (0).
	if j.Result != "" && j.Result != "FAILED" && j.Result != "SUCESS" && j.Result != "SUCCESS" {
		return nil, fmt.Errorf("%w: transaction info %s: result %q", ErrBadResponse, id, clip(j.Result))
	}
	if j.ResMessage != "" {
		if m, err := hex.DecodeString(j.ResMessage); err == nil {
			info.Message = string(m)
		} else {
			info.Message = j.ResMessage
		}
	}
	if j.ContractAddress != "" {
		if info.ContractAddress, err = ParseAddress(j.ContractAddress); err != nil {
			return nil, fmt.Errorf("%w: transaction info %s: contract_address: %w", ErrBadResponse, id, err)
		}
	}
	for i, l := range j.Log {
		lg, err := decodeLog(l)
		if err != nil {
			return nil, fmt.Errorf("%w: transaction info %s: log %d: %w", ErrBadResponse, id, i, err)
		}
		info.Logs = append(info.Logs, lg)
	}
	return info, nil
}

func decodeLog(l LogJSON) (Log, error) {
	var lg Log
	a, err := hex.DecodeString(l.Address)
	if err != nil {
		return lg, fmt.Errorf("address not hex")
	}
	switch len(a) {
	case AddressLen - 1:
		lg.Address, err = AddressFromEVM(a)
	default:
		lg.Address, err = AddressFromBytes(a)
	}
	if err != nil {
		return lg, err
	}
	for _, t := range l.Topics {
		b, err := hex.DecodeString(t)
		if err != nil || len(b) != 32 {
			return lg, fmt.Errorf("topic %q is not 32 bytes of hex", clip(t))
		}
		lg.Topics = append(lg.Topics, [32]byte(b))
	}
	if lg.Data, err = hex.DecodeString(l.Data); err != nil {
		return lg, fmt.Errorf("data not hex")
	}
	return lg, nil
}

// TRC20Transfer decodes l as a TRC-20 Transfer(address,address,uint256)
// event; ok is false for any other log.
func (l Log) TRC20Transfer() (from, to Address, value *big.Int, ok bool) {
	if len(l.Topics) != 3 || l.Topics[0] != TransferEventTopic || len(l.Data) != 32 {
		return from, to, nil, false
	}
	var err1, err2 error
	from, err1 = wordAddress(l.Topics[1][:])
	to, err2 = wordAddress(l.Topics[2][:])
	if err1 != nil || err2 != nil {
		return from, to, nil, false
	}
	return from, to, new(big.Int).SetBytes(l.Data), true
}

// ParseTxID checks a transaction id: 64 hex digits (any case, returned
// lower case).
func ParseTxID(s string) (string, error) {
	if len(s) != 64 {
		return "", fmt.Errorf("transaction id %q is not 64 hex digits", clip(s))
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", fmt.Errorf("transaction id %q is not 64 hex digits", clip(s))
	}
	return strings.ToLower(s), nil
}

// nodeError turns java-tron's {"Error": "…"} answer into an error.
func nodeError(body []byte) error {
	var e struct {
		Error string `json:"Error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return fmt.Errorf("%w: node error: %s", ErrBadResponse, clip(e.Error))
	}
	return nil
}

// strictUnmarshal decodes one JSON value; unknown fields are allowed (the
// node adds fields over time) but trailing data is not.
func strictUnmarshal(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the json value")
	}
	return nil
}
