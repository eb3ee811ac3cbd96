// Package storetest provides an in-process N-node store cluster for tests
// (real Stores on 127.0.0.1 ephemeral ports) and KV, a small StateMachine
// usable by other packages' tests.
package storetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/store"
)

// WaitTimeout bounds every wait of the harness. Generous: tests run with
// -race on a loaded 2-core machine.
const WaitTimeout = 60 * time.Second

// Node is one member of a Cluster.
type Node struct {
	// Index is the node's position in the cluster (0-based).
	Index int
	// ID is the node id ("n0", "n1", ...).
	ID string
	// Dir is the node's data directory; it survives Stop and Restart.
	Dir string
	// Addr is the node's raft address; it survives Stop and Restart.
	Addr string
	// Store is the running store, nil while stopped.
	Store *store.Store

	cfg store.Config
	sm  store.StateMachine
}

// Cluster is an in-process cluster of real Stores.
type Cluster struct {
	t     testing.TB
	mu    sync.Mutex
	nodes []*Node
	opts  options
}

type options struct {
	configure func(i int, c *store.Config)
	sm        func(i int) store.StateMachine
	noWait    bool
}

// Option customises NewCluster.
type Option func(*options)

// WithConfig lets a test adjust each node's Config before it is opened
// (also on Restart and AddNode).
func WithConfig(f func(i int, c *store.Config)) Option {
	return func(o *options) { o.configure = f }
}

// WithStateMachine supplies each node's StateMachine; default KV{}.
func WithStateMachine(f func(i int) store.StateMachine) Option {
	return func(o *options) { o.sm = f }
}

// NoWait makes NewCluster return without waiting for a leader.
func NoWait() Option { return func(o *options) { o.noWait = true } }

// NewCluster starts n nodes at once, each with BootstrapExpect n and the
// addresses of all of them in Join, and waits until a leader is ready. The
// nodes are closed when the test ends.
func NewCluster(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	for _, o := range opts {
		o(&c.opts)
	}
	var lns []net.Listener
	var addrs []string
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	base := t.TempDir()
	for i := 0; i < n; i++ {
		nd := &Node{Index: i, ID: fmt.Sprintf("n%d", i), Dir: filepath.Join(base, fmt.Sprintf("n%d", i)), Addr: addrs[i]}
		nd.cfg = c.baseConfig(nd)
		nd.cfg.BootstrapExpect = n
		nd.cfg.Join = addrs
		c.nodes = append(c.nodes, nd)
	}
	t.Cleanup(c.Close)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, nd := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.start(nd, lns[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open node %d: %v", i, err)
		}
	}
	if !c.opts.noWait {
		c.WaitForLeader()
	}
	return c
}

// TestLogger returns a logger for stores under test: warnings to stderr
// with -v, nothing otherwise.
func TestLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// FastConfig sets timeouts suited to loopback tests on a busy machine.
func FastConfig(c *store.Config) {
	c.HeartbeatTimeout = time.Second
	c.ElectionTimeout = time.Second
	c.LeaderLeaseTimeout = 500 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.LeaderWait = 10 * time.Second
	c.InitialMmapSize = 16 << 20
}

func (c *Cluster) baseConfig(nd *Node) store.Config {
	cfg := store.Config{
		NodeID:   nd.ID,
		Dir:      nd.Dir,
		RaftAddr: nd.Addr,
		Meta:     map[string]string{"index": fmt.Sprint(nd.Index)},
		Logger:   TestLogger(),
	}
	FastConfig(&cfg)
	return cfg
}

func (c *Cluster) start(nd *Node, ln net.Listener) error {
	cfg := nd.cfg
	cfg.Listener = ln
	if c.opts.configure != nil {
		c.opts.configure(nd.Index, &cfg)
	}
	sm := store.StateMachine(KV{})
	if c.opts.sm != nil {
		sm = c.opts.sm(nd.Index)
	}
	nd.sm = sm
	s, err := store.New(cfg, sm)
	if err != nil {
		ln.Close()
		return err
	}
	if err := s.Open(context.Background()); err != nil {
		ln.Close()
		return err
	}
	c.mu.Lock()
	nd.Store = s
	c.mu.Unlock()
	return nil
}

// Node returns node i.
func (c *Cluster) Node(i int) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// Nodes returns all nodes, running or not.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node(nil), c.nodes...)
}

