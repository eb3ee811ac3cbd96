package local

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/aerolithdb/aerolith/internal/atomicfile"
	"github.com/aerolithdb/aerolith/provisioner"
)

// Driver is the provisioner's local cloud: every node is an instance
// process (RunInstance) on its own loopback address, with its own
// directory under StateDir/<cluster>/instances. What it made is recorded
// in StateDir/<cluster>/driver.json (atomically replaced), so a later
// command (list, scale, destroy) finds the processes, which outlive the
// command that launched them.
//
// Two commands must not change the same cluster at once; the CLI holds a
// lock per cluster for that.
type Driver struct {
	cfg DriverConfig
	mu  sync.Mutex
}

// DriverConfig configures a Driver.
type DriverConfig struct {
	// StateDir holds a directory per cluster.
	StateDir string
	// Command runs an instance: Command followed by the instance's
	// directory (the CLI: its own executable and "local-instance").
	Command []string
	// Env is the instance processes' environment (nil: this process's).
	Env []string
	// StopTimeout is how long an instance gets to stop its agent after
	// SIGTERM before it is killed (default 40s; the instance itself gives
	// its agent 30s).
	StopTimeout time.Duration
	// StartTimeout bounds how long Launch waits for an instance process to
	// take its lock (default 30s).
	StartTimeout time.Duration
	// Placements gives nodes fixed addresses and directories, by node id
	// (a driver of one cluster: aerolith up keeps its documented ports on
	// 127.0.0.1 this way). A node without one gets its own loopback
	// address in the cluster's subnet. Written into the instance at launch
	// and at every Start, so a restarted instance takes the current one.
	Placements map[string]Placement
	// AgentRestart is how an instance restarts its crashed agent (zero:
	// AgentRestartPolicy, a VM's Restart=always).
	AgentRestart RestartPolicy
	// AgentStopTimeout is how long an instance gives its agent after
	// SIGTERM before SIGKILL (zero: the instance command's default).
	AgentStopTimeout time.Duration
	// Attached ties the instance processes to this process: they get
	// SIGTERM when it dies (and stop their agents) instead of running on
	// detached, as a cluster made by `aerolith cluster create` does. They
	// still have a process group of their own, so a Ctrl-C at the terminal
	// reaches this process only, which stops them in order.
	Attached bool
}

// NewDriver checks cfg; it does no I/O.
func NewDriver(cfg DriverConfig) (*Driver, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("local driver: StateDir is required")
	}
	if len(cfg.Command) == 0 {
		return nil, errors.New("local driver: Command is required")
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 40 * time.Second
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if err := cfg.AgentRestart.Validate(); cfg.AgentRestart != (RestartPolicy{}) && err != nil {
		return nil, fmt.Errorf("local driver: agent %w", err)
	}
	for id, p := range cfg.Placements {
		for _, a := range []string{p.HTTPAddr, p.RaftAddr} {
			if a == "" {
				continue
			}
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, fmt.Errorf("local driver: placement of %s: address %q: want host:port", id, a)
			}
		}
	}
	return &Driver{cfg: cfg}, nil
}

// driverState is driver.json: the cluster's subnet and every instance
// launched (terminated ones too: they count the node's generations).
type driverState struct {
	Subnet    string           `json:"subnet"`
	Instances []*instanceEntry `json:"instances"`
}

type instanceEntry struct {
	ID        string    `json:"id"`
	NodeID    string    `json:"node_id"`
	Token     string    `json:"token"`
	PrivateIP string    `json:"private_ip"`
	Dir       string    `json:"dir"`
	PID       int       `json:"pid,omitempty"`
	State     string    `json:"state"` // launching, running, stopped (by Stop), terminated
	Launched  time.Time `json:"launched"`
	Reason    string    `json:"reason,omitempty"`
}

// ClusterDir is the directory of cluster's instances and files.
func (d *Driver) ClusterDir(cluster string) string { return filepath.Join(d.cfg.StateDir, cluster) }

func (d *Driver) statePath(cluster string) string {
	return filepath.Join(d.ClusterDir(cluster), "driver.json")
}

func (d *Driver) load(cluster string) (*driverState, error) {
	b, err := os.ReadFile(d.statePath(cluster))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st driverState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", d.statePath(cluster), err)
	}
	return &st, nil
}

func (d *Driver) save(cluster string, st *driverState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(d.statePath(cluster), append(b, '\n'), 0o600)
}

// Cloud implements provisioner.Driver.
func (d *Driver) Cloud() provisioner.Cloud { return provisioner.Local }

