package keyring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/internal/seal"
	"github.com/aerolithdb/aerolith/store"
)

// Store is what a Manager needs of the replicated store.
type Store interface {
	Propose(ctx context.Context, cmd []byte) ([]byte, uint64, error)
	View(ctx context.Context, c store.Consistency, fn func(tx *bolt.Tx) error) error
	IsLeader() bool
}

var _ Store = (*store.Store)(nil)

// Defaults of ManagerConfig.
const (
	DefaultBatchSize = 64
	DefaultInterval  = 20 * time.Millisecond
	DefaultPoll      = 2 * time.Second
)

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// Keyring is the node's keyring (the one StateMachine maintains).
	Keyring *seal.Keyring
	// Store proposes commands and reads the state.
	Store Store
	// Logger; default discard.
	Logger *slog.Logger
	// BatchSize is the number of documents one reseal command re-encrypts
	// (default DefaultBatchSize, at most 1024).
	BatchSize int
	// Interval is the pause between two reseal commands: the rate limit
	// of background re-encryption (default DefaultInterval).
	Interval time.Duration
	// Poll is how often the leader looks for documents under old key
	// versions (default DefaultPoll); a rotation on this node wakes it at
	// once.
	Poll time.Duration
	// Now stamps reseal commands; default time.Now.
	Now func() time.Time
}

// Manager proposes keyring changes and runs background re-encryption. It
// is safe for concurrent use.
type Manager struct {
	cfg      ManagerConfig
	log      *slog.Logger
	wake     chan struct{}
	resealed atomic.Int64

	mu       sync.Mutex
	progress map[string]*Progress
}

// Progress is the re-encryption progress of one tenant seen by this node's
// background job (meaningful on the leader).
type Progress struct {
	// Version is the key version the job was moving documents to.
	Version uint32 `json:"version"`
	// Resealed counts documents this job re-encrypted to Version.
	Resealed int64 `json:"resealed"`
	// Done is set when a full pass found nothing left under older versions.
	Done bool `json:"done"`
}

