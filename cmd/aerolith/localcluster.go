package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aerolithdb/aerolith/agent/client"
)

// localNode is one process of a local cluster: an agent, or the billing
// service.
type localNode struct {
	id       string
	httpAddr string
	raftAddr string
	dataDir  string
	logPath  string
	logStart int64 // offset where this run's log begins
	// args are the process's arguments (after the binary); set before
	// localCluster.start.
	args []string
	// scheme is "https" when the process serves TLS, else "http" (or "").
	scheme string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done is closed
}

// nodeExit reports that the agent at index node of localCluster.nodes exited.
type nodeExit struct {
	node int
	err  error
}

// exitReason describes how an agent process ended, from its Wait error
// (nil: it exited with status 0, e.g. after someone sent it SIGTERM).
func exitReason(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
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

// localCluster runs the processes of `aerolith up`: the agents, and in a
// second localCluster the billing service.
type localCluster struct {
	exe      string
	dir      string
	key      string // admin key of the processes (the agents' or billing's)
	nodes    []*localNode
	logLevel string
	keep     bool // dir outlives the run
	stderr   io.Writer
	// env is added to the processes' environment (after agentEnv's
	// AEROLITH_ADMIN_KEY): secrets that must not show in ps.
	env []string

	exited chan nodeExit // one value per agent that exits
	logs   []*os.File
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

// logRef names n's log file for error messages.
func (c *localCluster) logRef(n *localNode) string {
	if c.keep {
		return n.logPath
	}
	return n.logPath + " (removed on exit; use --data-dir to keep it)"
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

// agentEnv is the environment of the agents: ours without AEROLITH_*
// settings (they would override up's choices) plus the admin key, which is
// passed this way rather than as a flag so it does not show in ps.
func (c *localCluster) agentEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AEROLITH_") {
			env = append(env, kv)
		}
	}
	return append(env, "AEROLITH_ADMIN_KEY="+c.key)
}

// planAgents sets the nodes' data directories, log files and agent
// arguments; extra is appended to each agent's arguments.
func (c *localCluster) planAgents(extra ...string) {
	joins := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		joins[i] = n.raftAddr
	}
	for _, n := range c.nodes {
		n.dataDir = filepath.Join(c.dir, n.id)
		n.logPath = filepath.Join(c.dir, n.id+".log")
		n.args = append([]string{"agent",
			"--node-id", n.id,
			"--data-dir", n.dataDir,
			"--http-addr", n.httpAddr,
			"--raft-addr", n.raftAddr,
			"--advertise", "127.0.0.1",
			"--bootstrap-expect", strconv.Itoa(len(c.nodes)),
			"--join", strings.Join(joins, ","),
			"--log-level", c.logLevel,
			"--log-format", "text",
		}, extra...)
	}
}

// start launches every process (see planAgents). On error the ones started
// keep running; the caller stops them.
func (c *localCluster) start() error {
	c.exited = make(chan nodeExit, len(c.nodes))
	env := append(c.agentEnv(), c.env...)
	for i, n := range c.nodes {
		if err := os.MkdirAll(n.dataDir, 0o750); err != nil {
			return err
		}
		log, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return err
		}
		c.logs = append(c.logs, log)
		if st, err := log.Stat(); err == nil {
			n.logStart = st.Size()
		}
		fmt.Fprintf(log, "--- aerolith up: starting %s at %s ---\n", n.id, time.Now().UTC().Format(time.RFC3339))
		n.cmd = exec.Command(c.exe, n.args...)
		n.cmd.Env = env
		n.cmd.Stdout = log
		n.cmd.Stderr = log
		n.cmd.SysProcAttr = agentSysProcAttr()
		if err := n.cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", n.id, err)
		}
		n.done = make(chan struct{})
		go func() {
			n.err = n.cmd.Wait()
			close(n.done)
			c.exited <- nodeExit{node: i, err: n.err}
		}()
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
		case ex := <-c.exited:
			n := c.nodes[ex.node]
			c.exited <- ex // keep it for the stop logic
			c.printLogTail(n)
			return nil, fmt.Errorf("%s exited while starting (%s); its log: %s", n.id, exitReason(ex.err), c.logRef(n))
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
					return nil, fmt.Errorf("%s not ready in time: %v; its log: %s", n.id, lastErr[i], c.logRef(n))
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

// printLogTail writes the last lines this run wrote to n's log to stderr.
func (c *localCluster) printLogTail(n *localNode) {
	b, err := os.ReadFile(n.logPath)
	if err != nil || int64(len(b)) < n.logStart {
		return
	}
	lines := strings.Split(strings.TrimRight(string(b[n.logStart:]), "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	fmt.Fprintf(c.stderr, "--- last lines of %s ---\n%s\n---\n", n.logPath, strings.Join(lines, "\n"))
}

// stop sends SIGTERM to every running agent, waits up to timeout for each,
// then kills the rest. It returns a one-line error naming the agents that
// had to be killed and, when strict, those that exited with an error after
// the SIGTERM (agents that had exited before were reported already).
func (c *localCluster) stop(timeout time.Duration, strict bool) error {
	defer func() {
		for _, l := range c.logs {
			l.Close()
		}
		c.logs = nil
	}()
	var running []*localNode
	for _, n := range c.nodes {
		if n.cmd == nil || n.done == nil {
			continue
		}
		select {
		case <-n.done:
			continue
		default:
		}
		running = append(running, n)
		if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			n.cmd.Process.Kill()
		}
	}
	var mu sync.Mutex
	var errs []string
	var wg sync.WaitGroup
	for _, n := range running {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTimer(timeout)
			defer t.Stop()
			var problem string
			select {
			case <-n.done:
				if n.err != nil && strict {
					problem = fmt.Sprintf("%s exited with %v (log: %s)", n.id, n.err, c.logRef(n))
				}
			case <-t.C:
				n.cmd.Process.Kill()
				<-n.done
				problem = fmt.Sprintf("%s did not stop within %v and was killed (log: %s)", n.id, timeout, c.logRef(n))
			}
			if problem != "" {
				mu.Lock()
				errs = append(errs, problem)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("agents did not stop cleanly: %s", strings.Join(errs, "; "))
	}
	return nil
}