// EnsureNetwork gives the cluster its own loopback /24, chosen at random
// in 127.128.0.0/10 (tests/proctest uses 127.0.0.x, the cloud simulator
// 127.64.0.0/10), so clusters of parallel tests never share an address.
// It also repairs the cluster's "host": an instance whose process ended
// without being terminated (the machine rebooted, the process was
// killed) is a stopped VM whose disk is intact, so it is started again
// with its data, as a cloud restarts a VM after a host failure.
func (d *Driver) EnsureNetwork(ctx context.Context, spec *provisioner.ClusterSpec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, err := d.load(spec.Name)
	if err != nil {
		return err
	}
	if st != nil {
		return d.restartStopped(ctx, spec.Name, st)
	}
	taken := map[string]bool{}
	if ents, err := os.ReadDir(d.cfg.StateDir); err == nil {
		for _, e := range ents {
			if other, err := d.load(e.Name()); err == nil && other != nil {
				taken[other.Subnet] = true
			}
		}
	}
	var subnet netip.Prefix
	for {
		var b [2]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 128 + b[0]&63, b[1], 0}), 24)
		if !taken[subnet.String()] {
			break
		}
	}
	if err := os.MkdirAll(d.ClusterDir(spec.Name), 0o700); err != nil {
		return err
	}
	return d.save(spec.Name, &driverState{Subnet: subnet.String(), Instances: []*instanceEntry{}})
}

func (d *Driver) restartStopped(ctx context.Context, cluster string, st *driverState) error {
	for _, e := range st.Instances {
		// An instance stopped on request stays stopped until Start, as a
		// stopped VM does.
		if e.State == "terminated" || e.State == "stopped" || !bootable(e.Dir) || alive(e.Dir) {
			continue
		}
		pid, err := d.start(ctx, e.Dir)
		if err != nil {
			return fmt.Errorf("restart instance %s of %s: %w", e.ID, e.NodeID, err)
		}
		e.PID, e.State, e.Reason = pid, "running", ""
		if err := d.save(cluster, st); err != nil {
			return err
		}
	}
	return nil
}

// bootable reports whether the instance directory holds what its process
// boots from (a launch killed before it wrote them never started).
func bootable(dir string) bool {
	for _, f := range []string{instanceMetaFile, instanceUserData} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// Address is the loopback address of node nodeID of cluster: .10+index of
// the cluster's subnet. It fails before EnsureNetwork.
func (d *Driver) Address(cluster, nodeID string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, err := d.load(cluster)
	if err != nil {
		return "", err
	}
	return d.addressOf(st, cluster, nodeID)
}

func (d *Driver) addressOf(st *driverState, cluster, nodeID string) (string, error) {
	if st == nil {
		return "", fmt.Errorf("local cluster %s has no network yet", cluster)
	}
	if p, ok := d.cfg.Placements[nodeID]; ok && p.RaftAddr != "" {
		host, _, _ := net.SplitHostPort(p.RaftAddr)
		if p.Advertise != "" {
			host = p.Advertise
		}
		return host, nil
	}
	i, ok := provisioner.NodeIndex(cluster, nodeID)
	if !ok || i > 240 {
		return "", fmt.Errorf("node id %q is not a node of %s (%s-n1 to %s-n240)", nodeID, cluster, cluster, cluster)
	}
	p, err := netip.ParsePrefix(st.Subnet)
	if err != nil {
		return "", fmt.Errorf("driver state: subnet %q: %w", st.Subnet, err)
	}
	a := p.Addr().As4()
	a[3] = byte(10 + i)
	return netip.AddrFrom4(a).String(), nil
}

// instanceID is the id of the instance a launch token makes: the same for
// every retry, so a rerun launch finds what an interrupted one started.
func instanceID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "local-" + hex.EncodeToString(sum[:6])
}

