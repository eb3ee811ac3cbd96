// Package store is Aerolith's replicated storage core: hashicorp/raft
// replicating opaque commands to a StateMachine that writes into a bbolt
// file, with write coalescing, follower forwarding, read-index reads,
// snapshots and membership (bootstrap-expect, join, promotion, removal).
//
// One TCP port (Config.RaftAddr) carries both raft and the store's internal
// RPC. The store knows nothing about what the commands mean.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Store is one node of a replicated store. Create it with New, start it with
// Open and stop it with Close. All methods are safe for concurrent use.
type Store struct {
	cfg     Config
	sm      StateMachine
	log     *slog.Logger
	hlog    hclog.Logger
	metrics *metrics
	fsm     *fsm

	maxFrame int

	lifeMu sync.Mutex
	opened bool
	closed atomic.Bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mux       *mux
	layer     *raftLayer
	transport *raft.NetworkTransport
	logs      logStore
	snaps     *raft.FileSnapshotStore
	r         atomic.Pointer[raft.Raft]
	notifyCh  chan bool
	observer  *raft.Observer
	obsCh     chan raft.Observation
	rpc       *rpcClients

	batcher   *batcher
	forwarder *forwarder

	// readyTerm is the term whose first barrier this node applied as leader.
	readyTerm atomic.Uint64
	pending   atomic.Int64
	nudging   atomic.Bool

	leaderRounds   *rounds // VerifyLeader rounds (this node is leader)
	readIndexRPCs  *rounds // read-index RPC rounds (follower)
	appliedIdxRPCs *rounds // leader-applied RPC rounds (follower)

	changeMu sync.Mutex
	changed  chan struct{} // closed and replaced on leader/state changes

	closeOnce sync.Once
	closeErr  error
}

