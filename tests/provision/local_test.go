package provision

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// writer puts documents w-0, w-1, ... through the given endpoints (the
// next one after a failure) and records the ids whose write was
// acknowledged (2xx).
type writer struct {
	c         *proctest.Client
	endpoints []string
	acked     sync.Map
	n         atomic.Int64
	failed    atomic.Int64
}

func (w *writer) run(ctx context.Context) {
	ep := 0
	for i := 0; ctx.Err() == nil; i++ {
		id := fmt.Sprintf("w-%d", i)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := w.c.Put(cctx, w.endpoints[ep%len(w.endpoints)], "load", id, map[string]int{"i": i}, 0)
		cancel()
		if err != nil {
			w.failed.Add(1)
			ep++
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		w.acked.Store(id, true)
		w.n.Add(1)
	}
}

// TestCreateScaleDestroy: cluster create of 3 local nodes through the CLI
// forms a healthy TLS cluster that accepts writes and answers the admin
// verbs; scaling to 5 and back to 3 under a write load keeps every
// acknowledged write; destroy leaves no process and no state.
func TestCreateScaleDestroy(t *testing.T) {
	e := newEnv(t)
	s := e.showJSON(e.run("cluster", "create", "shop", "--cloud", "local", "--nodes", "3", "-o", "json"))
	if len(s.Endpoints) != 3 || !strings.HasPrefix(s.Health, "healthy") || s.Leader == "" || len(s.Instances) != 3 {
		t.Fatalf("created: %+v", s)
	}
	for _, ep := range s.Endpoints {
		if !strings.HasPrefix(ep, "https://127.") {
			t.Fatalf("endpoint %s: want https on a loopback address", ep)
		}
	}
	if inst, agents := e.count(); inst != 3 || agents != 3 {
		t.Fatalf("%d instance processes and %d agents, want 3 and 3", inst, agents)
	}
	key := e.adminKey("shop")
	// The membership verbs work on the created cluster.
	out := e.run("cluster", "members", "--url", strings.Join(s.Endpoints, ","), "--admin-key", key, "--ca-file", s.CAFile, "-o", "json")
	var members []map[string]any
	if err := jsonUnmarshal(out, &members); err != nil || len(members) != 3 {
		t.Fatalf("cluster members: %s (%v)", out, err)
	}

	w := &writer{c: e.client(key, s.CAFile), endpoints: s.Endpoints}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.run(ctx) }()
	defer func() { cancel(); <-done }()
	testwait.For(t, time.Minute, "first writes", func() error {
		if w.n.Load() < 20 {
			return fmt.Errorf("%d acknowledged", w.n.Load())
		}
		return nil
	})

	before := w.n.Load()
	s5 := e.showJSON(e.run("cluster", "scale", "shop", "--nodes", "5", "-o", "json"))
	if len(s5.Endpoints) != 5 || !strings.HasPrefix(s5.Health, "healthy") {
		t.Fatalf("scaled to 5: %+v", s5)
	}
	if inst, agents := e.count(); inst != 5 || agents != 5 {
		t.Fatalf("after scale to 5: %d instance processes and %d agents", inst, agents)
	}
	during5 := w.n.Load() - before
	before = w.n.Load()
	s3 := e.showJSON(e.run("cluster", "scale", "shop", "--nodes", "3", "-o", "json"))
	if len(s3.Endpoints) != 3 || !strings.HasPrefix(s3.Health, "healthy") {
		t.Fatalf("scaled back to 3: %+v", s3)
	}
	if inst, agents := e.count(); inst != 3 || agents != 3 {
		t.Fatalf("after scale to 3: %d instance processes and %d agents", inst, agents)
	}
	during3 := w.n.Load() - before
	testwait.For(t, time.Minute, "writes after the scale-down", func() error {
		if w.n.Load() < before+during3+20 {
			return fmt.Errorf("%d acknowledged", w.n.Load())
		}
		return nil
	})
	cancel()
	<-done
	t.Logf("acknowledged %d writes (%d while scaling to 5, %d while scaling to 3), %d failed attempts", w.n.Load(), during5, during3, w.failed.Load())
	if during5 == 0 || during3 == 0 {
		t.Fatalf("no write acknowledged while scaling (up %d, down %d): the load did not overlap the scaling", during5, during3)
	}

	// Every acknowledged write is there, read linearizably from each node.
	c := e.client(key, s.CAFile)
	missing := 0
	w.acked.Range(func(k, _ any) bool {
		for _, ep := range s3.Endpoints {
			if _, err := c.Get(context.Background(), ep, "load", k.(string), proctest.Linearizable); err != nil {
				missing++
				t.Errorf("acknowledged write %s: %v on %s", k, err, ep)
				return missing < 10
			}
		}
		return true
	})
	if missing > 0 {
		t.FailNow()
	}
	e.destroy("shop")
}

