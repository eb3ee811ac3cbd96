package proctest

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) { os.Exit(RunMain(m, &binary)) }

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no binary", Config{Dir: "/tmp/x"}, "Binary: required"},
		{"no dir", Config{Binary: "/bin/true"}, "Dir: required"},
		{"negative nodes", Config{Binary: "/bin/true", Dir: "/tmp/x", Nodes: -1}, "Nodes: must be >= 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New(%+v) error = %v, want it to contain %q", tt.cfg, err, tt.want)
			}
		})
	}
}

func TestArgsFormOneCluster(t *testing.T) {
	c, err := New(Config{Binary: "/bin/true", Dir: t.TempDir(), AdminKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.allocatePorts(); err != nil {
		t.Fatal(err)
	}
	addrs := map[string]bool{}
	for i := 0; i < c.N(); i++ {
		for _, a := range []string{c.HTTPAddr(i), c.RaftAddr(i)} {
			if addrs[a] {
				t.Errorf("address %s used twice", a)
			}
			addrs[a] = true
		}
	}
	join := strings.Join([]string{c.RaftAddr(0), c.RaftAddr(1), c.RaftAddr(2)}, ",")
	for i := 0; i < c.N(); i++ {
		args := c.Args(i)
		want := map[string]string{
			"--node-id":          c.NodeID(i),
			"--data-dir":         c.DataDir(i),
			"--http-addr":        c.HTTPAddr(i),
			"--raft-addr":        c.RaftAddr(i),
			"--bootstrap-expect": "3",
			"--join":             join,
			"--admin-key":        "k",
			"--log-level":        "warn",
		}
		if args[0] != "agent" {
			t.Errorf("args[0] = %q, want agent", args[0])
		}
		for flag, v := range want {
			j := slices.Index(args, flag)
			if j < 0 || j+1 >= len(args) || args[j+1] != v {
				t.Errorf("node %d: %s = %v, want %q", i, flag, args, v)
			}
		}
		if r := redact(args); slices.Contains(r, "k") {
			t.Errorf("redact(%v) = %v still shows the key", args, r)
		}
	}
}

func TestFreePortsAreDistinctAndFree(t *testing.T) {
	ports, err := FreePorts("127.0.0.1", 6)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d returned twice in %v", p, ports)
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d not free: %v", p, err)
		}
		l.Close()
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"", 3, ""},
		{"only\n", 1, "only"},
	}
	for _, tt := range tests {
		if got := tail([]byte(tt.in), tt.n); got != tt.want {
			t.Errorf("tail(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestCrash(t *testing.T) {
	log := "time=1 level=WARN msg=x\npanic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/x/main.go:17\n"
	if got, want := crash([]byte(log), 3), "panic: boom\n\ngoroutine 1 [running]:"; got != want {
		t.Errorf("crash = %q, want %q", got, want)
	}
	if got := crash([]byte("fine\nno panic: here\n"), 3); got != "" {
		t.Errorf("crash of a clean log = %q, want empty", got)
	}
	if got := crash([]byte("fatal error: concurrent map writes\n"), 5); !strings.HasPrefix(got, "fatal error: concurrent map writes") {
		t.Errorf("crash of a fatal error = %q", got)
	}
}

func TestNodeOperationsNeedARunningProcess(t *testing.T) {
	c, err := New(Config{Binary: "/bin/true", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(0); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Kill before start = %v, want ErrNotRunning", err)
	}
	if err := c.Stop(context.Background(), 1); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Stop before start = %v, want ErrNotRunning", err)
	}
	if c.Running(2) {
		t.Errorf("Running before start = true")
	}
}

func TestExitedProcessIsReported(t *testing.T) {
	// /bin/false ignores the agent flags and exits 1 at once: WaitReady must
	// fail fast with ErrExited instead of polling until its deadline.
	c, err := New(Config{Binary: "/bin/false", Dir: t.TempDir(), Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartNode(0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = c.WaitReady(ctx, 0)
	if !errors.Is(err, ErrExited) {
		t.Fatalf("WaitReady = %v, want ErrExited", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("WaitReady waited for its deadline instead of noticing the exit")
	}
	log, err := os.ReadFile(filepath.Join(c.cfg.Dir, "n1.log"))
	if err != nil || !strings.Contains(string(log), "=== proctest") || strings.Contains(string(log), c.AdminKey()) {
		t.Errorf("log = %q, %v: want a start line without the admin key", log, err)
	}
}

// TestSingleNodeLifecycle drives one real agent through kill, restart and a
// graceful stop and checks that an acknowledged write survives.
func TestSingleNodeLifecycle(t *testing.T) {
	SkipIfShort(t)
	c := StartCluster(t, Config{Binary: binary, Nodes: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	doc, err := c.API().Put(ctx, c.URL(0), "life", "a", map[string]any{"x": 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Version != 1 {
		t.Errorf("first put version = %d, want 1", doc.Version)
	}
	if err := c.Kill(0); err != nil {
		t.Fatal(err)
	}
	if c.Running(0) {
		t.Fatal("still running after Kill")
	}
	if _, err := c.API().Get(ctx, c.URL(0), "life", "a", Stale); !NotSent(err) {
		t.Errorf("Get on a killed node = %v, want a dial error (NotSent)", err)
	}
	if err := c.StartNode(0); err != nil {
		t.Fatal(err)
	}
	if err := c.StartNode(0); !errors.Is(err, ErrRunning) {
		t.Errorf("second StartNode = %v, want ErrRunning", err)
	}
	if err := c.WaitReady(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if l, err := c.WaitLeader(ctx); err != nil || l != 0 {
		t.Fatalf("WaitLeader = %d, %v; want 0", l, err)
	}
	got, err := c.API().Get(ctx, c.URL(0), "life", "a", Linearizable)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	var data map[string]any
	if err := json.Unmarshal(got.Data, &data); err != nil || got.Version != 1 || data["x"] != 1.0 {
		t.Fatalf("after restart: Get = v%d %s (%v), want v1 {\"x\":1}", got.Version, got.Data, err)
	}
	if err := c.Stop(ctx, 0); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	if err := c.ExitErr(0); err != nil {
		t.Errorf("ExitErr after graceful stop = %v", err)
	}
}

// TestPauseResume pauses a real agent: requests to it hang instead of being
// refused, the Wait functions skip it, and after Resume it serves again.
func TestPauseResume(t *testing.T) {
	SkipIfShort(t)
	c := StartCluster(t, Config{Binary: binary, Nodes: 1})
	if err := c.Resume(0); err != nil {
		t.Errorf("Resume of a node that is not paused = %v, want nil", err)
	}
	if err := c.Pause(0); err != nil {
		t.Fatal(err)
	}
	if !c.Paused(0) || c.Active(0) || !c.Running(0) {
		t.Fatalf("after Pause: Paused=%v Active=%v Running=%v, want true false true", c.Paused(0), c.Active(0), c.Running(0))
	}
	if err := c.Pause(0); !errors.Is(err, ErrPaused) {
		t.Errorf("second Pause = %v, want ErrPaused", err)
	}
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := c.API().Cluster(short, c.URL(0))
	cancel()
	if err == nil || NotSent(err) {
		t.Errorf("request to a paused node = %v, want a timeout (sent, no answer)", err)
	}
	if _, err := c.Leader(context.Background()); !errors.Is(err, ErrNoLeader) {
		t.Errorf("Leader with the only node paused = %v, want ErrNoLeader", err)
	}
	if err := c.Resume(0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.WaitReady(ctx, 0); err != nil {
		t.Fatalf("after Resume: %v", err)
	}
	if err := c.Pause(0); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx, 0); err != nil {
		t.Errorf("Stop of a paused node = %v, want a clean exit", err)
	}
}

// TestIsolateHeal partitions the leader of a real three-node cluster away
// from its peers while its process keeps running: the other two elect a
// new leader and commit writes the isolated node does not see; after Heal
// it catches up and follows.
func TestIsolateHeal(t *testing.T) {
	SkipIfShort(t)
	c := StartCluster(t, Config{Binary: binary, Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	old, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Isolate(ctx, old); err != nil {
		t.Fatal(err)
	}
	if !c.Isolated(old) || c.Active(old) || !c.Running(old) {
		t.Fatalf("after Isolate: Isolated=%v Active=%v Running=%v, want true false true", c.Isolated(old), c.Active(old), c.Running(old))
	}
	leader, err := c.WaitNewLeader(ctx, old)
	if err != nil {
		t.Fatalf("no new leader while %s is isolated: %v", c.NodeID(old), err)
	}
	if _, err := c.API().Put(ctx, c.URL(leader), "c", "during", map[string]any{"x": 1}, 0); err != nil {
		t.Fatalf("write to the new leader: %v", err)
	}
	// The isolated node still answers HTTP, but has not seen the write.
	if _, err := c.API().Get(ctx, c.URL(old), "c", "during", Stale); err == nil {
		t.Errorf("stale read of a write committed after isolation succeeded on the isolated node")
	}
	if err := c.Heal(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.API().Get(ctx, c.URL(old), "c", "during", Stale); err != nil {
		t.Errorf("stale read on the healed node: %v", err)
	}
	if _, err := c.WaitLeader(ctx); err != nil {
		t.Errorf("after Heal, the three nodes agree on no leader: %v", err)
	}
}