// Launch starts the node's instance process unless the launch token's
// instance already runs, and waits until the process holds its
// instance (or exits, an error with its log).
func (d *Driver) Launch(ctx context.Context, spec *provisioner.ClusterSpec, l provisioner.Launch) (provisioner.Instance, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, err := d.load(spec.Name)
	if err != nil {
		return provisioner.Instance{}, err
	}
	ip, err := d.addressOf(st, spec.Name, l.NodeID)
	if err != nil {
		return provisioner.Instance{}, err
	}
	id := instanceID(l.Token)
	var e *instanceEntry
	for _, have := range st.Instances {
		if have.ID == id {
			e = have
		}
	}
	if e == nil {
		e = &instanceEntry{ID: id, NodeID: l.NodeID, Token: l.Token, PrivateIP: ip,
			Dir: filepath.Join(d.ClusterDir(spec.Name), "instances", id), State: "launching", Launched: time.Now().UTC()}
		st.Instances = append(st.Instances, e)
		// Recorded before the process starts, so that a command killed
		// from here on leaves a trace the next one finds.
		if err := d.save(spec.Name, st); err != nil {
			return provisioner.Instance{}, err
		}
	}
	if e.State == "terminated" {
		return toInstance(e, provisioner.Terminated), nil
	}
	if e.State == "stopped" && !alive(e.Dir) {
		// The launch token's instance exists, stopped: EC2 answers a
		// repeated RunInstances with it, it does not start it.
		return toInstance(e, provisioner.Stopped), nil
	}
	if pid, _ := instancePID(e.Dir); pid > 0 {
		// Running or booting (a rerun after a killed launch): wait for it
		// rather than start a second process.
		if pid, err = d.waitBooted(ctx, e.Dir, pid, nil); err != nil {
			return provisioner.Instance{}, fmt.Errorf("instance %s of %s: %w", e.ID, e.NodeID, err)
		}
		return d.markRunning(spec.Name, st, e, pid)
	}
	if err := os.MkdirAll(e.Dir, 0o700); err != nil {
		return provisioner.Instance{}, err
	}
	if err := d.writeMeta(spec.Name, e); err != nil {
		return provisioner.Instance{}, err
	}
	if err := atomicfile.Write(filepath.Join(e.Dir, instanceUserData), l.UserData, 0o600); err != nil {
		return provisioner.Instance{}, err
	}
	pid, err := d.start(ctx, e.Dir)
	if err != nil {
		return provisioner.Instance{}, fmt.Errorf("instance %s of %s: %w", e.ID, e.NodeID, err)
	}
	return d.markRunning(spec.Name, st, e, pid)
}

// writeMeta writes what e's instance process boots with besides its user
// data: its identity and the driver's placement and policies for it.
func (d *Driver) writeMeta(cluster string, e *instanceEntry) error {
	m := instanceMeta{ID: e.ID, Cluster: cluster, NodeID: e.NodeID, PrivateIP: e.PrivateIP, BinDir: filepath.Join(d.ClusterDir(cluster), "bin"),
		Placement: d.cfg.Placements[e.NodeID], StopTimeout: d.cfg.AgentStopTimeout}
	if d.cfg.AgentRestart != (RestartPolicy{}) {
		p := d.cfg.AgentRestart
		m.Restart = &p
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(e.Dir, instanceMetaFile), b, 0o600)
}

func (d *Driver) markRunning(cluster string, st *driverState, e *instanceEntry, pid int) (provisioner.Instance, error) {
	e.PID, e.State = pid, "running"
	if err := d.save(cluster, st); err != nil {
		return provisioner.Instance{}, err
	}
	return toInstance(e, provisioner.Running), nil
}

