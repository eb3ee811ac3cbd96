package raft

// Safety tests of the parallel write (patch 1 in PATCHES.md): the leader
// replicates an entry before storing it, so the tests show that this never
// lets an entry commit on fewer than a majority of durable copies, and that
// a leader whose store fails acknowledges nothing and stops.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultStore wraps a LogStore: StoreLogs can be held at a gate (it waits
// until the gate opens) or failed, and waiters can follow what it stored.
type faultStore struct {
	LogStore
	mu      sync.Mutex
	gate    chan struct{} // non-nil: StoreLogs waits until it is closed
	entered chan []*Log   // batches that reached a closed gate
	fail    func(logs []*Log) error
	last    uint64        // highest index stored
	changed chan struct{} // closed (and replaced) whenever last moves
}

func newFaultStore(s LogStore) *faultStore {
	return &faultStore{LogStore: s, entered: make(chan []*Log, 16), changed: make(chan struct{})}
}

func (s *faultStore) StoreLog(l *Log) error { return s.StoreLogs([]*Log{l}) }

func (s *faultStore) StoreLogs(logs []*Log) error {
	s.mu.Lock()
	gate, fail := s.gate, s.fail
	s.mu.Unlock()
	if gate != nil {
		select {
		case s.entered <- logs:
		default:
		}
		<-gate
	}
	if fail != nil {
		if err := fail(logs); err != nil {
			return err
		}
	}
	if err := s.LogStore.StoreLogs(logs); err != nil {
		return err
	}
	s.mu.Lock()
	if l := logs[len(logs)-1].Index; l > s.last {
		s.last = l
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return nil
}

// hold makes the next StoreLogs calls wait; the returned function (safe to
// call more than once) lets them through.
func (s *faultStore) hold() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.gate = nil
			s.mu.Unlock()
			close(gate)
		})
	}
}

// waitStored waits until the store holds index.
func (s *faultStore) waitStored(t *testing.T, index uint64, timeout time.Duration) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		last, changed := s.last, s.changed
		s.mu.Unlock()
		if last >= index {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("store reached index %d, not %d, within %s", last, index, timeout)
		}
	}
}

// safetyConfig is inmemConfig with timeouts that a loaded 2-core machine
// keeps: these tests are about which entries commit, and an election
// caused by a scheduling stall would only get in their way.
func safetyConfig(t *testing.T) *Config {
	conf := inmemConfig(t)
	conf.HeartbeatTimeout = 300 * time.Millisecond
	conf.ElectionTimeout = 300 * time.Millisecond
	conf.LeaderLeaseTimeout = 300 * time.Millisecond
	return conf
}

type safetyNode struct {
	id    ServerID
	raft  *Raft
	fsm   *MockFSM
	trans *InmemTransport
	store *faultStore
}

// startSafetyCluster starts one voter per log store, each behind a LogCache
// (the parallel write needs one), on connected in-memory transports.
// bootstrap is false when the stores already hold the configuration.
func startSafetyCluster(t *testing.T, conf *Config, logs []LogStore, stables []StableStore, bootstrap bool) []*safetyNode {
	t.Helper()
	var (
		nodes []*safetyNode
		cfg   Configuration
	)
	for i := range logs {
		_, tr := NewInmemTransport(ServerAddress(fmt.Sprintf("node%d", i)))
		n := &safetyNode{id: ServerID(fmt.Sprint(i)), fsm: &MockFSM{}, trans: tr, store: newFaultStore(logs[i])}
		nodes = append(nodes, n)
		cfg.Servers = append(cfg.Servers, Server{Suffrage: Voter, ID: n.id, Address: tr.LocalAddr()})
	}
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				a.trans.Connect(b.trans.LocalAddr(), b.trans)
			}
		}
	}
	for i, n := range nodes {
		cache, err := NewLogCache(64, n.store)
		if err != nil {
			t.Fatal(err)
		}
		c := *conf
		c.LocalID = n.id
		if bootstrap {
			if err := BootstrapCluster(&c, cache, stables[i], NewInmemSnapshotStore(), n.trans, cfg); err != nil {
				t.Fatal(err)
			}
		}
		n.raft, err = NewRaft(&c, n.fsm, cache, stables[i], NewInmemSnapshotStore(), n.trans)
		if err != nil {
			t.Fatal(err)
		}
	}
	return nodes
}

func shutdownSafetyCluster(nodes []*safetyNode) {
	for _, n := range nodes {
		n.raft.Shutdown().Error()
	}
}