// New validates cfg and returns an unopened Store. It does no I/O.
func New(cfg Config, sm StateMachine) (*Store, error) {
	if sm == nil {
		return nil, errors.New("store: StateMachine is nil")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := c.Logger.With("component", "store", "node_id", c.NodeID)
	m := newMetrics()
	s := &Store{
		cfg:      c,
		sm:       sm,
		log:      log,
		hlog:     newHCLogger(log),
		metrics:  m,
		fsm:      newFSM(filepath.Join(c.Dir, "state.db"), c.InitialMmapSize, sm, log, m),
		maxFrame: 2*max(c.MaxCommandBytes, batchBytesLimit) + c.MaxBatch*16 + 1<<20,
		changed:  make(chan struct{}),
	}
	s.fsm.sync = c.SyncState
	s.fsm.masterKey = c.MasterKey
	s.fsm.isLeader = s.IsLeader
	s.batcher = newBatcher(s)
	s.forwarder = newForwarder(s)
	s.leaderRounds = newRounds(s.verifyRound)
	s.readIndexRPCs = newRounds(func(ctx context.Context) (uint64, error) {
		return s.leaderIndexRPC(ctx, rpcReadIndex)
	})
	s.appliedIdxRPCs = newRounds(func(ctx context.Context) (uint64, error) {
		return s.leaderIndexRPC(ctx, rpcLeaderApplied)
	})
	return s, nil
}

// Open opens the files and the listener, starts raft and, in the
// background, bootstraps or joins a cluster as configured. It returns
// without waiting for a leader; use WaitForLeader or Ready.
func (s *Store) Open(ctx context.Context) (err error) {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	if s.opened {
		return errors.New("store: already open")
	}
	var cleanup []func()
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(s.cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	rebuilt, err := s.fsm.openMarked()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if rebuilt {
		s.log.Warn("previous run did not stop cleanly; rebuilding the state file from the latest snapshot and the raft log")
	}
	cleanup = append(cleanup, func() { s.fsm.close() })

	logs, err := openLogStore(s.cfg.LogStore, filepath.Join(s.cfg.Dir, "raft"), s.hlog)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	cleanup = append(cleanup, func() { logs.Close() })
	last, err := logs.LastIndex()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	logAEAD, err := loadLogKey(ctx, s.cfg.Dir, s.cfg.MasterKey, last > 0 || s.fsm.applied.Load() > 0)
	if err != nil {
		return err
	}
	if logAEAD != nil {
		logs = &sealedLogStore{logStore: logs, aead: logAEAD}
	}
	s.logs = logs
	if err := s.fsm.load(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	cache, err := raft.NewLogCache(1024, logs)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(s.cfg.Dir, "snapshots"), 2, s.hlog.Named("snapshots"))
	if err != nil {
		return fmt.Errorf("store: open snapshot store: %w", err)
	}
	s.snaps = snaps

	ln := s.cfg.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", s.cfg.RaftAddr)
		if err != nil {
			return fmt.Errorf("store: listen on RaftAddr %s: %w", s.cfg.RaftAddr, err)
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	cleanup = append(cleanup, s.cancel)
	s.mux = newMux(ln, s.cfg.Dial, s.log, s.serveRPC)
	cleanup = append(cleanup, func() { s.mux.close() })
	s.rpc = &rpcClients{m: s.mux, maxFrame: s.maxFrame, byAddr: map[string]*rpcClient{}}
	s.layer = &raftLayer{m: s.mux, addr: advertiseAddr(s.cfg.AdvertiseAddr), closed: make(chan struct{})}
	s.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  s.layer,
		MaxPool: 4,
		// 1 disables raft's pipelined replication, which can deadlock
		// (v1.7.3, default 2 in flight): when a follower answers
		// Success=false, the sender parks on an unbuffered channel the
		// decoder no longer drains, and that follower never receives
		// another entry (nor does Shutdown return). Batching is kept:
		// each AppendEntries carries every new entry.
		MaxRPCsInFlight: 1,
		Timeout:         10 * time.Second,
		Logger:          s.hlog.Named("transport"),
	})
	cleanup = append(cleanup, func() { s.transport.Close() })

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(s.cfg.NodeID)
	rc.Logger = s.hlog
	rc.HeartbeatTimeout = s.cfg.HeartbeatTimeout
	rc.ElectionTimeout = s.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = s.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = s.cfg.CommitTimeout
	rc.SnapshotThreshold = s.cfg.SnapshotThreshold
	rc.SnapshotInterval = s.cfg.SnapshotInterval
	rc.TrailingLogs = s.cfg.TrailingLogs
	rc.MaxAppendEntries = 512
	// BatchApplyCh stays off: raft never resolves futures left in a
	// buffered apply channel at shutdown, and the batcher keeps only a
	// couple of entries in flight anyway (raft still groups them).
	rc.BatchApplyCh = false
	rc.NoLegacyTelemetry = true
	// The state file is durable and carries its applied index, so raft
	// need not restore the latest snapshot at start, unless the file is
	// older than that snapshot (a crash during a snapshot install).
	rc.NoSnapshotRestoreOnStart = !rebuilt
	if metas, err := snaps.List(); err == nil && len(metas) > 0 && metas[0].Index > s.fsm.applied.Load() {
		s.log.Warn("state file is behind the latest snapshot; restoring it",
			"applied_index", s.fsm.applied.Load(), "snapshot_index", metas[0].Index)
		rc.NoSnapshotRestoreOnStart = false
	}
	s.notifyCh = make(chan bool, 16)
	rc.NotifyCh = s.notifyCh

	hasState, err := raft.HasExistingState(cache, logs, snaps)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	r, err := raft.NewRaft(rc, s.fsm, cache, logs, snaps, s.transport)
	if err != nil {
		return fmt.Errorf("store: start raft: %w", err)
	}
	s.r.Store(r)
	s.obsCh = make(chan raft.Observation, 64)
	s.observer = raft.NewObserver(s.obsCh, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.RaftState:
			return true
		}
		return false
	})
	r.RegisterObserver(s.observer)
	if err := s.metrics.register(s.cfg.Registerer, s); err != nil {
		r.Shutdown().Error()
		return fmt.Errorf("store: register metrics: %w", err)
	}
	s.opened = true
	// Accept only now that raft exists; earlier dialers wait in the backlog.
	s.mux.wg.Add(1)
	go s.mux.serve()

	s.goRun(s.observeLoop)
	s.goRun(s.leaderLoop)
	s.goRun(s.batcher.run)
	s.goRun(s.batcher.waitLoop)
	s.goRun(s.forwarder.run)
	s.goRun(func() { s.clusterLoop(hasState) })
	s.log.Info("store open", "raft_addr", s.cfg.RaftAddr, "advertise", s.cfg.AdvertiseAddr,
		"log_store", s.cfg.LogStore, "existing_state", hasState, "applied_index", s.fsm.applied.Load())
	return nil
}

