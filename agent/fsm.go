package agent

import (
	"fmt"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/agent/keyring"
	"github.com/aerolithdb/aerolith/agent/tenancy"
	"github.com/aerolithdb/aerolith/store"
)

// docsTag is the first byte of every document command (the docs command
// format).
const docsTag byte = 1

// StateMachine is the state machine an agent's store replicates: it routes
// each command, by its first byte, to the state machine that owns it —
// 1 (the docs command format) to the document state machine,
// tenancy.CommandTag ('T') to the tenancy state machine (policies and API
// keys), and keyring.CommandTag ('K') to the keyring of encryption at rest
// (a node without a master key stops at such a command rather than store
// documents in plaintext). Both keep their state in disjoint buckets of the same bbolt
// file and share its transactions.
//
// An empty command or one with another first byte is not applied: Apply
// returns a docs error result (code internal) naming the byte, on every
// replica alike, and never panics.
type StateMachine struct {
	docs    store.StateMachine
	tenancy store.StateMachine
	// keyring, when set (encryption at rest), applies keyring.CommandTag
	// ('K') commands and is reloaded through Load.
	keyring store.StateMachine
	// applying is the index of the command being (or last) applied, so
	// observers called inside Apply (document.Config.OnStorage) know it.
	applying atomic.Uint64
}

var _ store.StateMachine = (*StateMachine)(nil)

// NewStateMachine returns the dispatcher over the document and tenancy
// state machines (normally *document.StateMachine and *tenancy.StateMachine).
func NewStateMachine(documents, tenants store.StateMachine) *StateMachine {
	return &StateMachine{docs: documents, tenancy: tenants}
}

// Apply applies cmd with the state machine its first byte names and
// returns that state machine's result.
func (m *StateMachine) Apply(tx *bolt.Tx, index uint64, cmd []byte) []byte {
	m.applying.Store(index)
	if len(cmd) == 0 {
		return unknownCommand("empty command at index %d", index)
	}
	switch cmd[0] {
	case docsTag:
		return m.docs.Apply(tx, index, cmd)
	case tenancy.CommandTag:
		return m.tenancy.Apply(tx, index, cmd)
	case keyring.CommandTag:
		if m.keyring == nil {
			// The cluster encrypts at rest and this node cannot: applying
			// what follows would store its documents in plaintext.
			panic(fmt.Sprintf("agent: entry %d installs a data key for encryption at rest but this node has no master key; start every node with the cluster's --master-key-file", index))
		}
		return m.keyring.Apply(tx, index, cmd)
	}
	return unknownCommand("command at index %d has unknown tag %#02x (want %#02x for documents, %q for tenancy or %q for the keyring)", index, cmd[0], docsTag, tenancy.CommandTag, keyring.CommandTag)
}

var _ store.Loader = (*StateMachine)(nil)

// Load reloads the state kept in memory from the state file (the tenancy
// key generation, the keyring),
// at open and after a snapshot restore.
func (m *StateMachine) Load(tx *bolt.Tx) error {
	if l, ok := m.tenancy.(store.Loader); ok {
		if err := l.Load(tx); err != nil {
			return err
		}
	}
	if l, ok := m.keyring.(store.Loader); ok {
		return l.Load(tx)
	}
	return nil
}

// applyingIndex returns the raft index of the command being applied (the
// last one applied between commands). Observers called from inside Apply
// read it to order their observations against reads of the state.
func (m *StateMachine) applyingIndex() uint64 { return m.applying.Load() }

// unknownCommand is the result of a command no state machine owns.
func unknownCommand(format string, args ...any) []byte {
	return document.EncodeResult(document.Result{Err: &document.Error{Code: document.CodeInternal, Message: fmt.Sprintf(format, args...)}})
}
