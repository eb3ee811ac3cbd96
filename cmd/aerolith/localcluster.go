package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/provisioner/local"
)

// localNode is one process of a local cluster: an agent, or the billing
// service.
type localNode struct {
	id       string
	httpAddr string
	raftAddr string
	dataDir  string
	logPath  string
	// logStart is the offset where the process's current run begins in
	// its log (set from the supervisor's Started events).
	logStart atomic.Int64
	// args are the process's arguments (after the binary); set before
	// localCluster.start.
	args []string
	// scheme is "https" when the process serves TLS, else "http" (or "").
	scheme string
}

// nodeExit is the first process of a localCluster that exited while up was
// starting the deployment.
type nodeExit struct {
	node *localNode
	err  error
}

// planNodes lays out ids and addresses of the nodes.
func planNodes(cfg upConfig) []*localNode {
	nodes := make([]*localNode, cfg.nodes)
	for i := range nodes {
		port := cfg.basePort + 2*i
		nodes[i] = &localNode{
			id:       "node" + strconv.Itoa(i+1),
			httpAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			raftAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)),
		}
	}
	return nodes
}

// checkPortsFree fails, naming the port, when a node's port is taken.
func checkPortsFree(n *localNode) error {
	for _, p := range []struct{ addr, what string }{{n.httpAddr, "http"}, {n.raftAddr, "raft"}} {
		l, err := net.Listen("tcp", p.addr)
		if err != nil {
			_, port, _ := net.SplitHostPort(p.addr)
			return fmt.Errorf("port %s (%s %s) is not available: %v; stop what uses it or pick another --base-port", port, n.id, p.what, err)
		}
		l.Close()
	}
	return nil
}

// localCluster is a group of processes of `aerolith up`: the agents
// (instances of the local driver, see upAgents), and in a second
// localCluster the billing service, which up runs on a local.Supervisor.
type localCluster struct {
	exe      string
	dir      string
	key      string // admin key of the processes (the agents' or billing's)
	nodes    []*localNode
	logLevel string
	stderr   io.Writer
	// exited is closed when a process exits while up is starting the
	// deployment (see noteExit); exit then says which.
	exited   chan struct{}
	exitOnce sync.Once
	exit     nodeExit
	// hc sends up's own requests (verifying the deployment's CA with
	// TLS); nil means the clients' default.
	hc *http.Client
}

// baseURL is n's API base URL.
func (n *localNode) baseURL() string {
	scheme := n.scheme
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + n.httpAddr
}

// node returns the process named id, or nil.
func (c *localCluster) node(id string) *localNode {
	for _, n := range c.nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}

// noteExit records the first exit of a process while up starts the
// deployment: up then fails the start.
func (c *localCluster) noteExit(n *localNode, err error) {
	c.exitOnce.Do(func() {
		c.exit = nodeExit{node: n, err: err}
		close(c.exited)
	})
}

// url returns the comma-separated HTTP endpoints of all nodes.
func (c *localCluster) url() string {
	urls := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		urls[i] = n.baseURL()
	}
	return strings.Join(urls, ",")
}

// client returns a client that fails over between all nodes.
func (c *localCluster) client() (*client.Client, error) {
	return client.New(client.Config{URL: c.url(), Key: c.key, UserAgent: "aerolith-up", HTTPClient: c.hc})
}

// processEnv is the environment of up's own processes (billing): ours
// without AEROLITH_* settings (they would override up's choices) plus the
// admin key, which is passed this way rather than as a flag so it does not
// show in ps.
func (c *localCluster) processEnv() []string {
	return append(cleanEnv(), "AEROLITH_ADMIN_KEY="+c.key)
}

// start has sup run every process of c (billing), restarting one that
// exits by upRestartPolicy. On error the ones started keep running; the
// caller stops them.
func (c *localCluster) start(sup *local.Supervisor) error {
	env := c.processEnv()
	for _, n := range c.nodes {
		if err := os.MkdirAll(n.dataDir, 0o750); err != nil {
			return err
		}
		err := sup.Start(local.Spec{
			Name:    n.id,
			Path:    c.exe,
			Args:    n.args,
			Env:     env,
			LogPath: n.logPath,
			Restart: upRestartPolicy,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// waitReady polls until every node answers /readyz and one of them reports
// a leader with all nodes as members. On failure it prints the tail of the
// failing node's log to stderr and returns an error naming the node.
func (c *localCluster) waitReady(ctx context.Context) (*client.ClusterStatus, error) {
	probes := make([]*client.Client, len(c.nodes))
	for i, n := range c.nodes {
		cl, err := client.New(client.Config{URL: n.baseURL(), Key: c.key, MaxRetries: -1, Timeout: 3 * time.Second, HTTPClient: c.hc})
		if err != nil {
			return nil, err
		}
		probes[i] = cl
	}
	ready := make([]bool, len(c.nodes))
	lastErr := make([]error, len(c.nodes))
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.exited:
			n := c.exit.node
			c.printLogTail(n)
			return nil, fmt.Errorf("%s exited while starting (%s); its log: %s", n.id, local.ExitReason(c.exit.err), n.logPath)
		default:
		}
		allReady := true
		for i := range c.nodes {
			if ready[i] {
				continue
			}
			if err := probes[i].Ready(ctx); err != nil {
				lastErr[i] = err
				allReady = false
				continue
			}
			ready[i] = true
		}
		if allReady {
			st, err := probes[0].Cluster(ctx)
			switch {
			case err != nil:
				lastErr[0] = fmt.Errorf("cluster status: %w", err)
			case st.LeaderID == "":
				lastErr[0] = errors.New("no leader elected yet")
			case countVoters(st) < len(c.nodes):
				lastErr[0] = fmt.Errorf("only %d of %d nodes are voting members", countVoters(st), len(c.nodes))
			default:
				return st, nil
			}
		}
		select {
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, ctx.Err() // interrupted
			}
			for i, n := range c.nodes {
				if !ready[i] || (allReady && i == 0) {
					c.printLogTail(n)
					return nil, fmt.Errorf("%s not ready in time: %v; its log: %s", n.id, lastErr[i], n.logPath)
				}
			}
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

func countVoters(st *client.ClusterStatus) int {
	n := 0
	for _, m := range st.Members {
		if m.Voter {
			n++
		}
	}
	return n
}

// logTailLines is how much of a failing node's log is shown.
const logTailLines = 20

// printLogTail writes the last lines n's current run wrote to its log to
// stderr.
func (c *localCluster) printLogTail(n *localNode) {
	b, err := os.ReadFile(n.logPath)
	start := n.logStart.Load()
	if err != nil || int64(len(b)) < start {
		return
	}
	lines := strings.Split(strings.TrimRight(string(b[start:]), "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	fmt.Fprintf(c.stderr, "--- last lines of %s ---\n%s\n---\n", n.logPath, strings.Join(lines, "\n"))
}
