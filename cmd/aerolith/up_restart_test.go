package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/local"
)

// billingPID finds the billing process whose command line names dataDir.
func billingPID(t *testing.T, dataDir string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("needs /proc to find the billing process")
	}
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 2 && args[1] == "billing" && args[2] == "serve" && strings.Contains(string(cmdline), "\x00"+dataDir+"\x00") {
			pid, _ := strconv.Atoi(e.Name())
			return pid
		}
	}
	return 0
}

// processGone reports whether no process has pid.
func processGone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

// waitStderr waits until re matches up's stderr and returns the submatches.
func (r *upRun) waitStderr(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		if m := re.FindStringSubmatch(r.stderr.String()); m != nil {
			return m
		}
		select {
		case <-r.done:
			t.Fatalf("aerolith up exited (%v) before stderr matched %s\n%s", r.err, re, r.dump())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("stderr did not match %s in time\n%s", re, r.dump())
		}
	}
}

// writeLoad puts documents into collection "load" from a few goroutines
// and remembers every acknowledged one.
type writeLoad struct {
	cl   *client.Client
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	mu     sync.Mutex
	acked  map[string]int // id → the value of "n" acknowledged
	failed int
}

func startWriteLoad(cl *client.Client, writers int) *writeLoad {
	l := &writeLoad{cl: cl, stop: make(chan struct{}), acked: map[string]int{}}
	for w := range writers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				_, err := l.cl.Put(ctx, "load", id, map[string]int{"n": i})
				cancel()
				l.mu.Lock()
				if err == nil {
					l.acked[id] = i
				} else {
					l.failed++
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *writeLoad) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// waitProgress waits until n more writes were acknowledged.
func (l *writeLoad) waitProgress(t *testing.T, run *upRun, n int) {
	t.Helper()
	want := l.count() + n
	deadline := time.Now().Add(120 * time.Second)
	for l.count() < want {
		if time.Now().After(deadline) {
			t.Fatalf("the write load stalled at %d acknowledged writes\n%s", l.count(), run.dump())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *writeLoad) halt() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// TestUpRestartsKilledProcessesUnderWriteLoad kills every agent in turn,
// the leader first, then billing, with SIGKILL while a tenant writes: up
// restarts each, says so, loses no acknowledged write and keeps running
// until SIGINT, which stops every process. Without --data-dir, the
// temporary directory holding the crashed processes' logs is kept.
func TestUpRestartsKilledProcessesUnderWriteLoad(t *testing.T) {
	base, billingPort := freeUpPorts(t, 3)
	run := startUp(t, "--base-port", strconv.Itoa(base), "--billing-port", strconv.Itoa(billingPort), "--ready-timeout", "120s", "--meter-window", "1s")
	run.waitRunning(t)
	m := regexp.MustCompile(`data in (\S+)\)`).FindStringSubmatch(run.stdout.String())
	if m == nil {
		t.Fatalf("output does not name the data dir\n%s", run.dump())
	}
	dir := m[1]
	t.Cleanup(func() { os.RemoveAll(dir) })

	state, ok, err := loadUpState(dir)
	if err != nil || !ok {
		t.Fatalf("up state: %v, %v", ok, err)
	}
	adminKey, err := os.ReadFile(filepath.Join(dir, "admin-key"))
	if err != nil {
		t.Fatal(err)
	}
	certs, err := setUpTLS(dir) // loads the CA up made
	if err != nil {
		t.Fatal(err)
	}
	urls := fmt.Sprintf("https://127.0.0.1:%d,https://127.0.0.1:%d,https://127.0.0.1:%d", base, base+2, base+4)
	tenant, err := client.New(client.Config{URL: urls, Key: state.TenantKey, HTTPClient: certs.httpClient(), Timeout: 5 * time.Second, MaxRetries: 20})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(client.Config{URL: urls, Key: strings.TrimSpace(string(adminKey)), HTTPClient: certs.httpClient()})
	if err != nil {
		t.Fatal(err)
	}
	st, err := admin.Cluster(context.Background())
	if err != nil || st.LeaderID == "" {
		t.Fatalf("cluster status: %+v, %v", st, err)
	}
	order := []string{st.LeaderID}
	for _, id := range []string{"node1", "node2", "node3"} {
		if id != st.LeaderID {
			order = append(order, id)
		}
	}

	load := startWriteLoad(tenant, 2)
	defer load.halt()
	load.waitProgress(t, run, 20)
	pids := map[string]int{}
	for _, id := range order {
		old := agentPID(t, filepath.Join(dir, id))
		if old == 0 {
			t.Fatalf("%s: agent process not found\n%s", id, run.dump())
		}
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		log := regexp.QuoteMeta(filepath.Join(dir, id+".log"))
		run.waitStderr(t, regexp.MustCompile(fmt.Sprintf(`aerolith up: %s \(pid %d\) exited unexpectedly \(signal: killed after [^)]+\); its log: %s\n`+
			`aerolith up: restarting %s in 500ms \(at \d\d:\d\d:\d\d; restart 1 in a row\)\n`, id, old, log, id)))
		restarted := run.waitStderr(t, regexp.MustCompile(id+` restarted \(pid (\d+)\)`))
		pid, _ := strconv.Atoi(restarted[1])
		run.waitStderr(t, regexp.MustCompile(fmt.Sprintf(`%s \(pid %d\) is ready again`, id, pid)))
		if now := agentPID(t, filepath.Join(dir, id)); now != pid || pid == old {
			t.Fatalf("%s runs as pid %d; up reported %d (killed: %d)", id, now, pid, old)
		}
		pids[id] = pid
		// The cluster takes writes again before the next node dies.
		load.waitProgress(t, run, 20)
	}

	// Billing too.
	oldBilling := billingPID(t, filepath.Join(dir, "billing"))
	if oldBilling == 0 {
		t.Fatalf("billing process not found\n%s", run.dump())
	}
	if err := syscall.Kill(oldBilling, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	run.waitStderr(t, regexp.MustCompile(fmt.Sprintf(`billing \(pid %d\) exited unexpectedly \(signal: killed`, oldBilling)))
	restarted := run.waitStderr(t, regexp.MustCompile(`billing restarted \(pid (\d+)\)`))
	billing, _ := strconv.Atoi(restarted[1])
	load.halt()

	// Every acknowledged write is there, with the value acknowledged.
	stored := map[string]int{}
	for offset := 0; ; {
		page, err := tenant.List(context.Background(), "load", 500, offset, client.WithConsistency(client.Linearizable))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Documents {
			var v struct{ N int }
			if err := json.Unmarshal(d.Data, &v); err != nil {
				t.Fatal(err)
			}
			stored[d.ID] = v.N
		}
		offset += len(page.Documents)
		if len(page.Documents) == 0 || offset >= page.Total {
			break
		}
	}
	for id, n := range load.acked {
		if got, ok := stored[id]; !ok || got != n {
			t.Errorf("acknowledged write %s (n=%d) lost: stored %d, %v", id, n, got, ok)
		}
	}
	t.Logf("%d writes acknowledged, %d failed, %d stored", len(load.acked), load.failed, len(stored))

	select {
	case <-run.done:
		t.Fatalf("up exited after the kills (%v)\n%s", run.err, run.dump())
	default:
	}
	if err := run.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := run.wait(t); code != 0 {
		t.Fatalf("up exit code after SIGINT = %d\n%s", code, run.dump())
	}
	pids["billing"] = billing
	for id, pid := range pids {
		if !processGone(pid) {
			t.Errorf("%s (pid %d) still runs after up exited", id, pid)
		}
	}
	if !strings.Contains(run.stdout.String(), "Stopping agents, then billing...\nStopped.") {
		t.Errorf("up did not report a clean stop\n%s", run.dump())
	}
	want := fmt.Sprintf("aerolith up: kept %s with the data and logs (billing, node1, node2, node3 exited unexpectedly during the run); remove it when done", dir)
	if !strings.Contains(run.stderr.String(), want) {
		t.Errorf("stderr lacks %q\n%s", want, run.dump())
	}
	if _, err := os.Stat(filepath.Join(dir, "node1.log")); err != nil {
		t.Errorf("the log up pointed to is gone: %v", err)
	}
}

// TestUpRerunKeepsEditedSampleData: sample documents are written only when
// absent, so a rerun with the same --data-dir keeps the user's edit of
// demo/ada (it used to overwrite it).
func TestUpRerunKeepsEditedSampleData(t *testing.T) {
	base, billingPort := freeUpPorts(t, 1)
	dir := t.TempDir()
	args := []string{"--nodes", "1", "--data-dir", dir, "--base-port", strconv.Itoa(base), "--billing-port", strconv.Itoa(billingPort), "--ready-timeout", "120s", "--insecure-http"}
	tenantClient := func() *client.Client {
		t.Helper()
		state, ok, err := loadUpState(dir)
		if err != nil || !ok {
			t.Fatalf("up state: %v, %v", ok, err)
		}
		cl, err := client.New(client.Config{URL: fmt.Sprintf("http://127.0.0.1:%d", base), Key: state.TenantKey})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	stop := func(run *upRun) {
		t.Helper()
		run.cmd.Process.Signal(syscall.SIGTERM)
		if code := run.wait(t); code != 0 {
			t.Fatalf("up exit code after SIGTERM = %d\n%s", code, run.dump())
		}
	}

	first := startUp(t, args...)
	first.waitRunning(t)
	edit := map[string]any{"name": "Ada King, Countess of Lovelace", "edited": true}
	if _, err := tenantClient().Put(context.Background(), "demo", "ada", edit); err != nil {
		t.Fatal(err)
	}
	stop(first)

	again := startUp(t, args...)
	again.waitRunning(t)
	d, err := tenantClient().Get(context.Background(), "demo", "ada")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(d.Data, &got); err != nil {
		t.Fatal(err)
	}
	if got["name"] != edit["name"] || got["edited"] != true || d.Version != 2 {
		t.Errorf("demo/ada after the rerun = %s (version %d), want the user's edit at version 2", d.Data, d.Version)
	}
	if out := again.stdout.String(); !strings.Contains(out, "Wrote 0 sample documents") || !strings.Contains(out, "5 were there already and were left as they are") {
		t.Errorf("rerun output does not say the samples were kept\n%s", again.dump())
	}
	stop(again)
}

// TestUpKeepsTheTempDirAfterAFailure: without --data-dir, a failed start
// keeps the temporary directory whose log the error names (it used to
// remove it on exit).
func TestUpKeepsTheTempDirAfterAFailure(t *testing.T) {
	base, billingPort := freeUpPorts(t, 1)
	// Billing cannot be ready within a microsecond.
	run := startUp(t, "--nodes", "1", "--base-port", strconv.Itoa(base), "--billing-port", strconv.Itoa(billingPort), "--ready-timeout", "1us", "--insecure-http")
	if code := run.wait(t); code != 1 {
		t.Fatalf("exit code = %d, want 1\n%s", code, run.dump())
	}
	m := regexp.MustCompile(`aerolith up: kept (\S+) with the data and logs \(up failed\)`).FindStringSubmatch(run.stderr.String())
	if m == nil {
		t.Fatalf("stderr does not say the data dir was kept\n%s", run.dump())
	}
	dir := m[1]
	t.Cleanup(func() { os.RemoveAll(dir) })
	log := filepath.Join(dir, "billing.log")
	if !strings.Contains(run.stderr.String(), "billing not ready in time") || !strings.Contains(run.stderr.String(), "its log: "+log) {
		t.Errorf("stderr does not name billing's log %s\n%s", log, run.dump())
	}
	if _, err := os.Stat(log); err != nil {
		t.Errorf("the log the error names is gone: %v", err)
	}
}

// upInstances lists the local driver's instances of up's agents in dir.
func upInstances(t *testing.T, dir string) []provisioner.Instance {
	t.Helper()
	d, err := local.NewDriver(local.DriverConfig{StateDir: dir, Command: []string{"unused"}})
	if err != nil {
		t.Fatal(err)
	}
	insts, err := d.Instances(context.Background(), &provisioner.ClusterSpec{Name: upCluster})
	if err != nil {
		t.Fatal(err)
	}
	return insts
}

// instancePID finds the local-instance process of instance id in dir.
func instancePID(t *testing.T, dir, id string) int {
	t.Helper()
	want := filepath.Join(dir, upCluster, "instances", id)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("needs /proc to find the instance process")
	}
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if len(args) == 3 && args[1] == localInstanceCommand && args[2] == want {
			pid, _ := strconv.Atoi(e.Name())
			return pid
		}
	}
	t.Fatalf("no instance process of %s", want)
	return 0
}

// TestUpRecoversAfterBeingKilled: up's agents are instances of the local
// driver tied to up. A killed instance process (its agent goes with it)
// is started again by up, the same instance; a SIGKILLed up takes them
// down with it (nothing is left holding the ports), and the next run with
// the same --data-dir starts the same instance — same node, same data —
// and stops it again, keeping it, when it exits.
func TestUpRecoversAfterBeingKilled(t *testing.T) {
	base, billingPort := freeUpPorts(t, 1)
	dir := t.TempDir()
	args := []string{"--nodes", "1", "--data-dir", dir, "--base-port", strconv.Itoa(base), "--billing-port", strconv.Itoa(billingPort), "--ready-timeout", "120s", "--insecure-http"}
	first := startUp(t, args...)
	first.waitRunning(t)
	insts := upInstances(t, dir)
	if len(insts) != 1 || insts[0].NodeID != "node1" || insts[0].State != provisioner.Running {
		t.Fatalf("instances while up runs: %+v", insts)
	}
	inst := insts[0]
	agent := agentPID(t, filepath.Join(dir, "node1"))
	if agent == 0 {
		t.Fatalf("agent process not found\n%s", first.dump())
	}

	// A killed instance process takes its agent down; up starts the
	// instance again, the same one.
	instPID := instancePID(t, dir, inst.ID)
	if err := syscall.Kill(instPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.waitStderr(t, regexp.MustCompile(`the instance process of node1 \(`+inst.ID+`\) exited, and its agent with it; starting it again`))
	restarted := first.waitStderr(t, regexp.MustCompile(`node1 restarted \(pid (\d+)\)`))
	first.waitStderr(t, regexp.MustCompile(`node1 \(pid `+restarted[1]+`\) is ready again`))
	if now := agentPID(t, filepath.Join(dir, "node1")); strconv.Itoa(now) != restarted[1] || now == agent {
		t.Fatalf("node1's agent runs as pid %d; up reported %s (before the kill: %d)", now, restarted[1], agent)
	}
	agent, _ = strconv.Atoi(restarted[1])
	if insts := upInstances(t, dir); len(insts) != 1 || insts[0].ID != inst.ID || insts[0].State != provisioner.Running {
		t.Fatalf("instances after the instance restart: %+v, want %s running", insts, inst.ID)
	}

	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.wait(t)
	deadline := time.Now().Add(60 * time.Second)
	for !processGone(agent) || portsFree(base, 1) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("agent %d still runs (or holds its ports) after up was killed", agent)
		}
		time.Sleep(50 * time.Millisecond)
	}

	again := startUp(t, append(args, "--exit-after-ready")...)
	if code := again.wait(t); code != 0 {
		t.Fatalf("rerun exit code = %d\n%s", code, again.dump())
	}
	if out := again.stdout.String(); !strings.Contains(out, "Wrote 0 sample documents") || !strings.Contains(out, "Tenant key (reused") {
		t.Errorf("the rerun did not find the killed run's node and data\n%s", again.dump())
	}
	insts = upInstances(t, dir)
	if len(insts) != 1 || insts[0].ID != inst.ID || insts[0].State != provisioner.Stopped {
		t.Errorf("instances after the rerun: %+v, want %s stopped (kept)", insts, inst.ID)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "node1", "node-id")); err != nil || strings.TrimSpace(string(b)) != "node1" {
		t.Errorf("node1's node id: %q, %v", b, err)
	}
}