// start runs the instance process of dir detached and waits until it has
// written its pid (it holds its lock then).
func (d *Driver) start(ctx context.Context, dir string) (int, error) {
	logPath := filepath.Join(dir, instanceLogFile)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	args := append(append([]string(nil), d.cfg.Command[1:]...), dir)
	cmd := exec.Command(d.cfg.Command[0], args...)
	cmd.Env = d.cfg.Env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = detachedProcAttr()
	if d.cfg.Attached {
		cmd.SysProcAttr = sysProcAttr()
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps it should it end while this process lives
	return d.waitBooted(ctx, dir, cmd.Process.Pid, exited)
}

// waitBooted waits until the instance process pid of dir has booted
// (written its pid file). exited, when not nil, reports its exit.
func (d *Driver) waitBooted(ctx context.Context, dir string, pid int, exited <-chan error) (int, error) {
	logPath := filepath.Join(dir, instanceLogFile)
	deadline := time.NewTimer(d.cfg.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if got := bootedPID(dir); got > 0 {
			return got, nil // this process, or another of the same instance
		}
		if exited == nil && !runsInstance(pid, dir) {
			exited = closedErr(errors.New("the process is gone"))
		}
		select {
		case err := <-exited:
			if got := bootedPID(dir); got > 0 {
				return got, nil
			}
			return 0, fmt.Errorf("the instance process exited (%s) before its agent ran; see %s", ExitReason(err), logPath)
		case <-deadline.C:
			return 0, fmt.Errorf("the instance did not boot within %s; see %s", d.cfg.StartTimeout, logPath)
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
}

func closedErr(err error) <-chan error {
	c := make(chan error, 1)
	c <- err
	return c
}

func toInstance(e *instanceEntry, s provisioner.State) provisioner.Instance {
	return provisioner.Instance{ID: e.ID, NodeID: e.NodeID, State: s, PrivateIP: e.PrivateIP, Launched: e.Launched, Reason: e.Reason}
}

// Instances lists the cluster's instances: running while a booted
// process runs them (whatever the state file says), pending while one
// boots, stopped when their process ended without being terminated (the
// next EnsureNetwork starts them again), terminated otherwise.
func (d *Driver) Instances(_ context.Context, spec *provisioner.ClusterSpec) ([]provisioner.Instance, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, err := d.load(spec.Name)
	if err != nil || st == nil {
		return nil, err
	}
	out := make([]provisioner.Instance, 0, len(st.Instances))
	for _, e := range st.Instances {
		s := provisioner.Terminated
		if pid, booted := instancePID(e.Dir); pid > 0 && booted {
			s = provisioner.Running
		} else if pid > 0 {
			s = provisioner.Pending
		} else if e.State == "stopped" {
			s = provisioner.Stopped
		} else if e.State != "terminated" && bootable(e.Dir) {
			s = provisioner.Stopped
			e.Reason = "its process exited; the next apply starts it again"
		} else if e.State != "terminated" {
			e.Reason = "launch interrupted before its process started"
		}
		out = append(out, toInstance(e, s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Launched.Before(out[j].Launched) })
	return out, nil
}

// InstanceLog is the log of instance id's process: its boot and its
// supervisor's events.
func (d *Driver) InstanceLog(cluster, id string) string {
	return filepath.Join(d.ClusterDir(cluster), "instances", id, instanceLogFile)
}

// PID returns the pid of the process running instance id of cluster, 0
// when none does.
func (d *Driver) PID(cluster, id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, err := d.load(cluster)
	if err != nil || st == nil {
		return 0
	}
	for _, e := range st.Instances {
		if e.ID == id {
			pid, _ := instancePID(e.Dir)
			return pid
		}
	}
	return 0
}

// Terminate stops the instance's process (SIGTERM: it stops its agent;
// SIGKILL to its process group after StopTimeout) and deletes its
// directory and its placement's data directory, as terminating a VM
// deletes its disk (Stop keeps them). Terminating a
// terminated or unknown instance succeeds.
func (d *Driver) Terminate(ctx context.Context, spec *provisioner.ClusterSpec, inst provisioner.Instance) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, err := d.load(spec.Name)
	if err != nil || st == nil {
		return err
	}
	for _, e := range st.Instances {
		if e.ID != inst.ID {
			continue
		}
		if err := d.stop(ctx, e.Dir); err != nil {
			return fmt.Errorf("instance %s: %w", e.ID, err)
		}
		// A placed node keeps its data outside the instance directory:
		// it is the instance's disk all the same.
		if b, err := os.ReadFile(filepath.Join(e.Dir, instanceMetaFile)); err == nil {
			var m instanceMeta
			if json.Unmarshal(b, &m) == nil && m.Placement.DataDir != "" {
				if err := os.RemoveAll(m.Placement.DataDir); err != nil {
					return err
				}
			}
		}
		if err := os.RemoveAll(e.Dir); err != nil {
			return err
		}
		e.State, e.PID = "terminated", 0
		if e.Reason == "" {
			e.Reason = "terminated"
		}
		return d.save(spec.Name, st)
	}
	return nil
}

func (d *Driver) stop(ctx context.Context, dir string) error {
	pid, _ := instancePID(dir)
	if pid == 0 {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	deadline := time.NewTimer(d.cfg.StopTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for alive(dir) {
		select {
		case <-tick.C:
		case <-deadline.C:
			return d.kill(dir, pid)
		case <-ctx.Done():
			d.kill(dir, pid)
			return ctx.Err()
		}
	}
	return nil
}

// kill ends an instance that did not stop: its process group (the
// instance process; its agent has a group of its own and gets SIGTERM
// from the kernel when its parent dies).
func (d *Driver) kill(dir string, pid int) error {
	syscall.Kill(-pid, syscall.SIGKILL)
	for i := 0; i < 250 && alive(dir); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(dir) {
		return fmt.Errorf("process %d did not die after SIGKILL", pid)
	}
	return nil
}

// DeleteNetwork removes the cluster's directory once no instance of it
// runs: its subnet is free again.
func (d *Driver) DeleteNetwork(ctx context.Context, spec *provisioner.ClusterSpec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, err := d.load(spec.Name)
	if err != nil || st == nil {
		if err == nil {
			err = os.RemoveAll(d.ClusterDir(spec.Name))
		}
		return err
	}
	for _, e := range st.Instances {
		if pid, _ := instancePID(e.Dir); pid > 0 {
			return fmt.Errorf("instance %s (%s) still runs as pid %d", e.ID, e.NodeID, pid)
		}
	}
	return os.RemoveAll(d.ClusterDir(spec.Name))
}

func alive(dir string) bool {
	pid, _ := instancePID(dir)
	return pid > 0
}

// Check that Driver implements the interface.
var _ provisioner.Driver = (*Driver)(nil)