func (s *Store) goRun(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// raftNode returns the raft instance, nil before Open.
func (s *Store) raftNode() *raft.Raft { return s.r.Load() }

// Close stops the store: a leader first hands leadership to another voter,
// then raft shuts down and the files and listener are closed. In-flight
// calls fail with ErrClosed. Close is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.doClose() })
	return s.closeErr
}

func (s *Store) doClose() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	wasOpen := s.opened
	s.closed.Store(true)
	if !wasOpen {
		return nil
	}
	var errs []error
	r := s.raftNode()
	if r.State() == raft.Leader && s.otherVoters() > 0 {
		if err := r.LeadershipTransfer().Error(); err != nil {
			s.log.Warn("leadership transfer before close failed", "error", err)
		} else {
			s.log.Info("leadership transferred before close")
		}
	}
	s.cancel()
	s.signalChange()
	if err := r.Shutdown().Error(); err != nil {
		errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
	}
	r.DeregisterObserver(s.observer)
	s.rpc.close()
	if err := s.transport.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close transport: %w", err))
	}
	if err := s.mux.close(); err != nil && !errors.Is(err, net.ErrClosed) {
		errs = append(errs, fmt.Errorf("close listener: %w", err))
	}
	s.wg.Wait()
	if err := s.logs.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close log store: %w", err))
	}
	if err := s.fsm.close(); err != nil {
		errs = append(errs, fmt.Errorf("close state file: %w", err))
	}
	s.metrics.unregister(s.cfg.Registerer)
	s.log.Info("store closed")
	return errors.Join(errs...)
}

func (s *Store) otherVoters() int {
	f := s.raftNode().GetConfiguration()
	if f.Error() != nil {
		return 0
	}
	n := 0
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter && srv.ID != raft.ServerID(s.cfg.NodeID) {
			n++
		}
	}
	return n
}

// NodeID returns this node's id.
func (s *Store) NodeID() string { return s.cfg.NodeID }

// Addr returns the address other nodes dial to reach this node.
func (s *Store) Addr() string { return s.cfg.AdvertiseAddr }

// Leader returns the current leader's id and raft address, "" when unknown.
func (s *Store) Leader() (id, raftAddr string) {
	r := s.raftNode()
	if r == nil || s.closed.Load() {
		return "", ""
	}
	addr, lid := r.LeaderWithID()
	return string(lid), string(addr)
}

// IsLeader reports whether this node is the raft leader.
func (s *Store) IsLeader() bool {
	r := s.raftNode()
	return r != nil && !s.closed.Load() && r.State() == raft.Leader
}

// Ready reports whether a leader is known and, if this node is it, whether
// its first barrier of the term has applied (so its state includes every
// entry committed by earlier leaders).
func (s *Store) Ready() bool {
	r := s.raftNode()
	if r == nil || s.closed.Load() || s.removed() {
		return false
	}
	if r.State() == raft.Leader {
		return s.leaderReady(r)
	}
	addr, _ := r.LeaderWithID()
	return addr != ""
}

func (s *Store) leaderReady(r *raft.Raft) bool {
	t := s.readyTerm.Load()
	return t != 0 && t == r.CurrentTerm() && r.State() == raft.Leader
}