func waitSafetyLeader(t *testing.T, nodes []*safetyNode) *safetyNode {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		for _, n := range nodes {
			if n.raft.State() == Leader {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no leader within 10s")
		}
		<-time.After(10 * time.Millisecond)
	}
}

// cut disconnects n from every other node, both ways; heal reconnects it.
func cut(n *safetyNode, nodes []*safetyNode) {
	for _, o := range nodes {
		if o != n {
			o.trans.Disconnect(n.trans.LocalAddr())
			n.trans.Disconnect(o.trans.LocalAddr())
		}
	}
}

func heal(n *safetyNode, nodes []*safetyNode) {
	for _, o := range nodes {
		if o != n {
			o.trans.Connect(n.trans.LocalAddr(), n.trans)
			n.trans.Connect(o.trans.LocalAddr(), o.trans)
		}
	}
}

func waitFSM(t *testing.T, n *safetyNode, want int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(n.fsm.Logs()) < want; {
		if time.Now().After(deadline) {
			t.Fatalf("node %s applied %d entries, want %d", n.id, len(n.fsm.Logs()), want)
		}
		<-time.After(5 * time.Millisecond)
	}
}

// TestUnstoredLeaderEntryDoesNotCommitWithOneFollower: in a 3-node cluster
// with one follower cut off, the leader's store of new entries is held, so
// only the other follower stores them. That is one durable copy of three:
// once the leader has counted that follower's copy, the entries must still
// not be committed, and no Apply may succeed. When the leader's store
// finishes they commit, and the cut follower catches up once healed.
func TestUnstoredLeaderEntryDoesNotCommitWithOneFollower(t *testing.T) {
	conf := safetyConfig(t)
	var logs []LogStore
	var stables []StableStore
	for i := 0; i < 3; i++ {
		s := NewInmemStore()
		logs, stables = append(logs, s), append(stables, s)
	}
	nodes := startSafetyCluster(t, conf, logs, stables, true)
	defer shutdownSafetyCluster(nodes)
	leader := waitSafetyLeader(t, nodes)
	// The barrier's answer also orders the leader loop's setup of its
	// commitment before this goroutine reads it below.
	if err := leader.raft.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	var follower, isolated *safetyNode
	for _, n := range nodes {
		switch {
		case n == leader:
		case follower == nil:
			follower = n
		default:
			isolated = n
		}
	}
	applied := len(follower.fsm.Logs())
	waitFSM(t, isolated, applied)
	cut(isolated, nodes)

	release := leader.store.hold()
	defer release()
	const n = 5
	results := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			results <- leader.raft.Apply([]byte(fmt.Sprintf("entry %d", i)), 0).Error()
		}(i)
	}
	var batch []*Log
	select {
	case batch = <-leader.store.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the leader never started storing the entries")
	}
	first, last := batch[0].Index, batch[len(batch)-1].Index

	// The follower stores the entries while the leader's store is held (the
	// parallel write), and the leader counts its copy.
	follower.store.waitStored(t, last, 10*time.Second)
	cm := leader.raft.leaderState.commitment
	for deadline := time.Now().Add(10 * time.Second); ; {
		cm.Lock()
		matched, commitIndex := cm.matchIndexes[follower.id], cm.commitIndex
		cm.Unlock()
		if commitIndex >= first {
			t.Fatalf("index %d committed with the leader's store held and one follower cut: only one of three voters stored it", commitIndex)
		}
		if matched >= last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leader counted the follower's copy up to %d, not %d", matched, last)
		}
		<-time.After(time.Millisecond)
	}
	// The commitment has counted every durable copy there is: a majority
	// would have moved its commit index in that same step.
	cm.Lock()
	commitIndex := cm.commitIndex
	cm.Unlock()
	if commitIndex >= first {
		t.Fatalf("index %d committed with one durable copy of three", commitIndex)
	}
	if got := leader.raft.getCommitIndex(); got >= first {
		t.Fatalf("leader's commit index %d covers entries %d..%d only one follower stored", got, first, last)
	}
	select {
	case err := <-results:
		t.Fatalf("an Apply answered (%v) before a majority stored its entry", err)
	default:
	}
	if got := len(follower.fsm.Logs()); got != applied {
		t.Fatalf("the follower applied %d entries, want %d (nothing new is committed)", got, applied)
	}

	// The leader's store finishes: leader and follower are a majority.
	release()
	for i := 0; i < n; i++ {
		select {
		case err := <-results:
			if err != nil {
				t.Fatalf("apply after the leader stored its entries: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d applies answered after the leader stored its entries", i, n)
		}
	}
	waitFSM(t, leader, applied+n)
	waitFSM(t, follower, applied+n)

	// The cut follower catches up once healed, and the cluster goes on.
	heal(isolated, nodes)
	waitFSM(t, isolated, applied+n)
	for deadline := time.Now().Add(10 * time.Second); ; {
		l := waitSafetyLeader(t, nodes)
		err := l.raft.Apply([]byte("after heal"), time.Second).Error()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("apply after heal: %v", err)
		}
	}
	for _, nd := range nodes {
		waitFSM(t, nd, applied+n+1)
	}
}

