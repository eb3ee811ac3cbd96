package raft

// Tests of the Aerolith patches (PATCHES.md): the leader writes its entries
// in parallel with replicating them; Shutdown is final; an idle leader
// stops polling its followers; every Apply future answers after Shutdown.

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// rendezvous makes a log store's StoreLogs of an entry wait until a second
// node has started storing the same entry. A leader that replicates only
// after its own write can never get there (nobody else has the entry yet);
// one that writes in parallel with replication can.
type rendezvous struct {
	mu      sync.Mutex
	cond    *sync.Cond
	armed   bool
	started map[uint64]map[int]bool // index → nodes that started storing it
	waited  int                     // stores that found the other node already there or waited for it
}

func newRendezvous() *rendezvous {
	r := &rendezvous{started: map[uint64]map[int]bool{}}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *rendezvous) arm() {
	r.mu.Lock()
	r.armed = true
	r.mu.Unlock()
}

// meet records that node started storing index and waits (up to timeout)
// until another node did too.
func (r *rendezvous) meet(node int, index uint64, timeout time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.armed {
		return nil
	}
	if r.started[index] == nil {
		r.started[index] = map[int]bool{}
	}
	r.started[index][node] = true
	r.cond.Broadcast()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer timer.Stop()
	for len(r.started[index]) < 2 {
		if !time.Now().Before(deadline) {
			return fmt.Errorf("node %d: no other node stored index %d within %s", node, index, timeout)
		}
		r.cond.Wait()
	}
	r.waited++
	return nil
}

type rendezvousStore struct {
	*InmemStore
	node int
	r    *rendezvous
}

func (s *rendezvousStore) StoreLogs(logs []*Log) error {
	if err := s.r.meet(s.node, logs[len(logs)-1].Index, 2*time.Second); err != nil {
		return err
	}
	return s.InmemStore.StoreLogs(logs)
}

func (s *rendezvousStore) StoreLog(l *Log) error { return s.StoreLogs([]*Log{l}) }

