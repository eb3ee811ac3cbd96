package local

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/cloudinit"
)

// The driver's tests run this test binary as both the instance process
// (args: the instance directory) and the agent it boots (args: agent
// --config ... --data-dir D ...), which writes its pid to D/agent.pid and
// waits for SIGTERM.
const driverHelperEnv = "LOCAL_DRIVER_TEST_HELPER"

func driverHelperMain() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "agent" {
		// A "crash: MESSAGE" setting makes the agent exit at once with
		// MESSAGE on stderr, as a real one does on a bad setting.
		if i := slices.Index(os.Args, "--config"); i > 0 && i+1 < len(os.Args) {
			b, _ := os.ReadFile(os.Args[i+1])
			for l := range strings.SplitSeq(string(b), "\n") {
				if msg, ok := strings.CutPrefix(l, "crash: "); ok {
					fmt.Fprintln(os.Stderr, "agent starting")
					fmt.Fprintln(os.Stderr, "aerolith: "+strings.Trim(msg, `"'`))
					os.Exit(2)
				}
			}
		}
		for i, a := range os.Args {
			if a == "--data-dir" && i+1 < len(os.Args) {
				if err := os.WriteFile(filepath.Join(os.Args[i+1], "agent.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
			}
		}
		<-ctx.Done()
		return
	}
	if err := RunInstance(ctx, os.Args[1], 5*time.Second, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "instance:", err)
		os.Exit(1)
	}
}

