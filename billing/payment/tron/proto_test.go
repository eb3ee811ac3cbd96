package tron

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/big"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// tronSchema is the part of java-tron's protocol/Tron.proto and
// contract/*.proto this package encodes by hand (field numbers and types
// as upstream; google.protobuf.Any spelled out as its two fields), so the
// hand-written encoding is checked against protobuf-go's own marshaller.
func tronSchema(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	f := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, label descriptorpb.FieldDescriptorProto_Label, msg string) *descriptorpb.FieldDescriptorProto {
		fd := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label.Enum(), JsonName: proto.String(name)}
		if msg != "" {
			fd.TypeName = proto.String(".protocol." + msg)
		}
		return fd
	}
	const (
		opt = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
		rep = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
		by  = descriptorpb.FieldDescriptorProto_TYPE_BYTES
		i64 = descriptorpb.FieldDescriptorProto_TYPE_INT64
		i32 = descriptorpb.FieldDescriptorProto_TYPE_INT32
		str = descriptorpb.FieldDescriptorProto_TYPE_STRING
		msg = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	)
	file := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("tron_subset.proto"),
		Package: proto.String("protocol"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Any"), Field: []*descriptorpb.FieldDescriptorProto{f("type_url", 1, str, opt, ""), f("value", 2, by, opt, "")}},
			{Name: proto.String("Contract"), Field: []*descriptorpb.FieldDescriptorProto{
				f("type", 1, i32, opt, ""), f("parameter", 2, msg, opt, "Any"), f("provider", 3, by, opt, ""),
				f("ContractName", 4, by, opt, ""), f("Permission_id", 5, i32, opt, "")}},
			{Name: proto.String("raw"), Field: []*descriptorpb.FieldDescriptorProto{
				f("ref_block_bytes", 1, by, opt, ""), f("ref_block_num", 3, i64, opt, ""), f("ref_block_hash", 4, by, opt, ""),
				f("expiration", 8, i64, opt, ""), f("data", 10, by, opt, ""), f("contract", 11, msg, rep, "Contract"),
				f("scripts", 12, by, opt, ""), f("timestamp", 14, i64, opt, ""), f("fee_limit", 18, i64, opt, "")}},
			{Name: proto.String("TransferContract"), Field: []*descriptorpb.FieldDescriptorProto{
				f("owner_address", 1, by, opt, ""), f("to_address", 2, by, opt, ""), f("amount", 3, i64, opt, "")}},
			{Name: proto.String("TriggerSmartContract"), Field: []*descriptorpb.FieldDescriptorProto{
				f("owner_address", 1, by, opt, ""), f("contract_address", 2, by, opt, ""), f("call_value", 3, i64, opt, ""),
				f("data", 4, by, opt, ""), f("call_token_value", 5, i64, opt, ""), f("token_id", 6, i64, opt, "")}},
		},
	}
	fd, err := protodesc.NewFile(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestRawDataMatchesProtobuf(t *testing.T) {
	fd := tronSchema(t)
	msgOf := func(name string) *dynamicpb.Message {
		return dynamicpb.NewMessage(fd.Messages().ByName(protoreflect.Name(name)))
	}
	set := func(m *dynamicpb.Message, field string, v any) {
		m.Set(m.Descriptor().Fields().ByName(protoreflect.Name(field)), protoreflect.ValueOf(v))
	}
	marshal := func(m proto.Message) []byte {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	owner := MustAddress("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")
	to := MustAddress("417e5f4552091a69125d5dfcb7b8c2659029395bdf")
	callData, _ := EncodeTRC20Transfer(to, big.NewInt(12_345_678))

	cases := []struct {
		name     string
		contract Contract
		param    proto.Message
		url      string
	}{
		{"transfer", Contract{Type: TransferContractType, Transfer: &TransferContract{Owner: owner, To: to, Amount: 1_500_000}}, func() proto.Message {
			m := msgOf("TransferContract")
			set(m, "owner_address", owner[:])
			set(m, "to_address", to[:])
			set(m, "amount", int64(1_500_000))
			return m
		}(), TransferContractURL},
		{"trigger", Contract{Type: TriggerSmartContractType, PermissionID: 2, Trigger: &TriggerSmartContract{Owner: to, Contract: owner, Data: callData}}, func() proto.Message {
			m := msgOf("TriggerSmartContract")
			set(m, "owner_address", to[:])
			set(m, "contract_address", owner[:])
			set(m, "data", callData)
			return m
		}(), TriggerSmartContractURL},
	}
	for _, tc := range cases {
		r := &RawData{RefBlockBytes: []byte{0xd6, 0xa7}, RefBlockHash: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Expiration: 1_700_000_060_000, Data: []byte("memo"), Timestamp: 1_700_000_000_000, FeeLimit: 100_000_000, Contracts: []Contract{tc.contract}}
		anyMsg := msgOf("Any")
		set(anyMsg, "type_url", tc.url)
		set(anyMsg, "value", marshal(tc.param))
		ct := msgOf("Contract")
		set(ct, "type", int32(tc.contract.Type))
		set(ct, "parameter", anyMsg)
		if tc.contract.PermissionID != 0 {
			set(ct, "Permission_id", tc.contract.PermissionID)
		}
		raw := msgOf("raw")
		set(raw, "ref_block_bytes", r.RefBlockBytes)
		set(raw, "ref_block_hash", r.RefBlockHash)
		set(raw, "expiration", r.Expiration)
		set(raw, "data", r.Data)
		list := raw.Mutable(raw.Descriptor().Fields().ByName("contract")).List()
		list.Append(protoreflect.ValueOf(ct))
		set(raw, "timestamp", r.Timestamp)
		set(raw, "fee_limit", r.FeeLimit)
		want := marshal(raw)
		got := r.Marshal()
		if !bytes.Equal(got, want) {
			t.Errorf("%s: Marshal = %x, want (protobuf-go) %x", tc.name, got, want)
		}
		back, err := DecodeRawData(want)
		if err != nil {
			t.Fatalf("%s: DecodeRawData = %v", tc.name, err)
		}
		if !bytes.Equal(back.Marshal(), want) {
			t.Errorf("%s: decode then encode differs", tc.name)
		}
		if back.Contracts[0].TypeURL != tc.url {
			t.Errorf("%s: type url %q, want %q", tc.name, back.Contracts[0].TypeURL, tc.url)
		}
	}
}

func TestDecodeRawDataErrors(t *testing.T) {
	good := (&RawData{Contracts: []Contract{{Type: TransferContractType, Transfer: &TransferContract{Owner: MainnetUSDT, To: MainnetUSDT, Amount: 1}}}}).Marshal()
	wrongURL := (&RawData{Contracts: []Contract{{Type: TriggerSmartContractType, TypeURL: TransferContractURL, Trigger: &TriggerSmartContract{Owner: MainnetUSDT, Contract: MainnetUSDT}}}}).Marshal()
	noOwner := (&RawData{Contracts: []Contract{{Type: TransferContractType, Transfer: &TransferContract{To: MainnetUSDT, Amount: 1}}}}).Marshal()
	tests := map[string][]byte{
		"truncated":      good[:len(good)-3],
		"bad tag":        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"type url":       wrongURL,
		"missing owner":  noOwner,
		"short contract": mustHex(t, "5a0f0801120b0a09747970652e676f6f"),
		"length too big": {0x0a, 0x7f, 0x01},
	}
	for name, b := range tests {
		if _, err := DecodeRawData(b); !errors.Is(err, ErrBadTransaction) {
			t.Errorf("%s: DecodeRawData(%x) = %v, want ErrBadTransaction", name, b, err)
		}
	}
}

func TestTRC20CallData(t *testing.T) {
	to := MustAddress("417e5f4552091a69125d5dfcb7b8c2659029395bdf")
	v, _ := new(big.Int).SetString("115792089237316195423570985008687907853269984665640564039457584007913129639935", 10)
	data, err := EncodeTRC20Transfer(to, v)
	if err != nil {
		t.Fatal(err)
	}
	want := "a9059cbb0000000000000000000000007e5f4552091a69125d5dfcb7b8c2659029395bdf" + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	if hex.EncodeToString(data) != want {
		t.Fatalf("EncodeTRC20Transfer = %x, want %s", data, want)
	}
	gotTo, gotV, err := DecodeTRC20Transfer(data)
	if err != nil || gotTo != to || gotV.Cmp(v) != 0 {
		t.Fatalf("DecodeTRC20Transfer = %s, %s, %v", gotTo, gotV, err)
	}
	if _, err := EncodeTRC20Transfer(to, new(big.Int).Add(v, big.NewInt(1))); err == nil {
		t.Error("EncodeTRC20Transfer(2^256) = nil error")
	}
	data[5] = 1 // dirty upper bytes of the address word
	if _, _, err := DecodeTRC20Transfer(data); err == nil {
		t.Error("DecodeTRC20Transfer with a dirty address word = nil error")
	}
	if _, _, err := DecodeTRC20Transfer(data[:40]); err == nil {
		t.Error("DecodeTRC20Transfer of short data = nil error")
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeRawData(f *testing.F) {
	to := MustAddress("417e5f4552091a69125d5dfcb7b8c2659029395bdf")
	data, _ := EncodeTRC20Transfer(to, big.NewInt(5))
	f.Add((&RawData{RefBlockBytes: []byte{1, 2}, Expiration: 5, Contracts: []Contract{{Type: TransferContractType, Transfer: &TransferContract{Owner: MainnetUSDT, To: to, Amount: 7}}}}).Marshal())
	f.Add((&RawData{FeeLimit: 9, Contracts: []Contract{{Type: TriggerSmartContractType, Trigger: &TriggerSmartContract{Owner: to, Contract: MainnetUSDT, Data: data}}}}).Marshal())
	f.Add([]byte{})
	f.Add([]byte{0x5a, 0x02, 0x08, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRawData(b)
		if err != nil {
			if !errors.Is(err, ErrBadTransaction) {
				t.Fatalf("DecodeRawData error %v is not ErrBadTransaction", err)
			}
			return
		}
		// What decodes re-encodes to something that decodes the same.
		again, err := DecodeRawData(r.Marshal())
		if err != nil {
			t.Fatalf("re-decoding the re-encoding: %v", err)
		}
		if !bytes.Equal(again.Marshal(), r.Marshal()) {
			t.Fatalf("re-encoding is not stable")
		}
	})
}
