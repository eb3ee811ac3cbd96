package agent

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/agent/keyring"
	"github.com/aerolithdb/aerolith/internal/seal"
	"github.com/aerolithdb/aerolith/store"
)

// encryption is a node's encryption at rest (--master-key-file): the
// master key (the store seals its raft log and snapshots with it), the
// keyring of tenants' data keys (documents), its state machine and the
// manager that creates, rotates and re-encrypts.
type encryption struct {
	master *seal.LocalMasterKey
	kr     *seal.Keyring
	sm     *keyring.StateMachine
	mgr    *keyring.Manager
	cancel context.CancelFunc
	done   chan struct{}
}

// newEncryption loads the master key; nil without --master-key-file.
func newEncryption(path string, log *slog.Logger) (*encryption, error) {
	if path == "" {
		return nil, nil
	}
	mk, err := seal.LoadMasterKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("master-key-file: %w", err)
	}
	kr, err := seal.New(seal.Config{Wrapper: mk})
	if err != nil {
		return nil, fmt.Errorf("master-key-file: %w", err)
	}
	log.Info("encryption at rest enabled", "master_key", mk.ID())
	return &encryption{master: mk, kr: kr, sm: keyring.NewStateMachine(kr, log)}, nil
}

// start builds the manager over the opened store and runs the background
// re-encryption (it acts while this node leads).
func (e *encryption) start(st *store.Store, log *slog.Logger) error {
	mgr, err := keyring.NewManager(keyring.ManagerConfig{Keyring: e.kr, Store: st, Logger: log})
	if err != nil {
		return err
	}
	e.mgr = mgr
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		mgr.Run(ctx)
	}()
	return nil
}

// stop ends the background re-encryption.
func (e *encryption) stop() {
	if e != nil && e.cancel != nil {
		e.cancel()
		<-e.done
	}
}

// sealingStore is the store the HTTP API proposes through on an encrypting
// node: before a document command with puts for a tenant that has no data
// key yet, it has the tenant's first key installed (keyring.Manager.Ensure),
// so the command's Apply can seal on every replica.
type sealingStore struct {
	*store.Store
	mgr *keyring.Manager
}

// Propose ensures data keys, then proposes cmd.
func (s sealingStore) Propose(ctx context.Context, cmd []byte) ([]byte, uint64, error) {
	if len(cmd) > 0 && cmd[0] == docsTag {
		if c, err := document.DecodeCommand(cmd); err == nil {
			var done string
			for _, op := range c.Ops {
				if op.Kind != document.OpPut || op.Tenant == done {
					continue
				}
				if err := s.mgr.Ensure(ctx, op.Tenant); err != nil {
					return nil, 0, err
				}
				done = op.Tenant
			}
		}
	}
	return s.Store.Propose(ctx, cmd)
}
