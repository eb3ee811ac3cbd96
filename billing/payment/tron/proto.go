package tron

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"

	"google.golang.org/protobuf/encoding/protowire"
)

// The protobuf encoding of Tron's Transaction.raw (java-tron's
// protocol/Tron.proto), written by hand with protowire: a transaction's id
// is the SHA-256 of these bytes and its signatures sign that id, so the
// bytes a node returns (raw_data_hex) are what this package trusts, never
// the JSON rendering beside them.

// ErrBadTransaction is wrapped by every error decoding a transaction's raw
// data or its contract.
var ErrBadTransaction = errors.New("invalid tron transaction")

// ContractType is Transaction.Contract.ContractType.
type ContractType int32

// The contract types this package builds and verifies.
const (
	TransferContractType     ContractType = 1
	TriggerSmartContractType ContractType = 31
)

// Type URLs of the google.protobuf.Any wrapping a contract's parameter.
const (
	TransferContractURL     = "type.googleapis.com/protocol.TransferContract"
	TriggerSmartContractURL = "type.googleapis.com/protocol.TriggerSmartContract"
)

// String names the type as TronGrid's JSON does.
func (t ContractType) String() string {
	switch t {
	case TransferContractType:
		return "TransferContract"
	case TriggerSmartContractType:
		return "TriggerSmartContract"
	}
	return fmt.Sprintf("ContractType(%d)", int32(t))
}

// RawData is Transaction.raw: the signed part of a transaction.
type RawData struct {
	RefBlockBytes []byte // field 1
	RefBlockNum   int64  // field 3
	RefBlockHash  []byte // field 4
	Expiration    int64  // field 8, unix milliseconds
	Data          []byte // field 10, the memo
	Contracts     []Contract
	Timestamp     int64 // field 14, unix milliseconds
	FeeLimit      int64 // field 18, sun
}

// Contract is one Transaction.Contract; exactly one of Transfer and Trigger
// is set for the types this package knows, neither for others.
type Contract struct {
	Type         ContractType
	TypeURL      string
	PermissionID int32
	Transfer     *TransferContract
	Trigger      *TriggerSmartContract
}

// TransferContract moves native TRX (amount in sun).
type TransferContract struct {
	Owner  Address
	To     Address
	Amount int64
}

// TriggerSmartContract calls a contract; a TRC-20 transfer is one whose
// Data is transfer(address,uint256).
type TriggerSmartContract struct {
	Owner          Address
	Contract       Address
	CallValue      int64
	Data           []byte
	CallTokenValue int64
	TokenID        int64
}

// Marshal encodes r in field order, omitting zero scalars as proto3 does.
func (r *RawData) Marshal() []byte {
	var b []byte
	b = appendBytes(b, 1, r.RefBlockBytes)
	b = appendInt(b, 3, r.RefBlockNum)
	b = appendBytes(b, 4, r.RefBlockHash)
	b = appendInt(b, 8, r.Expiration)
	b = appendBytes(b, 10, r.Data)
	for _, c := range r.Contracts {
		b = protowire.AppendTag(b, 11, protowire.BytesType)
		b = protowire.AppendBytes(b, c.marshal())
	}
	b = appendInt(b, 14, r.Timestamp)
	b = appendInt(b, 18, r.FeeLimit)
	return b
}

