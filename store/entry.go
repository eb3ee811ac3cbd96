package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// Raft entry payloads start with one type byte.
const (
	// entryBatch carries up to MaxBatch StateMachine commands:
	// uvarint count, then per command uvarint length and the bytes.
	entryBatch byte = 1
	// entryMember records a member's address and Meta (JSON memberRecord).
	entryMember byte = 2
	// entryRemoveMember deletes a member's record (the node id follows).
	entryRemoveMember byte = 3
	// entryNoop is the new leader's barrier: it reaches the FSM, so the
	// applied index catches up with the commit index of the new term.
	entryNoop byte = 4
)

// batchBytesLimit closes a batch once its encoded size passes this, unless
// it would then be empty (one command up to MaxCommandBytes always fits).
const batchBytesLimit = 4 << 20

var errCorruptEntry = errors.New("corrupt store entry")

// encodeBatch encodes cmds as one entryBatch payload.
func encodeBatch(cmds [][]byte) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, c := range cmds {
		n += binary.MaxVarintLen64 + len(c)
	}
	buf := make([]byte, 0, n)
	buf = append(buf, entryBatch)
	buf = binary.AppendUvarint(buf, uint64(len(cmds)))
	for _, c := range cmds {
		buf = binary.AppendUvarint(buf, uint64(len(c)))
		buf = append(buf, c...)
	}
	return buf
}

// decodeBatch calls fn for each command of an entryBatch payload (without
// the type byte). The slices alias data.
func decodeBatch(data []byte, fn func(i int, cmd []byte)) (int, error) {
	count, n := binary.Uvarint(data)
	if n <= 0 || count > uint64(len(data)) {
		return 0, fmt.Errorf("%w: bad command count", errCorruptEntry)
	}
	data = data[n:]
	for i := 0; i < int(count); i++ {
		l, n := binary.Uvarint(data)
		if n <= 0 || l > uint64(len(data)-n) {
			return 0, fmt.Errorf("%w: bad command %d length", errCorruptEntry, i)
		}
		fn(i, data[n:n+int(l)])
		data = data[n+int(l):]
	}
	if len(data) != 0 {
		return 0, fmt.Errorf("%w: %d trailing bytes", errCorruptEntry, len(data))
	}
	return int(count), nil
}

// batchCount returns the number of commands in an entryBatch payload
// (without the type byte).
func batchCount(data []byte) (int, error) {
	count, n := binary.Uvarint(data)
	if n <= 0 || count > uint64(len(data)) {
		return 0, fmt.Errorf("%w: bad command count", errCorruptEntry)
	}
	return int(count), nil
}

// memberRecord is the replicated per-node record kept in membersBucket.
type memberRecord struct {
	ID       string            `json:"id"`
	RaftAddr string            `json:"raft_addr"`
	Meta     map[string]string `json:"meta,omitempty"`
}

func encodeMember(m memberRecord) []byte {
	b, _ := json.Marshal(m) // strings and a string map cannot fail
	return append([]byte{entryMember}, b...)
}

func encodeRemoveMember(id string) []byte {
	return append([]byte{entryRemoveMember}, id...)
}

// batchResult is the FSM response for an entryBatch: one result per command.
type batchResult struct {
	results [][]byte
}