// NewManager checks cfg. It does no I/O.
func NewManager(cfg ManagerConfig) (*Manager, error) {
	if cfg.Keyring == nil || cfg.Store == nil {
		return nil, errors.New("keyring: manager: Keyring and Store are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	cfg.BatchSize = min(cfg.BatchSize, 1024)
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{cfg: cfg, log: cfg.Logger.With("component", "keyring"), wake: make(chan struct{}, 1), progress: map[string]*Progress{}}, nil
}

// propose proposes keys and decodes the replicas' verdict.
func (m *Manager) propose(ctx context.Context, keys ...seal.WrappedDEK) error {
	cmd, err := EncodeInstall(keys...)
	if err != nil {
		return err
	}
	res, _, err := m.cfg.Store.Propose(ctx, cmd)
	if err != nil {
		return err
	}
	return DecodeResult(res)
}

// catchUp waits until this node has applied everything committed, so its
// keyring shows the cluster's latest versions.
func (m *Manager) catchUp(ctx context.Context) error {
	return m.cfg.Store.View(ctx, store.Linearizable, func(*bolt.Tx) error { return nil })
}

// Ensure makes sure tenant has a data key, proposing version 1 if this
// node's keyring has none. When another node created it first, the
// conflicting proposal is dropped and the existing key used.
func (m *Manager) Ensure(ctx context.Context, tenant string) error {
	for attempt := 0; ; attempt++ {
		if _, ok := m.cfg.Keyring.Current(tenant); ok {
			return nil
		}
		w, err := m.cfg.Keyring.NewVersion(ctx, tenant)
		if err != nil {
			return fmt.Errorf("keyring: tenant %q: %w", tenant, err)
		}
		if w.Version != 1 {
			// Another node's first key was applied here since the check
			// above: proposing this one would rotate it.
			return nil
		}
		err = m.propose(ctx, w)
		if err == nil {
			m.log.Info("created the tenant's data key", "tenant", tenant, "version", w.Version)
			return nil
		}
		if !errors.Is(err, ErrConflict) || attempt >= 4 {
			return fmt.Errorf("keyring: tenant %q: create data key: %w", tenant, err)
		}
		if err := m.catchUp(ctx); err != nil {
			return fmt.Errorf("keyring: tenant %q: %w", tenant, err)
		}
	}
}

// Rotate proposes a new current data key version for tenant and returns
// it. New writes use it once applied; documents under older versions stay
// readable and the leader's background job re-encrypts them.
func (m *Manager) Rotate(ctx context.Context, tenant string) (uint32, error) {
	if err := document.ValidateTenant(tenant); err != nil {
		return 0, err
	}
	for attempt := 0; ; attempt++ {
		if err := m.catchUp(ctx); err != nil {
			return 0, fmt.Errorf("keyring: tenant %q: %w", tenant, err)
		}
		w, err := m.cfg.Keyring.NewVersion(ctx, tenant)
		if err != nil {
			return 0, fmt.Errorf("keyring: tenant %q: %w", tenant, err)
		}
		err = m.propose(ctx, w)
		if err == nil {
			m.log.Info("rotated the tenant's data key", "tenant", tenant, "version", w.Version)
			select {
			case m.wake <- struct{}{}:
			default:
			}
			return w.Version, nil
		}
		if !errors.Is(err, ErrConflict) || attempt >= 4 {
			return 0, fmt.Errorf("keyring: tenant %q: rotate data key: %w", tenant, err)
		}
	}
}

// Tenants lists the tenants that have data keys, sorted.
func (m *Manager) Tenants() []string {
	var out []string
	for _, w := range m.cfg.Keyring.Keys() {
		if len(out) == 0 || out[len(out)-1] != w.Scope {
			out = append(out, w.Scope)
		}
	}
	return out
}

// TenantStatus is a tenant's data keys and how its documents are sealed.
type TenantStatus struct {
	Tenant string `json:"tenant"`
	// CurrentVersion is the key version new writes are sealed under.
	CurrentVersion uint32 `json:"current_version"`
	// Versions counts the tenant's installed key versions.
	Versions int `json:"versions"`
	// Documents counts documents by the key version they are sealed
	// under (JSON object keys are versions).
	Documents map[uint32]int `json:"documents_by_version"`
	// Pending counts documents not yet under CurrentVersion.
	Pending int `json:"pending"`
	// Reencryption is this node's background job progress (leader).
	Reencryption *Progress `json:"reencryption,omitempty"`
}

// Status reports every tenant's keys and documents (a linearizable read
// that walks the documents' headers).
func (m *Manager) Status(ctx context.Context) ([]TenantStatus, error) {
	versions := map[string]int{}
	for _, w := range m.cfg.Keyring.Keys() {
		versions[w.Scope]++
	}
	var out []TenantStatus
	err := m.cfg.Store.View(ctx, store.Linearizable, func(tx *bolt.Tx) error {
		out = out[:0]
		for _, t := range m.Tenants() {
			cur, _ := m.cfg.Keyring.Current(t)
			counts, err := document.KeyVersionCounts(tx, t)
			if err != nil {
				return err
			}
			st := TenantStatus{Tenant: t, CurrentVersion: cur, Versions: versions[t], Documents: counts}
			for v, n := range counts {
				if v != cur {
					st.Pending += n
				}
			}
			m.mu.Lock()
			if p := m.progress[t]; p != nil {
				cp := *p
				st.Reencryption = &cp
			}
			m.mu.Unlock()
			out = append(out, st)
		}
		return nil
	})
	return out, err
}

// Resealed counts documents this node's background job re-encrypted.
func (m *Manager) Resealed() int64 { return m.resealed.Load() }

// Run re-encrypts documents under old key versions while this node leads,
// until ctx ends: every Poll (or at once after a Rotate here) it walks each
// tenant whose current version is above 1 and proposes reseal commands of
// BatchSize documents, one every Interval. It keeps no state of its own, so
// it resumes after a restart or on a new leader by walking again.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.wake:
		}
		if !m.cfg.Store.IsLeader() {
			continue
		}
		tenants := m.Tenants()
		sort.Strings(tenants)
		for _, tn := range tenants {
			if err := m.resealTenant(ctx, tn); err != nil {
				if ctx.Err() == nil {
					m.log.Warn("background re-encryption paused", "tenant", tn, "err", err)
				}
				break
			}
		}
	}
}

// resealTenant walks one tenant's documents once.
func (m *Manager) resealTenant(ctx context.Context, tenant string) error {
	cur, ok := m.cfg.Keyring.Current(tenant)
	if !ok || cur <= 1 {
		return nil
	}
	m.mu.Lock()
	p := m.progress[tenant]
	if p == nil || p.Version != cur {
		p = &Progress{Version: cur}
		m.progress[tenant] = p
	}
	if p.Done {
		m.mu.Unlock()
		return nil
	}
	m.mu.Unlock()
	var pos document.ResealPosition
	for {
		if !m.cfg.Store.IsLeader() {
			return nil
		}
		var ops []document.Op
		var done bool
		err := m.cfg.Store.View(ctx, store.Stale, func(tx *bolt.Tx) error {
			var err error
			ops, pos, done, err = document.ResealCandidates(tx, tenant, cur, pos, m.cfg.BatchSize)
			return err
		})
		if err != nil {
			return err
		}
		if len(ops) > 0 {
			now := m.cfg.Now().UnixNano()
			for i := range ops {
				ops[i].Time = now
			}
			cmd, err := document.EncodeCommand(document.Command{Ops: ops})
			if err != nil {
				return err
			}
			res, _, err := m.cfg.Store.Propose(ctx, cmd)
			if err != nil {
				return err
			}
			r, err := document.DecodeResult(res)
			if err != nil {
				return err
			}
			if err := r.Error(); err != nil {
				return err
			}
			var n int64
			for _, d := range r.Docs {
				if d.ID != "" {
					n++
				}
			}
			m.resealed.Add(n)
			m.mu.Lock()
			p.Resealed += n
			m.mu.Unlock()
			timer := time.NewTimer(m.cfg.Interval)
			select {
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			case <-timer.C:
			}
		}
		if done {
			m.mu.Lock()
			if c, _ := m.cfg.Keyring.Current(tenant); c == cur {
				p.Done = true
			}
			m.mu.Unlock()
			return nil
		}
	}
}