func newTestDriver(t *testing.T) (*Driver, *provisioner.Provisioner, *provisioner.ClusterSpec) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := FileSHA256(exe)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDriver(DriverConfig{StateDir: t.TempDir(), Command: []string{exe}, Env: append(os.Environ(), driverHelperEnv+"=1"), StopTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	spec := &provisioner.ClusterSpec{Name: "drv", Cloud: provisioner.Local, Nodes: 3, Agent: provisioner.Artifact{URL: "file://" + exe, SHA256: sum}}
	p := newTestProvisioner(t, d)
	t.Cleanup(func() { p.Destroy(context.Background(), spec) })
	return d, p, spec
}

func newTestProvisioner(t *testing.T, d *Driver) *provisioner.Provisioner {
	t.Helper()
	ud := func(spec *provisioner.ClusterSpec, node string, initial bool) ([]byte, error) {
		return cloudinit.Render(cloudinit.Node{Cluster: spec.Name, NodeID: node, AgentURL: spec.Agent.URL, AgentSHA256: spec.Agent.SHA256,
			Settings: []cloudinit.Setting{{Key: "admin-key", Value: "k"}, {Key: "initial", Value: initial}}})
	}
	p, err := provisioner.New(provisioner.Config{Driver: d, UserData: ud, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// agentPID waits for the agent of inst to have written its pid, other
// than not.
func agentPID(t *testing.T, d *Driver, inst provisioner.Instance, not int) int {
	t.Helper()
	path := filepath.Join(d.ClusterDir("drv"), "instances", inst.ID, "data", "agent.pid")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil {
			if pid, _ := strconv.Atoi(string(b)); pid > 0 && pid != not {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no agent pid (other than %d) in %s", not, path)
	return 0
}

// exited reports whether pid no longer runs: no process, or a zombie
// (its parent may be an init that does not reap).
func exited(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err != nil || len(b) == 0
}

func TestDriverLifecycle(t *testing.T) {
	ctx := context.Background()
	d, p, spec := newTestDriver(t)
	st, err := p.Apply(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 3 {
		t.Fatalf("nodes %+v", st.Nodes)
	}
	var subnet netip.Prefix
	pids := map[string]int{}
	agents := map[string]int{}
	for i, in := range st.Nodes {
		a := netip.MustParseAddr(in.PrivateIP)
		if !netip.MustParsePrefix("127.128.0.0/10").Contains(a) {
			t.Fatalf("%s has address %s, outside 127.128.0.0/10", in.NodeID, a)
		}
		if p := netip.PrefixFrom(a, 24).Masked(); i == 0 {
			subnet = p
		} else if p != subnet {
			t.Fatalf("%s in %s, others in %s", in.NodeID, p, subnet)
		}
		if in.State != provisioner.Running || d.PID("drv", in.ID) == 0 {
			t.Fatalf("%s: state %s, pid %d", in.NodeID, in.State, d.PID("drv", in.ID))
		}
		pids[in.NodeID] = d.PID("drv", in.ID)
		agents[in.NodeID] = agentPID(t, d, in, 0)
		cfg, err := os.ReadFile(filepath.Join(d.ClusterDir("drv"), "instances", in.ID, "agent.yaml"))
		if err != nil || !strings.Contains(string(cfg), "node-id: "+in.NodeID) {
			t.Fatalf("agent.yaml of %s: %q, %v", in.NodeID, cfg, err)
		}
	}

	// Another driver over the same state (a later command) finds them; a
	// second apply changes nothing.
	d2, err := NewDriver(d.cfg)
	if err != nil {
		t.Fatal(err)
	}
	p2 := newTestProvisioner(t, d2)
	if plan, err := p2.Plan(ctx, spec); err != nil || !plan.Empty() {
		t.Fatalf("plan after apply: %+v, %v", plan, err)
	}
	if _, err := p2.Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	for _, in := range st.Nodes {
		if got := d2.PID("drv", in.ID); got != pids[in.NodeID] {
			t.Fatalf("%s: pid %d after a second apply, was %d", in.NodeID, got, pids[in.NodeID])
		}
	}

	// A crashed agent is restarted by its instance.
	n1 := st.Nodes[0]
	syscall.Kill(agents[n1.NodeID], syscall.SIGKILL)
	agents[n1.NodeID] = agentPID(t, d, n1, agents[n1.NodeID])

	// A killed instance process (a host failure) takes its agent down; the
	// instance is stopped, and the next apply starts it again with its
	// data.
	n2 := st.Nodes[1]
	marker := filepath.Join(d.ClusterDir("drv"), "instances", n2.ID, "data", "marker")
	if err := os.WriteFile(marker, []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(pids[n2.NodeID], syscall.SIGKILL)
	for !exited(agents[n2.NodeID]) {
		time.Sleep(20 * time.Millisecond)
	}
	insts, err := d2.Instances(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range insts {
		if in.ID == n2.ID && (in.State != provisioner.Stopped || !strings.Contains(in.Reason, "its process exited")) {
			t.Fatalf("killed instance: %+v", in)
		}
	}
	if plan, err := p2.Plan(ctx, spec); err != nil || !plan.Empty() {
		t.Fatalf("plan with a stopped instance: %+v, %v (want nothing to launch)", plan, err)
	}
	st, err = p2.Apply(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range st.Nodes {
		if in.NodeID == n2.NodeID && (in.ID != n2.ID || in.State != provisioner.Running) {
			t.Fatalf("restarted %s: %+v (was %+v)", n2.NodeID, in, n2)
		}
		pids[in.NodeID] = d2.PID("drv", in.ID)
		not := 0
		if in.NodeID == n2.NodeID {
			not = agents[n2.NodeID] // its pid file still names the killed agent
		}
		agents[in.NodeID] = agentPID(t, d2, in, not)
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != "kept" {
		t.Fatalf("the restarted instance's data: %q, %v", b, err)
	}

	if err := p2.Destroy(ctx, spec); err != nil {
		t.Fatal(err)
	}
	for node, pid := range pids {
		if !exited(pid) || !exited(agents[node]) {
			t.Fatalf("%s: instance %d or agent %d still runs after destroy", node, pid, agents[node])
		}
	}
	if _, err := os.Stat(d.ClusterDir("drv")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("cluster dir after destroy: %v", err)
	}
	if err := p2.Destroy(ctx, spec); err != nil {
		t.Fatalf("second destroy: %v", err)
	}
}

func TestDriverRefusesWrongDigest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, p, spec := newTestDriver(t)
	spec.Nodes = 1
	spec.Agent.SHA256 = strings.Repeat("0", 64)
	_, err := p.Apply(ctx, spec)
	if err == nil || !strings.Contains(err.Error(), "before its agent ran") {
		t.Fatalf("apply with a wrong digest: %v", err)
	}
	insts, _ := d.Instances(ctx, spec)
	if len(insts) == 0 {
		t.Fatal("no instance recorded")
	}
	log, _ := os.ReadFile(filepath.Join(d.ClusterDir("drv"), "instances", insts[0].ID, instanceLogFile))
	if !strings.Contains(string(log), ErrDigestMismatch.Error()) {
		t.Fatalf("instance log: %q", log)
	}
}