// WaitForLeader blocks until a leader is known (and Ready), ctx is done or
// the store is closed.
func (s *Store) WaitForLeader(ctx context.Context) error {
	for {
		ch := s.changeCh()
		if s.closed.Load() {
			return ErrClosed
		}
		if s.Ready() {
			return nil
		}
		if s.raftNode() == nil {
			return errors.New("store: not open")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitForApplied blocks until this node applied index, ctx is done or the
// store is closed.
func (s *Store) WaitForApplied(ctx context.Context, index uint64) error {
	if s.fsm.applied.Load() >= index {
		return nil
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return s.fsm.waiters.wait(ctx, index, s.fsm.applied.Load, s.ctx.Done())
}

// AppliedIndex returns the index of the last entry applied to the state file.
func (s *Store) AppliedIndex() uint64 { return s.fsm.applied.Load() }

func (s *Store) changeCh() <-chan struct{} {
	s.changeMu.Lock()
	defer s.changeMu.Unlock()
	return s.changed
}

func (s *Store) signalChange() {
	s.changeMu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.changeMu.Unlock()
}

// observeLoop turns raft leader and state observations into change signals.
func (s *Store) observeLoop() {
	for {
		select {
		case <-s.obsCh:
			s.signalChange()
		case <-s.ctx.Done():
			return
		}
	}
}

// waitForLeaderChange waits until the leader or state changes, up to d.
func (s *Store) waitChange(ctx context.Context, ch <-chan struct{}, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return ErrClosed
	}
}

// leaderWaitCtx bounds ctx by Config.LeaderWait for waits on a leader.
func (s *Store) leaderWaitCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < s.cfg.LeaderWait {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.cfg.LeaderWait)
}

// awaitLeader waits for a known leader, bounded by Config.LeaderWait; it
// returns ErrNoLeader when none appears.
func (s *Store) awaitLeader(ctx context.Context) (id, addr string, err error) {
	wctx, cancel := s.leaderWaitCtx(ctx)
	defer cancel()
	for {
		ch := s.changeCh()
		if s.closed.Load() {
			return "", "", ErrClosed
		}
		if id, addr = s.Leader(); addr != "" {
			return id, addr, nil
		}
		select {
		case <-ch:
		case <-wctx.Done():
			if ctx.Err() != nil {
				return "", "", ctx.Err()
			}
			return "", "", ErrNoLeader
		case <-s.ctx.Done():
			return "", "", ErrClosed
		}
	}
}

// leaderLoop runs leader duties while this node leads: the first barrier,
// then promotion of caught-up non-voters. It also reports leadership
// changes to Config.OnLeadership, deduplicated and in order, with a final
// loss when the store closes while leading.
func (s *Store) leaderLoop() {
	term := &leaderTerm{}
	defer term.stop()
	leading := false
	report := func(leader bool) {
		if leader == leading {
			return
		}
		leading = leader
		if s.cfg.OnLeadership != nil {
			s.cfg.OnLeadership(leader, time.Now())
		}
	}
	defer func() { report(false) }()
	for {
		select {
		case <-s.ctx.Done():
			return
		case leader := <-s.notifyCh:
			term.stop()
			s.readyTerm.Store(0)
			s.signalChange()
			report(leader)
			if !leader {
				continue
			}
			ctx := term.start(s.ctx)
			s.goRun(func() { s.leadTerm(ctx) })
		}
	}
}

// leaderTerm owns the context of the current leadership term.
type leaderTerm struct{ cancel context.CancelFunc }

func (t *leaderTerm) start(parent context.Context) context.Context {
	ctx, cancel := context.WithCancel(parent)
	t.cancel = cancel
	return ctx
}

func (t *leaderTerm) stop() {
	if t.cancel != nil {
		t.cancel()
		t.cancel = nil
	}
}

// leadTerm applies the barrier of a new term, marks the node ready and then
// promotes non-voters until leadership ends.
func (s *Store) leadTerm(ctx context.Context) {
	r := s.raftNode()
	term := r.CurrentTerm()
	for {
		err := r.Apply([]byte{entryNoop}, 0).Error()
		if err == nil {
			break
		}
		if ctx.Err() != nil || r.State() != raft.Leader {
			return
		}
		s.log.Warn("leader barrier failed; retrying", "error", err)
		if s.waitChange(ctx, s.changeCh(), 50*time.Millisecond) != nil {
			return
		}
	}
	if r.CurrentTerm() != term || r.State() != raft.Leader {
		return
	}
	s.readyTerm.Store(term)
	s.signalChange()
	s.log.Info("leader ready", "term", term, "applied_index", s.fsm.applied.Load())
	s.promoteLoop(ctx)
}