// TestLeaderWritesInParallelWithReplication: every store refuses to finish
// an entry before a second node started storing it. Applies commit only
// because the leader's followers get each entry while the leader writes it.
func TestLeaderWritesInParallelWithReplication(t *testing.T) {
	const n = 3
	rv := newRendezvous()
	conf := inmemConfig(t)
	var (
		rafts []*Raft
		fsms  []*MockFSM
		trans []*InmemTransport
		cfg   Configuration
	)
	for i := 0; i < n; i++ {
		_, tr := NewInmemTransport("")
		trans = append(trans, tr)
		cfg.Servers = append(cfg.Servers, Server{Suffrage: Voter, ID: ServerID(fmt.Sprint(i)), Address: tr.LocalAddr()})
	}
	for i := range trans {
		for j := range trans {
			if i != j {
				trans[i].Connect(trans[j].LocalAddr(), trans[j])
			}
		}
	}
	for i := 0; i < n; i++ {
		store := &rendezvousStore{InmemStore: NewInmemStore(), node: i, r: rv}
		cache, err := NewLogCache(64, store)
		if err != nil {
			t.Fatal(err)
		}
		c := *conf
		c.LocalID = cfg.Servers[i].ID
		if err := BootstrapCluster(&c, cache, store, NewInmemSnapshotStore(), trans[i], cfg); err != nil {
			t.Fatal(err)
		}
		fsm := &MockFSM{}
		r, err := NewRaft(&c, fsm, cache, store, NewInmemSnapshotStore(), trans[i])
		if err != nil {
			t.Fatal(err)
		}
		rafts, fsms = append(rafts, r), append(fsms, fsm)
	}
	defer func() {
		for _, r := range rafts {
			r.Shutdown().Error()
		}
	}()

	var leader *Raft
	deadline := time.Now().Add(10 * time.Second)
	for leader == nil {
		for _, r := range rafts {
			if r.State() == Leader {
				leader = r
			}
		}
		if leader == nil {
			if time.Now().After(deadline) {
				t.Fatal("no leader")
			}
			<-time.After(10 * time.Millisecond)
		}
	}
	// The leader's no-op of its term is committed: the cluster is idle.
	if err := leader.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	rv.arm()
	const entries = 20
	for i := 0; i < entries; i++ {
		if err := leader.Apply([]byte(fmt.Sprintf("entry %d", i)), 5*time.Second).Error(); err != nil {
			if errors.Is(err, ErrNotLeader) || errors.Is(err, ErrLeadershipLost) {
				t.Fatalf("apply %d: %v (leadership changed: the entry was not replicated while the leader stored it)", i, err)
			}
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	rv.mu.Lock()
	waited := rv.waited
	rv.mu.Unlock()
	if waited < 2*entries {
		t.Fatalf("%d stores met another node, want at least %d (leader and one follower per entry)", waited, 2*entries)
	}
	// Every node applies all of them.
	for i, fsm := range fsms {
		deadline := time.Now().Add(5 * time.Second)
		for {
			fsm.Lock()
			got := len(fsm.logs)
			fsm.Unlock()
			if got == entries {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d applied %d entries, want %d", i, got, entries)
			}
			<-time.After(5 * time.Millisecond)
		}
	}
}

// TestLogCacheDeleteRangeKeepsOtherEntries: a compaction (DeleteRange of old
// entries) must not drop newer entries the leader has cached but not yet
// stored.
func TestLogCacheDeleteRangeKeepsOtherEntries(t *testing.T) {
	store := NewInmemStore()
	c, err := NewLogCache(16, store)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 4; i++ {
		if err := c.StoreLog(&Log{Index: i, Data: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	pending := []*Log{{Index: 5, Data: []byte{5}}, {Index: 6, Data: []byte{6}}}
	c.cacheLogs(pending) // cached, not yet stored
	if err := c.DeleteRange(1, 2); err != nil {
		t.Fatal(err)
	}
	var l Log
	for _, i := range []uint64{3, 4, 5, 6} {
		if err := c.GetLog(i, &l); err != nil || l.Index != i {
			t.Fatalf("GetLog(%d) = %+v, %v after DeleteRange(1, 2)", i, l, err)
		}
	}
	for _, i := range []uint64{1, 2} {
		if err := c.GetLog(i, &l); !errors.Is(err, ErrLogNotFound) {
			t.Fatalf("GetLog(%d) after its deletion = %+v, %v; want ErrLogNotFound", i, l, err)
		}
	}
}

// TestShutdownStateIsFinal: a step down racing with Shutdown (an RPC the
// main loop was handling as Shutdown ran) must not bring the state back.
func TestShutdownStateIsFinal(t *testing.T) {
	var st raftState
	st.setState(Leader)
	st.setState(Shutdown)
	for _, s := range []RaftState{Follower, Candidate, Leader} {
		st.setState(s)
		if got := st.getState(); got != Shutdown {
			t.Fatalf("setState(%v) after Shutdown: state %v, want Shutdown", s, got)
		}
	}
}

// countingTransport counts the AppendEntries RPCs its node receives that
// are not heartbeats (they carry entries or a commit index).
// With noPipeline it refuses pipelined replication, as Aerolith's
// NetworkTransport does (MaxRPCsInFlight 1).
type countingTransport struct {
	*InmemTransport
	noPipeline bool
	ch         chan RPC
	mu         sync.Mutex
	polls      int
}

func newCountingTransport(noPipeline bool) *countingTransport {
	_, tr := NewInmemTransport("")
	c := &countingTransport{InmemTransport: tr, noPipeline: noPipeline, ch: make(chan RPC)}
	go func() {
		for rpc := range tr.Consumer() {
			if req, ok := rpc.Command.(*AppendEntriesRequest); ok && (len(req.Entries) > 0 || req.LeaderCommitIndex > 0) {
				c.mu.Lock()
				c.polls++
				c.mu.Unlock()
			}
			c.ch <- rpc
		}
	}()
	return c
}

func (c *countingTransport) Consumer() <-chan RPC { return c.ch }

func (c *countingTransport) AppendEntriesPipeline(id ServerID, target ServerAddress) (AppendPipeline, error) {
	if c.noPipeline {
		return nil, ErrPipelineReplicationNotSupported
	}
	return c.InmemTransport.AppendEntriesPipeline(id, target)
}

func (c *countingTransport) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.polls
}

// TestIdleLeaderDoesNotPoll: once its followers know the commit index, an
// idle leader sends them AppendEntries about once per HeartbeatTimeout
// (upstream: every CommitTimeout, 5 to 10 ms), besides its heartbeats; a
// new entry still reaches every follower's state machine. With pipelined
// replication and without (Aerolith's transport).
func TestIdleLeaderDoesNotPoll(t *testing.T) {
	for _, noPipeline := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipeline=%v", !noPipeline), func(t *testing.T) { testIdleLeaderDoesNotPoll(t, noPipeline) })
	}
}

func testIdleLeaderDoesNotPoll(t *testing.T, noPipeline bool) {
	const n = 3
	conf := inmemConfig(t)
	// The window needs one leader throughout; 100 ms rather than 50 ms
	// keeps elections caused by scheduling stalls (under -race, on a
	// shared 2-core machine) rare. What is counted scales with it.
	conf.HeartbeatTimeout = 100 * time.Millisecond
	conf.ElectionTimeout = 100 * time.Millisecond
	conf.LeaderLeaseTimeout = 100 * time.Millisecond
	var (
		rafts []*Raft
		fsms  []*MockFSM
		trans []*countingTransport
		cfg   Configuration
	)
	for i := 0; i < n; i++ {
		tr := newCountingTransport(noPipeline)
		trans = append(trans, tr)
		cfg.Servers = append(cfg.Servers, Server{Suffrage: Voter, ID: ServerID(fmt.Sprint(i)), Address: tr.LocalAddr()})
	}
	for i := range trans {
		for j := range trans {
			if i != j {
				trans[i].Connect(trans[j].LocalAddr(), trans[j].InmemTransport)
			}
		}
	}
	for i := 0; i < n; i++ {
		store := NewInmemStore()
		c := *conf
		c.LocalID = cfg.Servers[i].ID
		if err := BootstrapCluster(&c, store, store, NewInmemSnapshotStore(), trans[i], cfg); err != nil {
			t.Fatal(err)
		}
		fsm := &MockFSM{}
		r, err := NewRaft(&c, fsm, store, store, NewInmemSnapshotStore(), trans[i])
		if err != nil {
			t.Fatal(err)
		}
		rafts, fsms = append(rafts, r), append(fsms, fsm)
	}
	defer func() {
		for _, r := range rafts {
			r.Shutdown().Error()
		}
	}()
	findLeader := func() *Raft {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; {
			for _, r := range rafts {
				if r.State() == Leader {
					return r
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("no leader")
			}
			<-time.After(10 * time.Millisecond)
		}
	}
	// apply retries on the current leader: under load, 50 ms election
	// timeouts can elect another one (elections are not what is measured).
	apply := func(cmd string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; {
			err := findLeader().Apply([]byte(cmd), 5*time.Second).Error()
			if err == nil {
				return
			}
			if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrLeadershipLost) || time.Now().After(deadline) {
				t.Fatalf("apply %s: %v", cmd, err)
			}
		}
	}
	apply("first")
	waitApplied := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; {
			done := 0
			for _, f := range fsms {
				if len(f.Logs()) >= want {
					done++
				}
			}
			if done == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d state machines applied %d entries", done, n, want)
			}
			<-time.After(5 * time.Millisecond)
		}
	}
	waitApplied(1)

	// Count over a window of 20 heartbeat timeouts (upstream polls every
	// CommitTimeout, 5 to 10 ms: 200 to 400 polls per follower in it). An election during the window (a
	// scheduling stall under load) sends entries of its own: the window is
	// measured again, up to five times.
	window := 20 * conf.HeartbeatTimeout
	for attempt := 1; ; attempt++ {
		leader := findLeader()
		term := leader.getCurrentTerm()
		before := make([]int, n)
		for i, tr := range trans {
			before[i] = tr.count()
		}
		<-time.After(window)
		if leader.State() != Leader || leader.getCurrentTerm() != term {
			if attempt == 5 {
				t.Fatalf("leadership changed during each of %d idle windows", attempt)
			}
			t.Logf("leadership changed during idle window %d; measuring again", attempt)
			continue
		}
		for i, tr := range trans {
			if rafts[i] == leader {
				continue
			}
			if got := tr.count() - before[i]; got > 30 {
				t.Errorf("follower %d got %d AppendEntries beyond heartbeats in %s of idleness; want about %d (one per HeartbeatTimeout)", i, got, window, window/conf.HeartbeatTimeout)
			} else {
				t.Logf("follower %d: %d AppendEntries beyond heartbeats in %s idle", i, got, window)
			}
		}
		break
	}

	apply("second")
	waitApplied(2)
}

// blockingFSM applies nothing until release is closed.
type blockingFSM struct {
	MockFSM
	release chan struct{}
}

func (f *blockingFSM) Apply(l *Log) interface{} {
	<-f.release
	return f.MockFSM.Apply(l)
}

// TestApplyFutureEndsAtShutdown: entries committed but still queued for
// the state machine when raft shuts down are dropped by upstream's FSM
// loop without an answer, so their ApplyFuture.Error (and a Barrier's)
// blocked forever (an Aerolith store Close hung on it). Every future now
// answers: its result when it was applied, else ErrRaftShutdown.
func TestApplyFutureEndsAtShutdown(t *testing.T) {
	conf := inmemConfig(t)
	conf.LocalID = "0"
	_, tr := NewInmemTransport("")
	store := NewInmemStore()
	cfg := Configuration{Servers: []Server{{Suffrage: Voter, ID: conf.LocalID, Address: tr.LocalAddr()}}}
	if err := BootstrapCluster(conf, store, store, NewInmemSnapshotStore(), tr, cfg); err != nil {
		t.Fatal(err)
	}
	fsm := &blockingFSM{release: make(chan struct{})}
	r, err := NewRaft(conf, fsm, store, store, NewInmemSnapshotStore(), tr)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); r.State() != Leader; {
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
		<-time.After(10 * time.Millisecond)
	}
	// One entry at a time: each commits alone and is queued for the
	// state machine as its own batch, behind the first, which blocks it.
	// Every fourth is a Barrier, which the state machine loop answers too.
	const n = 40
	var futures []Future
	base := r.LastIndex()
	for i := 0; i < n; i++ {
		if i%4 == 3 {
			futures = append(futures, r.Barrier(time.Second))
		} else {
			futures = append(futures, r.Apply([]byte(fmt.Sprint(i)), time.Second))
		}
		for deadline := time.Now().Add(5 * time.Second); r.getCommitIndex() < base+uint64(i)+1; {
			if time.Now().After(deadline) {
				t.Fatalf("entry %d not committed", i)
			}
			<-time.After(time.Millisecond)
		}
	}
	shut := r.Shutdown()
	<-r.shutdownCh
	close(fsm.release)
	if err := shut.Error(); err != nil {
		t.Fatal(err)
	}
	applied, refused := 0, 0
	for i, f := range futures {
		done := make(chan error, 1)
		go func(f Future) { done <- f.Error() }(f)
		select {
		case err := <-done:
			switch {
			case err == nil:
				if i%4 != 3 {
					applied++
				}
			case errors.Is(err, ErrRaftShutdown):
				refused++
			default:
				t.Errorf("future %d: %v", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("future %d of %d never answered after Shutdown (%d applied, %d refused before it)", i, n, applied, refused)
		}
	}
	if got := len(fsm.Logs()); got != applied {
		t.Errorf("%d futures answered nil, the state machine applied %d entries", applied, got)
	}
	t.Logf("%d applied, %d answered ErrRaftShutdown", applied, refused)
}