// TestCreateKilledAndRerun: a cluster create SIGKILLed after it launched
// some nodes, then run again, converges to exactly 3 instance processes
// and 3 agents forming one healthy cluster.
func TestCreateKilledAndRerun(t *testing.T) {
	e := newEnv(t)
	for _, after := range []int{1, 2} {
		name := fmt.Sprintf("kill%d", after)
		cmd := e.command("cluster", "create", name, "--nodes", "3", "--insecure-http")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		// Kill the command once `after` instance processes run.
		for {
			if inst, _ := e.count(); inst >= after {
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("create exited before it was killed: %v", err)
			case <-time.After(2 * time.Millisecond):
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		s := e.showJSON(e.run("cluster", "create", name, "--nodes", "3", "--insecure-http", "-o", "json"))
		if len(s.Endpoints) != 3 || !strings.HasPrefix(s.Health, "healthy") {
			t.Fatalf("rerun after a kill with %d running: %+v", after, s)
		}
		if inst, agents := e.count(); inst != 3 || agents != 3 {
			t.Fatalf("killed after %d: %d instance processes and %d agents after the rerun, want 3 and 3", after, inst, agents)
		}
		ids := map[string]bool{}
		for _, in := range s.Instances {
			if ids[in.NodeID] {
				t.Fatalf("node %s twice: %+v", in.NodeID, s.Instances)
			}
			ids[in.NodeID] = true
		}
		c := e.client(e.adminKey(name), "")
		if _, err := c.Put(context.Background(), s.Endpoints[0], "k", "x", map[string]int{"a": 1}, 0); err != nil {
			t.Fatalf("write after the rerun: %v", err)
		}
		e.destroy(name)
	}
}

// TestRestartAfterHostFailure: every process of a local cluster SIGKILLed
// (as by a reboot) leaves stopped instances with their data; cluster show
// says so, and cluster create run again starts them with their data.
func TestRestartAfterHostFailure(t *testing.T) {
	e := newEnv(t)
	s := e.showJSON(e.run("cluster", "create", "boot", "--nodes", "3", "--insecure-http", "-o", "json"))
	c := e.client(e.adminKey("boot"), "")
	if _, err := c.Put(context.Background(), s.Endpoints[0], "k", "kept", map[string]int{"a": 1}, 0); err != nil {
		t.Fatal(err)
	}
	for _, pid := range e.processes() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	testwait.For(t, time.Minute, "every process gone", func() error {
		if pids := e.processes(); len(pids) > 0 {
			return fmt.Errorf("still running: %v", pids)
		}
		return nil
	})
	down := e.showJSON(e.run("cluster", "show", "boot", "-o", "json"))
	for _, in := range down.Instances {
		if in.State != "stopped" {
			t.Fatalf("after the kill: %+v", down.Instances)
		}
	}
	up := e.showJSON(e.run("cluster", "create", "boot", "--nodes", "3", "--insecure-http", "-o", "json"))
	if !strings.HasPrefix(up.Health, "healthy") {
		t.Fatalf("after the restart: %+v", up)
	}
	for i, in := range up.Instances {
		if in.ID != s.Instances[i].ID {
			t.Fatalf("instance %s replaced by %s: want the same instance restarted", s.Instances[i].ID, in.ID)
		}
	}
	if _, err := c.Get(context.Background(), up.Endpoints[1], "k", "kept", proctest.Linearizable); err != nil {
		t.Fatalf("the document written before the kill: %v", err)
	}
	e.destroy("boot")
}

// agentPIDOf returns the pid of the agent of instance id of cluster.
func (e *env) agentPIDOf(t *testing.T, cluster, id string) int {
	t.Helper()
	data := filepath.Join(e.state, "local", cluster, "instances", id, "data")
	for _, pid := range e.processes() {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 && args[1] == "agent" && slices.Contains(args, data) {
			return pid
		}
	}
	t.Fatalf("no agent of %s", id)
	return 0
}

// TestScaleDownRemovesTheLeader: scaling 5 → 3 while n5 leads removes the
// leader from raft (it steps down, the others elect) before its process
// stops; every acknowledged write of the load running meanwhile is kept.
func TestScaleDownRemovesTheLeader(t *testing.T) {
	e := newEnv(t)
	s := e.showJSON(e.run("cluster", "create", "lead", "--nodes", "5", "--insecure-http", "-o", "json"))
	key := e.adminKey("lead")
	c := e.client(key, "")
	ids := map[string]string{}
	for _, in := range s.Instances {
		ids[in.NodeID] = in.ID
	}
	// Move leadership until a node scale-down removes (n4 or n5) leads: pause
	// the leader until another is elected, then let it go on as a follower.
	leader := func(ep string) string {
		info, err := c.Cluster(context.Background(), ep)
		if err != nil {
			return ""
		}
		return info.LeaderID
	}
	for try := 0; ; try++ {
		l := leader(s.Endpoints[0])
		if l == "lead-n4" || l == "lead-n5" {
			break
		}
		if try == 20 {
			t.Fatalf("leadership never moved to n4 or n5 (still %s)", l)
		}
		if l == "" {
			testwait.For(t, time.Minute, "a leader", func() error {
				if leader(s.Endpoints[0]) == "" {
					return fmt.Errorf("no leader")
				}
				return nil
			})
			continue
		}
		pid := e.agentPIDOf(t, "lead", ids[l])
		syscall.Kill(pid, syscall.SIGSTOP)
		other := s.Endpoints[0]
		if l == "lead-n1" {
			other = s.Endpoints[1]
		}
		testwait.For(t, time.Minute, "a new leader", func() error {
			if nl := leader(other); nl == "" || nl == l {
				return fmt.Errorf("leader %q", nl)
			}
			return nil
		})
		syscall.Kill(pid, syscall.SIGCONT)
	}
	removed := leader(s.Endpoints[0])
	t.Logf("%s leads before the scale-down", removed)

	w := &writer{c: c, endpoints: s.Endpoints[:3]}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.run(ctx) }()
	defer func() { cancel(); <-done }()
	testwait.For(t, time.Minute, "first writes", func() error {
		if w.n.Load() < 20 {
			return fmt.Errorf("%d acknowledged", w.n.Load())
		}
		return nil
	})
	s3 := e.showJSON(e.run("cluster", "scale", "lead", "--nodes", "3", "-o", "json"))
	if !strings.HasPrefix(s3.Health, "healthy") || s3.Leader == removed {
		t.Fatalf("after removing the leader %s: %+v", removed, s3)
	}
	before := w.n.Load()
	testwait.For(t, time.Minute, "writes after the scale-down", func() error {
		if w.n.Load() < before+20 {
			return fmt.Errorf("%d acknowledged", w.n.Load())
		}
		return nil
	})
	cancel()
	<-done
	t.Logf("acknowledged %d writes, %d failed attempts", w.n.Load(), w.failed.Load())
	missing := 0
	w.acked.Range(func(k, _ any) bool {
		if _, err := c.Get(context.Background(), s3.Endpoints[0], "load", k.(string), proctest.Linearizable); err != nil {
			missing++
			t.Errorf("acknowledged write %s: %v", k, err)
		}
		return missing < 10
	})
	if missing > 0 {
		t.FailNow()
	}
	e.destroy("lead")
}
