package local

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
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

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// eventQueue holds what an EventReader read and a test has not looked at.
type eventQueue struct {
	r *EventReader
	q []Event
}

// next skips events until one of kind for name arrives.
func (e *eventQueue) next(t *testing.T, kind EventKind, name string) Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		e.q = append(e.q, e.r.Read()...)
		for len(e.q) > 0 {
			ev := e.q[0]
			e.q = e.q[1:]
			if ev.Kind == kind && ev.Name == name {
				return ev
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s event of %s", kind, name)
	return Event{}
}

// placedPID waits for the placed agent to have written its pid into
// dataDir, other than not.
func placedPID(t *testing.T, dataDir string, not int) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(dataDir, "agent.pid")); err == nil {
			if pid, _ := strconv.Atoi(string(b)); pid > 0 && pid != not {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no agent pid (other than %d) in %s", not, dataDir)
	return 0
}

func cmdline(pid int) []string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
}

// TestDriverStopStartKeepsTheNode: what `aerolith up` does with its
// agents. A node placed at fixed addresses and directories runs there; a
// killed agent is restarted by its instance (and the events say so);
// Stop ends the processes and keeps the instance and its data; Start
// boots the same instance, with the same node id and data, from user
// data changed while it was stopped; Terminate deletes the data.
func TestDriverStopStartKeepsTheNode(t *testing.T) {
	ctx := context.Background()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := FileSHA256(exe)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	pl := Placement{HTTPAddr: freeAddr(t), RaftAddr: freeAddr(t), DataDir: filepath.Join(home, "node1"), LogPath: filepath.Join(home, "node1.log")}
	restart := RestartPolicy{InitialBackoff: 50 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, ResetAfter: 10 * time.Second}
	d, err := NewDriver(DriverConfig{StateDir: home, Command: []string{exe}, Env: append(os.Environ(), driverHelperEnv+"=1"), StopTimeout: 10 * time.Second,
		Placements: map[string]Placement{"node1": pl}, AgentRestart: restart, AgentStopTimeout: 5 * time.Second, Attached: true})
	if err != nil {
		t.Fatal(err)
	}
	spec := &provisioner.ClusterSpec{Name: "up", Cloud: provisioner.Local, Nodes: 1, Agent: provisioner.Artifact{URL: "file://" + exe, SHA256: sum}}
	userData := func(setting string) []byte {
		t.Helper()
		ud, err := cloudinit.Render(cloudinit.Node{Cluster: spec.Name, NodeID: "node1", AgentURL: spec.Agent.URL, AgentSHA256: spec.Agent.SHA256,
			Settings: []cloudinit.Setting{{Key: "admin-key", Value: "k"}, {Key: setting, Value: true}}})
		if err != nil {
			t.Fatal(err)
		}
		return ud
	}
	if err := d.EnsureNetwork(ctx, spec); err != nil {
		t.Fatal(err)
	}
	events := &eventQueue{r: d.Events(spec.Name)}
	launch := provisioner.Launch{NodeID: "node1", Token: provisioner.ClientToken(spec.Name, "node1", 0), UserData: userData("first-run")}
	inst, err := d.Launch(ctx, spec, launch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Terminate(context.Background(), spec, inst) })
	if inst.State != provisioner.Running || inst.PrivateIP != "127.0.0.1" {
		t.Fatalf("launched %+v, want running on the placement's host", inst)
	}
	agent := placedPID(t, pl.DataDir, 0)
	args := cmdline(agent)
	for _, want := range [][2]string{{"--http-addr", pl.HTTPAddr}, {"--raft-addr", pl.RaftAddr}, {"--advertise", "127.0.0.1"}, {"--data-dir", pl.DataDir}} {
		if i := slices.Index(args, want[0]); i < 0 || i+1 >= len(args) || args[i+1] != want[1] {
			t.Errorf("agent args %q lack %s %s", args, want[0], want[1])
		}
	}
	if ev := events.next(t, Started, "node1"); ev.PID != agent || ev.LogPath != pl.LogPath {
		t.Errorf("started event %+v, want pid %d, log %s", ev, agent, pl.LogPath)
	}

	// A killed agent comes back by the driver's restart policy, and the
	// events say how it ended.
	if err := syscall.Kill(agent, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ev := events.next(t, Exited, "node1")
	var exit *ExitStatus
	if !errors.As(ev.Err, &exit) || !exit.Signaled() || ExitReason(ev.Err) != "signal: killed" || ev.PID != agent {
		t.Errorf("exited event %+v (err %v), want pid %d killed by a signal", ev, ev.Err, agent)
	}
	if ev := events.next(t, Restarting, "node1"); ev.Delay != restart.InitialBackoff || ev.Restarts != 1 {
		t.Errorf("restarting event %+v, want a restart after %s", ev, restart.InitialBackoff)
	}
	restarted := events.next(t, Started, "node1")
	agent = placedPID(t, pl.DataDir, agent)
	if restarted.PID != agent || restarted.Restarts != 1 {
		t.Errorf("started event %+v after the kill, want pid %d, restart 1", restarted, agent)
	}

	// Stop keeps the instance and its data, and nothing starts it but Start.
	if err := os.WriteFile(filepath.Join(pl.DataDir, "marker"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.ModifyUserData(ctx, spec, inst, userData("second-run")); !errors.Is(err, ErrInstanceRunning) {
		t.Errorf("ModifyUserData of a running instance: %v, want ErrInstanceRunning", err)
	}
	if err := d.PruneAgentBinaries(spec.Name, sum); err == nil || !strings.Contains(err.Error(), "runs") {
		t.Errorf("PruneAgentBinaries while an instance runs: %v, want a refusal", err)
	}
	instPID := d.PID(spec.Name, inst.ID)
	if err := d.Stop(ctx, spec, inst); err != nil {
		t.Fatal(err)
	}
	// A stopped cluster's binaries of other builds can go; its own stays.
	binDir := filepath.Join(d.ClusterDir(spec.Name), "bin")
	old := filepath.Join(binDir, binaryName(strings.Repeat("a", 64)))
	if err := os.WriteFile(old, []byte("an older build"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.PruneAgentBinaries(spec.Name, sum); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an older build's binary after the prune: %v", err)
	}
	if _, err := os.Stat(filepath.Join(binDir, binaryName(sum))); err != nil {
		t.Errorf("the current binary after the prune: %v", err)
	}
	if !exited(instPID) || !exited(agent) {
		t.Fatalf("instance %d or agent %d still runs after Stop", instPID, agent)
	}
	if ev := events.next(t, Stopped, "node1"); ev.Err != nil || ev.PID != agent {
		t.Errorf("stopped event %+v, want pid %d and a clean exit", ev, agent)
	}
	if err := d.Stop(ctx, spec, inst); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := d.EnsureNetwork(ctx, spec); err != nil {
		t.Fatal(err)
	}
	insts, err := d.Instances(ctx, spec)
	if err != nil || len(insts) != 1 || insts[0].ID != inst.ID || insts[0].State != provisioner.Stopped {
		t.Fatalf("instances after Stop and EnsureNetwork: %+v, %v; want %s stopped", insts, err, inst.ID)
	}
	if again, err := d.Launch(ctx, spec, launch); err != nil || again.ID != inst.ID || again.State != provisioner.Stopped || d.PID(spec.Name, inst.ID) != 0 {
		t.Fatalf("Launch with the stopped instance's token: %+v, %v; want it back, stopped", again, err)
	}

	// Start: the same instance and node, its data, the new user data.
	if err := d.ModifyUserData(ctx, spec, inst, userData("second-run")); err != nil {
		t.Fatal(err)
	}
	started, err := d.Start(ctx, spec, inst)
	if err != nil {
		t.Fatal(err)
	}
	if started.ID != inst.ID || started.NodeID != "node1" || started.State != provisioner.Running {
		t.Fatalf("started %+v, want %s running", started, inst.ID)
	}
	agent = placedPID(t, pl.DataDir, agent)
	if b, err := os.ReadFile(filepath.Join(pl.DataDir, "marker")); err != nil || string(b) != "kept" {
		t.Errorf("the node's data after Start: %q, %v", b, err)
	}
	cfg, err := os.ReadFile(filepath.Join(d.ClusterDir(spec.Name), "instances", inst.ID, "agent.yaml"))
	if err != nil || !strings.Contains(string(cfg), "node-id: node1") || !strings.Contains(string(cfg), "second-run: true") || strings.Contains(string(cfg), "first-run") {
		t.Errorf("agent.yaml after Start: %q, %v; want node1 with the modified user data", cfg, err)
	}
	if same, err := d.Start(ctx, spec, inst); err != nil || same.ID != inst.ID || placedPID(t, pl.DataDir, 0) != agent {
		t.Errorf("Start of a running instance: %+v, %v; want it unchanged", same, err)
	}

	// Terminate deletes the node's data, and a terminated instance
	// neither starts nor stops.
	if err := d.Terminate(ctx, spec, inst); err != nil {
		t.Fatal(err)
	}
	if !exited(agent) {
		t.Errorf("agent %d runs after Terminate", agent)
	}
	if _, err := os.Stat(pl.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("placed data dir after Terminate: %v", err)
	}
	if _, err := d.Start(ctx, spec, inst); !errors.Is(err, ErrTerminated) {
		t.Errorf("Start of a terminated instance: %v, want ErrTerminated", err)
	}
	if err := d.Stop(ctx, spec, inst); !errors.Is(err, ErrTerminated) {
		t.Errorf("Stop of a terminated instance: %v, want ErrTerminated", err)
	}
	if err := d.Stop(ctx, spec, provisioner.Instance{ID: "local-nope"}); !errors.Is(err, ErrUnknownInstance) {
		t.Errorf("Stop of an unknown instance: %v, want ErrUnknownInstance", err)
	}
}

func TestDriverRefusesABadPlacement(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  DriverConfig
		want string
	}{
		{"address without port", DriverConfig{Placements: map[string]Placement{"node1": {HTTPAddr: "127.0.0.1"}}}, `placement of node1: address "127.0.0.1"`},
		{"restart policy", DriverConfig{AgentRestart: RestartPolicy{InitialBackoff: time.Second}}, "agent restart policy: MaxBackoff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.StateDir, tc.cfg.Command = t.TempDir(), []string{"aerolith"}
			if _, err := NewDriver(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewDriver: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestEventRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, ev := range []Event{
		{Kind: Started, Name: "node1", Time: at, PID: 7, LogOffset: 12, LogPath: "/x/node1.log", Restarts: 2},
		{Kind: Exited, Name: "node1", Time: at, PID: 7, Uptime: time.Second},
		{Kind: Restarting, Name: "node1", Time: at, Restarts: 1, Delay: time.Second, At: at.Add(time.Second)},
		{Kind: GaveUp, Name: "node1", Time: at, Restarts: 10},
		{Kind: Stopped, Name: "node1", Time: at, PID: 7, Killed: true},
	} {
		got, ok := recordEvent(ev).event()
		if !ok || got != ev {
			t.Errorf("round trip of %+v = %+v, %v", ev, got, ok)
		}
	}
	failed := recordEvent(Event{Kind: Exited, Name: "n", Err: errors.New("exit status 3")})
	if ev, _ := failed.event(); ExitReason(ev.Err) != "exit status 3" {
		t.Errorf("exit status read back as %v", ev.Err)
	}
}