// fileStore is a LogStore and StableStore that outlives its process: every
// change is appended to a file as a JSON line and synced before the call
// returns; opening the file replays it into memory.
type fileStore struct {
	*InmemStore
	mu sync.Mutex
	f  *os.File
}

type fileRecord struct {
	Logs   []*Log `json:",omitempty"`
	DelMin uint64 `json:",omitempty"`
	DelMax uint64 `json:",omitempty"`
	Key    []byte `json:",omitempty"`
	Val    []byte `json:",omitempty"`
	Uint   *uint64
}

func openFileStore(path string) (*fileStore, error) {
	s := &fileStore{InmemStore: NewInmemStore()}
	if data, err := os.ReadFile(path); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var r fileRecord
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			var err error
			switch {
			case r.Logs != nil:
				err = s.InmemStore.StoreLogs(r.Logs)
			case r.DelMax != 0:
				err = s.InmemStore.DeleteRange(r.DelMin, r.DelMax)
			case r.Uint != nil:
				err = s.InmemStore.SetUint64(r.Key, *r.Uint)
			default:
				err = s.InmemStore.Set(r.Key, r.Val)
			}
			if err != nil {
				return nil, err
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	s.f = f
	return s, nil
}

func (s *fileStore) write(r fileRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := s.f.Write(append(b, '\n')); err != nil {
		return err
	}
	return s.f.Sync()
}

func (s *fileStore) StoreLog(l *Log) error { return s.StoreLogs([]*Log{l}) }

func (s *fileStore) StoreLogs(logs []*Log) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.write(fileRecord{Logs: logs}); err != nil {
		return err
	}
	return s.InmemStore.StoreLogs(logs)
}

func (s *fileStore) DeleteRange(min, max uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.write(fileRecord{DelMin: min, DelMax: max}); err != nil {
		return err
	}
	return s.InmemStore.DeleteRange(min, max)
}

func (s *fileStore) Set(key, val []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.write(fileRecord{Key: key, Val: val}); err != nil {
		return err
	}
	return s.InmemStore.Set(key, val)
}

func (s *fileStore) SetUint64(key []byte, val uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.write(fileRecord{Key: key, Uint: &val}); err != nil {
		return err
	}
	return s.InmemStore.SetUint64(key, val)
}

func (s *fileStore) Close() error { return s.f.Close() }

