// Package proctest runs Aerolith agents as real operating-system processes
// for black-box tests and benchmarks: it builds the binary, picks free
// loopback ports, starts N `aerolith agent` processes that form one cluster,
// and kills, stops and restarts them on the same data directories. Each
// agent writes its output to a log file whose tail is printed when a test
// fails. The package talks to the agents only through their command line
// and HTTP API.
package proctest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aerolithdb/aerolith/internal/pki"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrNotRunning is returned by operations on a node whose process is
	// not running (never started, killed or stopped).
	ErrNotRunning = errors.New("node not running")
	// ErrRunning is returned by StartNode for a node that is already running.
	ErrRunning = errors.New("node already running")
	// ErrExited is returned while waiting on a node whose process exited.
	ErrExited = errors.New("node process exited")
	// ErrNoLeader is returned by Leader when no running node reports being
	// the leader.
	ErrNoLeader = errors.New("no leader")
)

// Config describes a cluster of agent processes.
type Config struct {
	// Binary is the path of the aerolith binary (see BuildBinary). Required.
	Binary string
	// Dir is the root directory; node i keeps its data in Dir/n<i+1>/data
	// and its log in Dir/n<i+1>.log. Required.
	Dir string
	// Nodes is the number of agents; default 3.
	Nodes int
	// AdminKey is the bearer key passed as --admin-key; default random.
	AdminKey string
	// LogLevel is passed as --log-level; default "warn".
	LogLevel string
	// Host is the loopback address the agents listen on; default 127.0.0.1.
	Host string
	// ExtraArgs are appended to every agent's command line.
	ExtraArgs []string
	// StopTimeout bounds how long Stop waits after SIGTERM before it sends
	// SIGKILL and reports an error; default 30s.
	StopTimeout time.Duration
	// RequestTimeout bounds each HTTP request the harness itself makes
	// (readiness and cluster probes); default 5s.
	RequestTimeout time.Duration
	// TLS runs the agents with TLS: a CA under Dir/pki and a node
	// certificate per node (see tls.go); URL, URLs and API use https and
	// the CA. Off, the agents get --insecure-http.
	TLS bool
}

// Cluster is a set of agent processes. Its methods are safe for concurrent
// use. Close kills every process it started.
type Cluster struct {
	cfg   Config
	api   *Client
	mu    sync.Mutex
	nodes []*node
	ports bool // ports allocated
	// ca and clientTLS are the cluster's CA and a client config trusting
	// it (Config.TLS; set by the first Start).
	ca        *pki.CA
	clientTLS *tls.Config
}

type node struct {
	id       string
	dir      string
	dataDir  string
	logPath  string
	httpAddr string
	raftAddr string
	proc     *process // nil when not running
}

// process is one run of an agent.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when Wait returned
	err  error         // Wait's result, valid after done
	// paused is set by Pause (SIGSTOP) and cleared by Resume (SIGCONT).
	paused atomic.Bool
	// isolated is set by Isolate and cleared by Heal.
	isolated atomic.Bool
}

// New validates cfg and returns a cluster that is not started. It does no I/O.
func New(cfg Config) (*Cluster, error) {
	if cfg.Binary == "" {
		return nil, errors.New("proctest: Binary: required (see BuildBinary)")
	}
	if cfg.Dir == "" {
		return nil, errors.New("proctest: Dir: required")
	}
	if cfg.Nodes == 0 {
		cfg.Nodes = 3
	}
	if cfg.Nodes < 1 {
		return nil, fmt.Errorf("proctest: Nodes: must be >= 1, got %d", cfg.Nodes)
	}
	if cfg.AdminKey == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("proctest: admin key: %w", err)
		}
		cfg.AdminKey = hex.EncodeToString(b)
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 30 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	c := &Cluster{cfg: cfg}
	c.api = NewClient(cfg.AdminKey, &http.Client{
		Timeout: cfg.RequestTimeout,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		},
	})
	for i := 0; i < cfg.Nodes; i++ {
		id := "n" + strconv.Itoa(i+1)
		dir := filepath.Join(cfg.Dir, id)
		c.nodes = append(c.nodes, &node{
			id:      id,
			dir:     dir,
			dataDir: filepath.Join(dir, "data"),
			logPath: filepath.Join(cfg.Dir, id+".log"),
		})
	}
	return c, nil
}