func (c *Contract) marshal() []byte {
	var value []byte
	url := c.TypeURL
	switch {
	case c.Transfer != nil:
		value = appendBytes(value, 1, c.Transfer.Owner[:])
		value = appendBytes(value, 2, c.Transfer.To[:])
		value = appendInt(value, 3, c.Transfer.Amount)
		if url == "" {
			url = TransferContractURL
		}
	case c.Trigger != nil:
		t := c.Trigger
		value = appendBytes(value, 1, t.Owner[:])
		value = appendBytes(value, 2, t.Contract[:])
		value = appendInt(value, 3, t.CallValue)
		value = appendBytes(value, 4, t.Data)
		value = appendInt(value, 5, t.CallTokenValue)
		value = appendInt(value, 6, t.TokenID)
		if url == "" {
			url = TriggerSmartContractURL
		}
	}
	var anyMsg []byte
	anyMsg = appendBytes(anyMsg, 1, []byte(url))
	anyMsg = appendBytes(anyMsg, 2, value)
	var b []byte
	b = appendInt(b, 1, int64(c.Type))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, anyMsg)
	b = appendInt(b, 5, int64(c.PermissionID))
	return b
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendInt(b []byte, num protowire.Number, v int64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

// TxID is the id of a transaction: the SHA-256 of its raw data bytes.
func TxID(raw []byte) [32]byte { return sha256.Sum256(raw) }

// DecodeRawData decodes Transaction.raw. Fields this package does not use
// (auths, scripts, unknown numbers) are skipped as protobuf requires; a
// contract of a known type whose parameter does not decode, or whose type
// URL disagrees with its type, is an error.
func DecodeRawData(b []byte) (*RawData, error) {
	r := &RawData{}
	err := walk(b, "raw_data", func(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			r.RefBlockBytes = bs
		case num == 3 && typ == protowire.VarintType:
			r.RefBlockNum = int64(v)
		case num == 4 && typ == protowire.BytesType:
			r.RefBlockHash = bs
		case num == 8 && typ == protowire.VarintType:
			r.Expiration = int64(v)
		case num == 10 && typ == protowire.BytesType:
			r.Data = bs
		case num == 11 && typ == protowire.BytesType:
			c, err := decodeContract(bs)
			if err != nil {
				return err
			}
			r.Contracts = append(r.Contracts, c)
		case num == 14 && typ == protowire.VarintType:
			r.Timestamp = int64(v)
		case num == 18 && typ == protowire.VarintType:
			r.FeeLimit = int64(v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func decodeContract(b []byte) (Contract, error) {
	var c Contract
	var anyMsg []byte
	err := walk(b, "contract", func(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			c.Type = ContractType(int32(v))
		case num == 2 && typ == protowire.BytesType:
			anyMsg = bs
		case num == 5 && typ == protowire.VarintType:
			c.PermissionID = int32(v)
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	var value []byte
	err = walk(anyMsg, "contract parameter", func(num protowire.Number, typ protowire.Type, _ uint64, bs []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			c.TypeURL = string(bs)
		case num == 2 && typ == protowire.BytesType:
			value = bs
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	switch c.Type {
	case TransferContractType:
		if c.TypeURL != TransferContractURL {
			return c, fmt.Errorf("%w: TransferContract with type url %q", ErrBadTransaction, clip(c.TypeURL))
		}
		t, err := decodeTransfer(value)
		if err != nil {
			return c, err
		}
		c.Transfer = t
	case TriggerSmartContractType:
		if c.TypeURL != TriggerSmartContractURL {
			return c, fmt.Errorf("%w: TriggerSmartContract with type url %q", ErrBadTransaction, clip(c.TypeURL))
		}
		t, err := decodeTrigger(value)
		if err != nil {
			return c, err
		}
		c.Trigger = t
	}
	return c, nil
}

func decodeTransfer(b []byte) (*TransferContract, error) {
	t := &TransferContract{}
	err := walk(b, "TransferContract", func(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error {
		var err error
		switch {
		case num == 1 && typ == protowire.BytesType:
			t.Owner, err = fieldAddress("owner_address", bs)
		case num == 2 && typ == protowire.BytesType:
			t.To, err = fieldAddress("to_address", bs)
		case num == 3 && typ == protowire.VarintType:
			t.Amount = int64(v)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if t.Owner.IsZero() || t.To.IsZero() {
		return nil, fmt.Errorf("%w: TransferContract without owner or recipient", ErrBadTransaction)
	}
	if t.Amount <= 0 { // the chain refuses these; a node serving one is lying
		return nil, fmt.Errorf("%w: TransferContract amount %d", ErrBadTransaction, t.Amount)
	}
	return t, nil
}

func decodeTrigger(b []byte) (*TriggerSmartContract, error) {
	t := &TriggerSmartContract{}
	err := walk(b, "TriggerSmartContract", func(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error {
		var err error
		switch {
		case num == 1 && typ == protowire.BytesType:
			t.Owner, err = fieldAddress("owner_address", bs)
		case num == 2 && typ == protowire.BytesType:
			t.Contract, err = fieldAddress("contract_address", bs)
		case num == 3 && typ == protowire.VarintType:
			t.CallValue = int64(v)
		case num == 4 && typ == protowire.BytesType:
			t.Data = bs
		case num == 5 && typ == protowire.VarintType:
			t.CallTokenValue = int64(v)
		case num == 6 && typ == protowire.VarintType:
			t.TokenID = int64(v)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if t.Owner.IsZero() || t.Contract.IsZero() {
		return nil, fmt.Errorf("%w: TriggerSmartContract without owner or contract", ErrBadTransaction)
	}
	return t, nil
}

func fieldAddress(name string, b []byte) (Address, error) {
	a, err := AddressFromBytes(b)
	if err != nil {
		return a, fmt.Errorf("%w: %s: %w", ErrBadTransaction, name, err)
	}
	return a, nil
}

// walk calls f for each field of a protobuf message: v for varints, bs for
// length-delimited fields (a sub-slice of b). Other wire types are skipped.
func walk(b []byte, what string, f func(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %s: %v", ErrBadTransaction, what, protowire.ParseError(n))
		}
		b = b[n:]
		var v uint64
		var bs []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			bs, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: %s field %d: %v", ErrBadTransaction, what, num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := f(num, typ, v, bs); err != nil {
			return err
		}
	}
	return nil
}

// TRC-20 ABI pieces.
var (
	// transferSelector is the first 4 bytes of keccak("transfer(address,uint256)").
	transferSelector = [4]byte{0xa9, 0x05, 0x9c, 0xbb}
	// TransferEventTopic is keccak("Transfer(address,address,uint256)"),
	// topic 0 of a TRC-20 Transfer event log.
	TransferEventTopic = Keccak256([]byte("Transfer(address,address,uint256)"))
)

var maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// EncodeTRC20Transfer is the call data of transfer(to, value).
func EncodeTRC20Transfer(to Address, value *big.Int) ([]byte, error) {
	if value.Sign() < 0 || value.Cmp(maxUint256) > 0 {
		return nil, fmt.Errorf("trc20 value %s out of uint256 range", value)
	}
	b := make([]byte, 4+64)
	copy(b, transferSelector[:])
	copy(b[4+12:4+32], to[1:])
	value.FillBytes(b[4+32:])
	return b, nil
}

// DecodeTRC20Transfer reads transfer(address,uint256) call data. The
// address word must have its upper 12 bytes zero (as the ABI encodes it).
func DecodeTRC20Transfer(data []byte) (Address, *big.Int, error) {
	if len(data) != 4+64 || [4]byte(data[:4]) != transferSelector {
		return Address{}, nil, fmt.Errorf("%w: call data is not transfer(address,uint256)", ErrBadTransaction)
	}
	to, err := wordAddress(data[4 : 4+32])
	if err != nil {
		return Address{}, nil, err
	}
	return to, new(big.Int).SetBytes(data[4+32:]), nil
}

func wordAddress(w []byte) (Address, error) {
	for _, c := range w[:12] {
		if c != 0 {
			return Address{}, fmt.Errorf("%w: address word with non-zero upper bytes", ErrBadTransaction)
		}
	}
	return AddressFromEVM(w[12:32])
}