// Running returns the nodes that are not stopped.
func (c *Cluster) Running() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Node
	for _, nd := range c.nodes {
		if nd.Store != nil {
			out = append(out, nd)
		}
	}
	return out
}

// Stores returns the stores of the running nodes; safe to call while other
// goroutines stop and restart nodes.
func (c *Cluster) Stores() []*store.Store {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*store.Store
	for _, nd := range c.nodes {
		if nd.Store != nil {
			out = append(out, nd.Store)
		}
	}
	return out
}

// Leader returns the store of the ready leader, waiting for one.
func (c *Cluster) Leader() *store.Store {
	c.t.Helper()
	return c.WaitForLeader().Store
}

// WaitForLeader waits until one running node is leader and Ready, and every
// running node knows it.
func (c *Cluster) WaitForLeader() *Node {
	c.t.Helper()
	return c.WaitForNewLeader(nil)
}

// WaitForNewLeader waits for a ready leader other than old (nil: any) that
// every running node that is a member agrees on (nodes that know they were
// removed do not count).
func (c *Cluster) WaitForNewLeader(old *Node) *Node {
	c.t.Helper()
	var got *Node
	c.Eventually(func() error {
		got = nil
		for _, nd := range c.Running() {
			if nd.Store.IsLeader() && nd.Store.Ready() {
				got = nd
			}
		}
		if got == nil {
			return fmt.Errorf("no ready leader")
		}
		if old != nil && got.ID == old.ID {
			return fmt.Errorf("leader is still %s", old.ID)
		}
		for _, nd := range c.Running() {
			if st := nd.Store.Stats(); st.NumVoters == 0 || st.Removed {
				continue // in no cluster, or removed from this one
			}
			if id, _ := nd.Store.Leader(); id != got.ID {
				return fmt.Errorf("%s sees leader %q, want %s", nd.ID, id, got.ID)
			}
		}
		return nil
	})
	return got
}

// Eventually polls f until it returns nil or WaitTimeout passes.
func (c *Cluster) Eventually(f func() error) {
	c.t.Helper()
	Eventually(c.t, WaitTimeout, f)
}

// Eventually polls f until it returns nil or timeout passes, then fails t
// with f's last error (testwait.For, for the many callers that wait on a
// cluster condition without naming it).
func Eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	testwait.For(t, timeout, "the condition", f)
}

// Stop closes node i's store, keeping its directory and address.
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	nd := c.Node(i)
	c.mu.Lock()
	s := nd.Store
	nd.Store = nil
	c.mu.Unlock()
	if s == nil {
		return
	}
	if err := s.Close(); err != nil {
		c.t.Errorf("close node %d: %v", i, err)
	}
}

// Restart starts node i again on its directory and address.
func (c *Cluster) Restart(i int) *Node {
	c.t.Helper()
	nd := c.Node(i)
	if nd.Store != nil {
		c.t.Fatalf("restart node %d: still running", i)
	}
	var ln net.Listener
	c.Eventually(func() error {
		var err error
		ln, err = net.Listen("tcp", nd.Addr)
		return err
	})
	if err := c.start(nd, ln); err != nil {
		c.t.Fatalf("restart node %d: %v", i, err)
	}
	return nd
}

// AddNode starts a new node (no BootstrapExpect) that joins through the
// addresses of the existing nodes.
func (c *Cluster) AddNode() *Node {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatalf("listen: %v", err)
	}
	c.mu.Lock()
	i := len(c.nodes)
	var join []string
	for _, nd := range c.nodes {
		join = append(join, nd.Addr)
	}
	base := filepath.Dir(c.nodes[0].Dir)
	nd := &Node{Index: i, ID: fmt.Sprintf("n%d", i), Dir: filepath.Join(base, fmt.Sprintf("n%d", i)), Addr: ln.Addr().String()}
	c.nodes = append(c.nodes, nd)
	c.mu.Unlock()
	nd.cfg = c.baseConfig(nd)
	nd.cfg.Join = join
	if err := c.start(nd, ln); err != nil {
		c.t.Fatalf("add node %d: %v", i, err)
	}
	return nd
}

// Close stops every node; it runs automatically at the end of the test.
func (c *Cluster) Close() {
	var wg sync.WaitGroup
	for i, nd := range c.Nodes() {
		if nd.Store == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Stop(i)
		}()
	}
	wg.Wait()
}
