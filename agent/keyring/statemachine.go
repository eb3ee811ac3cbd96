package keyring

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/internal/seal"
)

// bucket holds one JSON seal.WrappedDEK per tenant and version, under
// tenant + 0x00 + version (4 bytes, big-endian).
var bucket = []byte("keyring")

func bucketKey(scope string, version uint32) []byte {
	k := make([]byte, 0, len(scope)+5)
	k = append(append(k, scope...), 0)
	return binary.BigEndian.AppendUint32(k, version)
}

// StateMachine applies keyring commands to a seal.Keyring and the keyring
// bucket. It implements the store's StateMachine (routed to by the agent's
// dispatcher on CommandTag) and Loader.
type StateMachine struct {
	kr  *seal.Keyring
	log *slog.Logger
}

// NewStateMachine returns the state machine of kr. log may be nil.
func NewStateMachine(kr *seal.Keyring, log *slog.Logger) *StateMachine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &StateMachine{kr: kr, log: log.With("component", "keyring")}
}

// Keyring returns the keyring the state machine maintains.
func (m *StateMachine) Keyring() *seal.Keyring { return m.kr }

// Apply installs the command's keys (all or none) and records them in the
// bucket. Acceptance depends only on the replicated state and the command,
// so every replica decides alike. A node that cannot unwrap an accepted
// key (another master key than the cluster's) cannot follow the log
// without diverging, and stops here with a panic naming the problem.
func (m *StateMachine) Apply(tx *bolt.Tx, index uint64, cmd []byte) []byte {
	keys, err := DecodeInstall(cmd)
	if err != nil {
		return encodeResult(resultInvalid, err.Error())
	}
	err = m.kr.Install(context.Background(), keys...)
	switch {
	case errors.Is(err, seal.ErrVersionConflict):
		return encodeResult(resultConflict, err.Error())
	case errors.Is(err, seal.ErrKeyUnavailable):
		panic(fmt.Sprintf("keyring: entry %d installs a data key this node cannot unwrap: every node of the cluster must hold the same master key (--master-key-file): %v", index, err))
	case err != nil:
		return encodeResult(resultInvalid, err.Error())
	}
	b, err := tx.CreateBucketIfNotExists(bucket)
	if err != nil {
		return encodeResult(resultInvalid, err.Error())
	}
	// Store what the keyring holds now (a re-wrap keeps the first
	// CreatedAt), so the bucket equals Keys() after every command.
	for _, w := range keys {
		cur := m.find(w.Scope, w.Version)
		v, err := json.Marshal(cur)
		if err == nil {
			err = b.Put(bucketKey(w.Scope, w.Version), v)
		}
		if err != nil {
			return encodeResult(resultInvalid, err.Error())
		}
	}
	return encodeResult(resultOK, "")
}

func (m *StateMachine) find(scope string, version uint32) seal.WrappedDEK {
	for _, w := range m.kr.Keys() {
		if w.Scope == scope && w.Version == version {
			return w
		}
	}
	return seal.WrappedDEK{}
}

// Load replaces the keyring's state with the bucket's (at open and after a
// snapshot restore). Keys this node cannot unwrap fail it: the node holds
// another master key than the one the cluster's keys are wrapped under.
func (m *StateMachine) Load(tx *bolt.Tx) error {
	var keys []seal.WrappedDEK
	if b := tx.Bucket(bucket); b != nil {
		err := b.ForEach(func(k, v []byte) error {
			var w seal.WrappedDEK
			if err := json.Unmarshal(v, &w); err != nil {
				return fmt.Errorf("keyring: stored key %q: %w", k, err)
			}
			keys = append(keys, w)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := m.kr.Replace(context.Background(), keys...); err != nil {
		if errors.Is(err, seal.ErrKeyUnavailable) {
			return fmt.Errorf("keyring: the cluster's data keys cannot be unwrapped on this node; every node must hold the cluster's master key (--master-key-file): %w", err)
		}
		return err
	}
	m.log.Debug("keyring loaded", "keys", len(keys))
	return nil
}
