package storetest

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/aerolithdb/aerolith/store"
	bolt "go.etcd.io/bbolt"
)

// KVBucket is the bucket KV keeps its keys in.
var KVBucket = []byte("kv")

// KV is a small key-value StateMachine for tests: put, get, cas and delete
// commands built with Put, Get, CAS and Delete; results decode with
// DecodeResult; View-side reads use Read.
type KV struct{}

var _ store.StateMachine = KV{}

// KV command opcodes.
const (
	opPut byte = iota + 1
	opGet
	opCAS
	opDelete
)

// Result is the outcome of one KV command.
type Result struct {
	// OK is true when a put or delete happened, a cas matched or a get
	// found the key.
	OK bool
	// Value is the key's value after the command (for a failed cas: the
	// current value).
	Value string
	// Err is set for malformed commands.
	Err string
}

// Put sets key to value.
func Put(key, value string) []byte { return encode(opPut, key, value) }

// Get reads key through the log.
func Get(key string) []byte { return encode(opGet, key) }

// CAS sets key to value if its current value is old ("" means absent).
func CAS(key, old, value string) []byte { return encode(opCAS, key, old, value) }

// Delete removes key.
func Delete(key string) []byte { return encode(opDelete, key) }

func encode(op byte, fields ...string) []byte {
	b := []byte{op}
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

func decode(b []byte, n int) ([]string, error) {
	out := make([]string, 0, n)
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, errors.New("malformed kv command")
		}
		out = append(out, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return nil, errors.New("trailing bytes in kv command")
	}
	return out, nil
}

// Apply implements store.StateMachine.
func (KV) Apply(tx *bolt.Tx, _ uint64, cmd []byte) []byte {
	if len(cmd) == 0 {
		return encodeResult(Result{Err: "empty command"})
	}
	nargs := map[byte]int{opPut: 2, opGet: 1, opCAS: 3, opDelete: 1}[cmd[0]]
	if nargs == 0 {
		return encodeResult(Result{Err: fmt.Sprintf("unknown op %d", cmd[0])})
	}
	args, err := decode(cmd[1:], nargs)
	if err != nil {
		return encodeResult(Result{Err: err.Error()})
	}
	b, err := tx.CreateBucketIfNotExists(KVBucket)
	if err != nil {
		return encodeResult(Result{Err: err.Error()})
	}
	key := []byte(args[0])
	cur := b.Get(key)
	switch cmd[0] {
	case opPut:
		if err := b.Put(key, []byte(args[1])); err != nil {
			return encodeResult(Result{Err: err.Error()})
		}
		return encodeResult(Result{OK: true, Value: args[1]})
	case opGet:
		return encodeResult(Result{OK: cur != nil, Value: string(cur)})
	case opCAS:
		if string(cur) != args[1] || (cur == nil) != (args[1] == "") {
			return encodeResult(Result{Value: string(cur)})
		}
		if err := b.Put(key, []byte(args[2])); err != nil {
			return encodeResult(Result{Err: err.Error()})
		}
		return encodeResult(Result{OK: true, Value: args[2]})
	default: // opDelete
		if err := b.Delete(key); err != nil {
			return encodeResult(Result{Err: err.Error()})
		}
		return encodeResult(Result{OK: cur != nil})
	}
}

func encodeResult(r Result) []byte {
	var b []byte
	if r.Err != "" {
		return append([]byte{2}, r.Err...)
	}
	if r.OK {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return append(b, r.Value...)
}

// DecodeResult decodes the result of a KV command.
func DecodeResult(b []byte) (Result, error) {
	if len(b) == 0 {
		return Result{}, errors.New("empty kv result")
	}
	switch b[0] {
	case 0, 1:
		return Result{OK: b[0] == 1, Value: string(b[1:])}, nil
	case 2:
		return Result{Err: string(b[1:])}, nil
	}
	return Result{}, fmt.Errorf("bad kv result tag %d", b[0])
}

// Read returns key's value in tx.
func Read(tx *bolt.Tx, key string) (string, bool) {
	b := tx.Bucket(KVBucket)
	if b == nil {
		return "", false
	}
	v := b.Get([]byte(key))
	return string(v), v != nil
}

// Dump returns every key and value in tx.
func Dump(tx *bolt.Tx) map[string]string {
	out := map[string]string{}
	if b := tx.Bucket(KVBucket); b != nil {
		_ = b.ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	}
	return out
}