func openFileStores(t *testing.T, dir string, n int) ([]LogStore, []StableStore) {
	t.Helper()
	var logs []LogStore
	var stables []StableStore
	for i := 0; i < n; i++ {
		s, err := openFileStore(filepath.Join(dir, fmt.Sprintf("node%d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		logs, stables = append(logs, s), append(stables, s)
	}
	return logs, stables
}

const storeFailureChildEnv = "AEROLITH_RAFT_STORE_FAILURE_DIR"

// storeFailurePanic is the start of the patch's panic message.
const storeFailurePanic = "raft: the leader could not store log entries it already sent to its followers"

// TestLeaderStoreFailureStopsTheProcess: a leader whose StoreLogs fails
// after it sent the entries to its followers must acknowledge none of them
// and stop the process (the patch panics, as etcd stops on a failed WAL
// write). A child process runs a 3-node cluster on file-backed stores with
// four writers and records every Apply that answered nil; the leader's
// 21st store fails. The parent checks that the child died of that panic,
// that no entry of the failed batch was acknowledged, and, restarting the
// cluster from the files, that every acknowledged entry is committed at the
// index its Apply reported.
func TestLeaderStoreFailureStopsTheProcess(t *testing.T) {
	if dir := os.Getenv(storeFailureChildEnv); dir != "" {
		runStoreFailureChild(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLeaderStoreFailureStopsTheProcess$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), storeFailureChildEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the child process did not fail (%v): the leader went on after its store failed\n%s", err, tail(out))
	}
	if !bytes.Contains(out, []byte("panic: "+storeFailurePanic)) {
		t.Fatalf("the child process failed (%v), not with the store-failure panic:\n%s", err, tail(out))
	}

	events, err := os.ReadFile(filepath.Join(dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	acked := map[uint64]string{} // index → payload
	var failFirst, failLast uint64
	for _, line := range strings.Split(strings.TrimSpace(string(events)), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "ack":
			i, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				t.Fatalf("events: %q: %v", line, err)
			}
			acked[i] = f[1]
		case len(f) == 3 && f[0] == "fail" && failLast == 0:
			a, err1 := strconv.ParseUint(f[1], 10, 64)
			b, err2 := strconv.ParseUint(f[2], 10, 64)
			if err := errors.Join(err1, err2); err != nil {
				t.Fatalf("events: %q: %v", line, err)
			}
			failFirst, failLast = a, b
		case len(f) >= 2 && f[0] == "err":
		default:
			t.Fatalf("events: unexpected line %q", line)
		}
	}
	if failLast == 0 {
		t.Fatal("the child's leader store never failed")
	}
	for i, p := range acked {
		if i >= failFirst && i <= failLast {
			t.Errorf("entry %d (%s) was acknowledged although the leader failed to store entries %d..%d", i, p, failFirst, failLast)
		}
	}
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before the failure")
	}

	// Restart every node from its files: each acknowledged write is there.
	conf := safetyConfig(t)
	logs, stables := openFileStores(t, dir, 3)
	nodes := startSafetyCluster(t, conf, logs, stables, false)
	defer shutdownSafetyCluster(nodes)
	for deadline := time.Now().Add(10 * time.Second); ; {
		l := waitSafetyLeader(t, nodes)
		err := l.raft.Barrier(time.Second).Error()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("barrier after restart: %v", err)
		}
	}
	leader := waitSafetyLeader(t, nodes)
	if ci := leader.raft.getCommitIndex(); ci < failLast {
		t.Logf("commit index %d after restart (the failed batch was %d..%d)", ci, failFirst, failLast)
	}
	for i, p := range acked {
		var l Log
		if err := leader.store.GetLog(i, &l); err != nil {
			t.Errorf("acknowledged entry %d (%s) after restart: %v", i, p, err)
		} else if string(l.Data) != p {
			t.Errorf("index %d after restart holds %q, but %q was acknowledged there", i, l.Data, p)
		}
		if ci := leader.raft.getCommitIndex(); i > ci {
			t.Errorf("acknowledged entry %d is beyond the commit index %d after restart", i, ci)
		}
	}
	t.Logf("%d writes acknowledged before the leader's store failed on entries %d..%d; all present after restart", len(acked), failFirst, failLast)
}

func tail(out []byte) []byte {
	if len(out) > 4000 {
		return out[len(out)-4000:]
	}
	return out
}

// runStoreFailureChild is the child of TestLeaderStoreFailureStopsTheProcess.
// It returns only if the process was not stopped, which fails the parent.
func runStoreFailureChild(t *testing.T, dir string) {
	events, err := os.OpenFile(filepath.Join(dir, "events"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var evMu sync.Mutex
	record := func(format string, args ...any) {
		evMu.Lock()
		defer evMu.Unlock()
		fmt.Fprintf(events, format+"\n", args...)
	}
	conf := safetyConfig(t)
	conf.SnapshotThreshold = 1 << 30
	conf.SnapshotInterval = time.Hour
	logs, stables := openFileStores(t, dir, 3)
	nodes := startSafetyCluster(t, conf, logs, stables, true)
	leader := waitSafetyLeader(t, nodes)
	if err := leader.raft.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	stores := 0
	leader.store.mu.Lock()
	leader.store.fail = func(logs []*Log) error {
		if stores++; stores <= 20 {
			return nil
		}
		record("fail %d %d", logs[0].Index, logs[len(logs)-1].Index)
		return errors.New("injected write failure")
	}
	leader.store.mu.Unlock()

	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				payload := fmt.Sprintf("w%d-%d", w, i)
				f := leader.raft.Apply([]byte(payload), 5*time.Second)
				if err := f.Error(); err != nil {
					record("err %s %v", payload, err)
					return
				}
				record("ack %s %d", payload, f.Index())
			}
		}(w)
	}
	wg.Wait()
	t.Fatal("every writer stopped and the process did not")
}