// N returns the number of nodes.
func (c *Cluster) N() int { return len(c.nodes) }

// AdminKey returns the bearer key every agent accepts.
func (c *Cluster) AdminKey() string { return c.cfg.AdminKey }

// API returns a client authenticated with the admin key. Its requests are
// bounded by Config.RequestTimeout.
func (c *Cluster) API() *Client { return c.api }

// NodeID returns node i's --node-id ("n1" for i == 0).
func (c *Cluster) NodeID(i int) string { return c.nodes[i].id }

// Index returns the index of the node with the given id, or -1.
func (c *Cluster) Index(nodeID string) int {
	for i, n := range c.nodes {
		if n.id == nodeID {
			return i
		}
	}
	return -1
}

// HTTPAddr returns node i's HTTP host:port ("" before Start).
func (c *Cluster) HTTPAddr(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].httpAddr
}

// RaftAddr returns node i's raft host:port ("" before Start).
func (c *Cluster) RaftAddr(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].raftAddr
}

// URL returns node i's base URL, e.g. "http://127.0.0.1:41234"
// ("https://..." with Config.TLS).
func (c *Cluster) URL(i int) string { return c.scheme() + "://" + c.HTTPAddr(i) }

// URLs returns every node's base URL, in node order.
func (c *Cluster) URLs() []string {
	out := make([]string, len(c.nodes))
	for i := range c.nodes {
		out[i] = c.URL(i)
	}
	return out
}

// DataDir returns node i's --data-dir.
func (c *Cluster) DataDir(i int) string { return c.nodes[i].dataDir }

// LogPath returns the file node i's output is appended to.
func (c *Cluster) LogPath(i int) string { return c.nodes[i].logPath }

// PID returns node i's process id, 0 when it does not run.
func (c *Cluster) PID(i int) int {
	if !c.Running(i) {
		return 0
	}
	return c.proc(i).cmd.Process.Pid
}

// Running reports whether node i's process runs.
func (c *Cluster) Running(i int) bool {
	c.mu.Lock()
	p := c.nodes[i].proc
	c.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Start allocates ports on first use and starts every node that is not
// running, all at once, so that a fresh cluster bootstraps with
// --bootstrap-expect N. It returns once the processes are started; use
// WaitReady and WaitLeader to wait for the cluster.
func (c *Cluster) Start(ctx context.Context) error {
	if err := c.allocatePorts(); err != nil {
		return err
	}
	for i := range c.nodes {
		if c.Running(i) {
			continue
		}
		if err := c.StartNode(i); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (c *Cluster) allocatePorts() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ports {
		return nil
	}
	ports, err := FreePorts(c.cfg.Host, 2*len(c.nodes))
	if err != nil {
		return err
	}
	for i, n := range c.nodes {
		n.httpAddr = net.JoinHostPort(c.cfg.Host, strconv.Itoa(ports[2*i]))
		n.raftAddr = net.JoinHostPort(c.cfg.Host, strconv.Itoa(ports[2*i+1]))
	}
	c.ports = true
	return nil
}

// Args returns the command line (without the binary) node i is started with.
func (c *Cluster) Args(i int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.argsLocked(i)
}

func (c *Cluster) argsLocked(i int) []string {
	n := c.nodes[i]
	join := make([]string, len(c.nodes))
	for j, o := range c.nodes {
		join[j] = o.raftAddr
	}
	args := []string{"agent",
		"--node-id", n.id,
		"--data-dir", n.dataDir,
		"--http-addr", n.httpAddr,
		"--raft-addr", n.raftAddr,
		"--bootstrap-expect", strconv.Itoa(len(c.nodes)),
		"--join", strings.Join(join, ","),
		"--admin-key", c.cfg.AdminKey,
		"--log-level", c.cfg.LogLevel,
	}
	args = append(args, c.tlsFlags(i)...)
	return append(args, c.cfg.ExtraArgs...)
}

// StartNode starts node i's process on its data directory and ports (a
// restart when it ran before). Output is appended to LogPath(i).
func (c *Cluster) StartNode(i int) error {
	if err := c.allocatePorts(); err != nil {
		return err
	}
	if err := c.setupTLS(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[i]
	if n.proc != nil {
		select {
		case <-n.proc.done:
		default:
			return fmt.Errorf("start %s: %w", n.id, ErrRunning)
		}
	}
	if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
		return fmt.Errorf("start %s: %w", n.id, err)
	}
	if err := c.ensureCertLocked(i); err != nil {
		return fmt.Errorf("start %s: %w", n.id, err)
	}
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", n.id, err)
	}
	defer logf.Close() // the child has its own descriptor
	args := c.argsLocked(i)
	fmt.Fprintf(logf, "=== proctest %s: start %s %s\n", time.Now().Format(time.RFC3339Nano), c.cfg.Binary, strings.Join(redact(args), " "))
	cmd := exec.Command(c.cfg.Binary, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", n.id, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	n.proc = p
	return nil
}

// redact hides the admin key in logged command lines.
func redact(args []string) []string {
	out := append([]string(nil), args...)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == "--admin-key" {
			out[i+1] = "REDACTED"
		}
	}
	return out
}

func (c *Cluster) proc(i int) *process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].proc
}

// Kill sends SIGKILL to node i and waits for the process to exit.
func (c *Cluster) Kill(i int) error {
	p := c.proc(i)
	if p == nil {
		return fmt.Errorf("kill %s: %w", c.nodes[i].id, ErrNotRunning)
	}
	select {
	case <-p.done:
		return fmt.Errorf("kill %s: %w", c.nodes[i].id, ErrNotRunning)
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", c.nodes[i].id, err)
	}
	<-p.done
	c.note(i, "killed (SIGKILL)")
	return nil
}

// Stop sends SIGTERM to node i and waits for it to exit. A graceful stop
// must exit with status 0 within Config.StopTimeout (or before ctx ends);
// otherwise the process is killed and an error describes what happened.
func (c *Cluster) Stop(ctx context.Context, i int) error {
	id := c.nodes[i].id
	p := c.proc(i)
	if p == nil {
		return fmt.Errorf("stop %s: %w", id, ErrNotRunning)
	}
	select {
	case <-p.done:
		return fmt.Errorf("stop %s: %w", id, ErrNotRunning)
	default:
	}
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	if p.paused.Load() {
		// A stopped process sees SIGTERM only once it is continued.
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		p.paused.Store(false)
	}
	timer := time.NewTimer(c.cfg.StopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		c.note(i, "did not stop within "+c.cfg.StopTimeout.String()+" of SIGTERM; killed")
		return fmt.Errorf("stop %s: no exit within %v of SIGTERM; killed", id, c.cfg.StopTimeout)
	case <-ctx.Done():
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		c.note(i, "stop abandoned; killed")
		return fmt.Errorf("stop %s: %w", id, ctx.Err())
	}
	c.note(i, fmt.Sprintf("stopped (SIGTERM) after %v: %v", time.Since(start).Round(time.Millisecond), p.err))
	if p.err != nil {
		return fmt.Errorf("stop %s: unclean exit after SIGTERM: %w", id, p.err)
	}
	return nil
}

// StopAll stops every running node concurrently (SIGTERM) and returns the
// errors joined.
func (c *Cluster) StopAll(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i := range c.nodes {
		if !c.Running(i) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Stop(ctx, i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Restart stops node i gracefully (when running) and starts it again on the
// same data directory and ports.
func (c *Cluster) Restart(ctx context.Context, i int) error {
	if c.Running(i) {
		if err := c.Stop(ctx, i); err != nil {
			return err
		}
	}
	return c.StartNode(i)
}

// ExitErr returns the result of node i's last process run: nil while it
// runs or after a clean exit.
func (c *Cluster) ExitErr(i int) error {
	p := c.proc(i)
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Close kills every running process and waits for them. It is idempotent.
func (c *Cluster) Close() error {
	var errs []error
	for i := range c.nodes {
		if !c.Running(i) {
			continue
		}
		if err := c.Kill(i); err != nil && !errors.Is(err, ErrNotRunning) {
			errs = append(errs, err)
		}
	}
	c.api.hc.CloseIdleConnections()
	return errors.Join(errs...)
}

// note appends a harness line to node i's log so that kills and stops show
// up in line with the agent's own output.
func (c *Cluster) note(i int, msg string) {
	f, err := os.OpenFile(c.nodes[i].logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "=== proctest %s: %s\n", time.Now().Format(time.RFC3339Nano), msg)
}

// FreePorts returns n distinct TCP ports that were free on host a moment ago.
// All n listeners are held open together so the ports differ.
func FreePorts(host string, n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("free ports on %s: %w", host, err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
