package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binDir holds the aerolith binary built for the process-level tests.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aerolith-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
)

// aerolithBinary builds the aerolith binary once per test run.
func aerolithBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("process-level test: builds and runs the aerolith binary")
	}
	path := filepath.Join(binDir, "aerolith")
	buildOnce.Do(func() {
		out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return path
}

// freeBasePort returns a base port whose next 2*nodes ports are free now.
func freeBasePort(t *testing.T, nodes int) int {
	t.Helper()
	for range 200 {
		base := 20000 + 2*rand.IntN(20000)
		ok := true
		for p := base; p < base+2*nodes && ok; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range found")
	return 0
}

// freeUpPorts returns a base port for nodes agents and a billing port, all
// free now and not overlapping.
func freeUpPorts(t *testing.T, nodes int) (base, billing int) {
	t.Helper()
	base = freeBasePort(t, nodes)
	for range 100 {
		billing = freeBasePort(t, 1)
		if billing+1 < base || billing > base+2*nodes-1 {
			return base, billing
		}
	}
	t.Fatal("no free billing port found")
	return 0, 0
}

// lockedBuffer collects a process's output; safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// upRun is a running `aerolith up` process.
type upRun struct {
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
	done           chan struct{}
	err            error
}

func startUp(t *testing.T, args ...string) *upRun {
	t.Helper()
	r := &upRun{done: make(chan struct{})}
	r.cmd = exec.Command(aerolithBinary(t), append([]string{"up"}, args...)...)
	r.cmd.Stdout = &r.stdout
	r.cmd.Stderr = &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			r.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.done:
			case <-time.After(60 * time.Second):
				r.cmd.Process.Kill()
				<-r.done
			}
		}
	})
	return r
}

// wait waits for the process to exit and returns its exit code.
func (r *upRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("aerolith up did not exit; stdout:\n%s\nstderr:\n%s", r.stdout.String(), r.stderr.String())
	}
	var exit *exec.ExitError
	if errors.As(r.err, &exit) {
		return exit.ExitCode()
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return 0
}

// waitRunning waits until up has started everything and runs until
// signalled.
func (r *upRun) waitRunning(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(150 * time.Second)
	for !strings.Contains(r.stdout.String(), "runs until Ctrl-C") {
		select {
		case <-r.done:
			t.Fatalf("aerolith up exited early (%v)\n%s", r.err, r.dump())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not up in time\n%s", r.dump())
		}
	}
}

func (r *upRun) dump() string {
	return fmt.Sprintf("stdout:\n%s\nstderr:\n%s", r.stdout.String(), r.stderr.String())
}

// portsFree reports whether every port of the cluster can be bound again,
// i.e. no agent is left running.
func portsFree(base, nodes int) error {
	for p := base; p < base+2*nodes; p++ {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			return err
		}
		l.Close()
	}
	return nil
}

func TestUpRunsUntilSignalledAndServesTheCLI(t *testing.T) {
	t.Setenv("AEROLITH_URL", "")
	t.Setenv("AEROLITH_KEY", "")
	t.Setenv("AEROLITH_BILLING_URL", "")
	t.Setenv("AEROLITH_BILLING_KEY", "")
	base, billingPort := freeUpPorts(t, 3)
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--base-port", strconv.Itoa(base), "--billing-port", strconv.Itoa(billingPort), "--meter-window", "1s", "--ready-timeout", "120s"}
	run := startUp(t, args...)
	run.waitRunning(t)
	out := run.stdout.String()
	readKey := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	key, billingKey := readKey("admin-key"), readKey("billing-admin-key")
	state, ok, err := loadUpState(dir)
	if err != nil || !ok || state.TenantID == "" || state.ClusterID == "" || state.EnrollmentToken == "" || !strings.HasPrefix(state.TenantKey, "ak_") {
		t.Fatalf("up state = %+v, %v, %v", state, ok, err)
	}
	// TLS by default: https endpoints and a CA the CLI takes from
	// AEROLITH_CA_FILE.
	url := fmt.Sprintf("https://127.0.0.1:%d,https://127.0.0.1:%d,https://127.0.0.1:%d", base, base+2, base+4)
	billingURL := fmt.Sprintf("https://127.0.0.1:%d", billingPort)
	caFile := filepath.Join(dir, "pki", "ca.crt")
	t.Setenv("AEROLITH_CA_FILE", caFile)
	for _, want := range []string{
		"export AEROLITH_CA_FILE=" + caFile,
		"Admin key (generated): " + key,
		"Billing admin key: " + billingKey,
		fmt.Sprintf("Tenant %q (new, tier starter): %s, cluster %s", "demo", state.TenantID, state.ClusterID),
		"Tenant key (new, readwrite): " + state.TenantKey,
		"export AEROLITH_URL=" + url + " AEROLITH_KEY=" + state.TenantKey,
		"usage show " + state.TenantID + " --billing-url " + billingURL + " --key " + billingKey,
		"invoice list --tenant " + state.TenantID + " --status draft --billing-url " + billingURL + " --key " + billingKey,
		filepath.Join(dir, "node3.log"), filepath.Join(dir, "billing.log"),
		"kristen", "ole", "(1-2 of 2)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("up output lacks %q\n%s", want, out)
		}
	}

	// The CLI works against the real cluster.
	auth := []string{"--url", url, "--key", key}
	mustRun := func(stdin string, args ...string) string {
		t.Helper()
		r := runCLI(t, stdin, args...)
		if r.code != 0 {
			t.Fatalf("aerolith %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
		}
		return r.stdout
	}
	status := mustRun("", append([]string{"cluster", "status"}, auth...)...)
	if got := strings.Count(status, "127.0.0.1:"); got < 6 || !strings.Contains(status, "LEADER") {
		t.Errorf("cluster status:\n%s", status)
	}
	// The tenant key sees the demo documents; the admin key reaches no
	// tenant's data on a managed cluster.
	tenant := []string{"--url", url, "--key", state.TenantKey}
	if out := mustRun("", append([]string{"doc", "list", "demo", "-o", "json"}, tenant...)...); !strings.Contains(out, `"total": 5`) {
		t.Errorf("tenant doc list: %s", out)
	}
	if r := runCLI(t, "", append([]string{"doc", "get", "demo", "ada"}, auth...)...); r.code != 1 || !strings.Contains(r.stderr, "403") || !strings.Contains(r.stderr, "use a tenant key") {
		t.Errorf("admin reads the tenant's document: exit %d %q", r.code, r.stderr)
	}
	mustRun("", append([]string{"doc", "put", "e2e", "a", "--data", `{"n":1,"tags":["x"]}`}, tenant...)...)
	if out := mustRun("", append([]string{"doc", "get", "e2e", "a", "-o", "json", "--consistency", "linearizable"}, tenant...)...); !strings.Contains(out, `"n": 1`) {
		t.Errorf("doc get: %s", out)
	}
	in := filepath.Join(t.TempDir(), "in.csv")
	writeTestFile(t, in, "id,name,age,address.city\nb,bob,25,Oslo\nc,cy,41,Paris\n")
	if out := mustRun("", append([]string{"batch", "import", "e2e", "--file", in}, tenant...)...); out != "imported 2 documents into e2e\n" {
		t.Errorf("import: %q", out)
	}
	if out := mustRun("", append([]string{"doc", "query", "e2e", "--filter", `{"address.city":"Oslo"}`, "-o", "json"}, tenant...)...); !strings.Contains(out, `"total": 1`) {
		t.Errorf("query after import: %s", out)
	}
	exported := mustRun("", append([]string{"batch", "export", "e2e"}, tenant...)...)
	want := `{"id":"a","n":1,"tags":["x"]}` + "\n" + `{"id":"b","address":{"city":"Oslo"},"age":25,"name":"bob"}` + "\n" + `{"id":"c","address":{"city":"Paris"},"age":41,"name":"cy"}` + "\n"
	if exported != want {
		t.Errorf("export =\n%s\nwant\n%s", exported, want)
	}
	r := runCLI(t, "", append([]string{"doc", "delete", "e2e", "a", "--if-version", "5"}, tenant...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "412 precondition_failed") {
		t.Errorf("conditional delete of the wrong version: exit %d %q", r.code, r.stderr)
	}
	if out := mustRun("", append([]string{"key", "list", "--tenant", state.TenantID}, auth...)...); !strings.Contains(out, state.TenantKeyID) || !strings.Contains(out, "readwrite") {
		t.Errorf("key list:\n%s", out)
	}
	// The banner's flow: AEROLITH_KEY holds the tenant key, the admin's
	// commands take AEROLITH_ADMIN_KEY.
	t.Setenv("AEROLITH_URL", url)
	t.Setenv("AEROLITH_KEY", state.TenantKey)
	t.Setenv("AEROLITH_ADMIN_KEY", key)
	if !strings.Contains(out, "export AEROLITH_ADMIN_KEY="+key) {
		t.Errorf("up output lacks the admin key's export\n%s", out)
	}
	if out := mustRun("", "key", "list", "--tenant", state.TenantID); !strings.Contains(out, state.TenantKeyID) {
		t.Errorf("key list with AEROLITH_KEY=<tenant key> AEROLITH_ADMIN_KEY=<admin key>:\n%s", out)
	}
	if out := mustRun("", "doc", "get", "demo", "ada"); !strings.Contains(out, "Ada Lovelace") {
		t.Errorf("doc get with AEROLITH_KEY=<tenant key>:\n%s", out)
	}
	t.Setenv("AEROLITH_URL", "")
	t.Setenv("AEROLITH_KEY", "")
	t.Setenv("AEROLITH_ADMIN_KEY", "")

	// What the tenant did reaches billing: the demo's 5 puts and index
	// creation, the put, the 2 imported documents and the conditional
	// delete (executed, answered 412: metered like every request answered
	// below 500 that no quota refused).
	usageArgs := []string{"usage", "show", state.TenantID, "--billing-url", billingURL, "--key", billingKey, "-o", "json"}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var series struct {
			Total struct{ Writes, Queries uint64 } `json:"total"`
		}
		out := mustRun("", usageArgs...)
		if err := json.Unmarshal([]byte(out), &series); err != nil {
			t.Fatalf("usage show: %v\n%s", err, out)
		}
		if series.Total.Writes == 10 && series.Total.Queries == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("billed usage = %+v, want 10 writes and 2 queries\n%s", series.Total, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out := mustRun("", "invoice", "list", "--tenant", state.TenantID, "--billing-url", billingURL, "--key", billingKey); !strings.HasPrefix(out, "ID") {
		t.Errorf("invoice list: %q", out)
	}

	// SIGTERM stops the agents and billing cleanly and up exits 0.
	run.cmd.Process.Signal(syscall.SIGTERM)
	if code := run.wait(t); code != 0 {
		t.Fatalf("up exit code after SIGTERM = %d\n%s", code, run.dump())
	}
	if out := run.stdout.String(); !strings.Contains(out, "Stopping agents, then billing...\nStopped.") {
		t.Errorf("up did not report stopping\n%s", run.dump())
	}
	if err := portsFree(base, 3); err != nil {
		t.Errorf("an agent still holds a port after up exited: %v", err)
	}
	if err := portsFree(billingPort, 1); err != nil {
		t.Errorf("billing still holds a port after up exited: %v", err)
	}

	// A rerun with the same data dir reuses the keys, the tenant, the
	// cluster and the data.
	again := startUp(t, append(args, "--exit-after-ready")...)
	if code := again.wait(t); code != 0 {
		t.Fatalf("rerun exit code = %d\n%s", code, again.dump())
	}
	out = again.stdout.String()
	for _, want := range []string{
		"Admin key (reused from " + filepath.Join(dir, "admin-key") + "): " + key,
		"Billing admin key: " + billingKey,
		fmt.Sprintf("Tenant %q (reused, tier starter): %s, cluster %s", "demo", state.TenantID, state.ClusterID),
		"Tenant key (reused, readwrite): " + state.TenantKey,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rerun output lacks %q\n%s", want, out)
		}
	}
	// The demo documents were written before and are left as they are.
	if !regexp.MustCompile(`kristen\s+1\s`).MatchString(out) || !strings.Contains(out, "Wrote 0 sample documents to collection \"demo\" (indexed on \"city\"); 5 were there already") {
		t.Errorf("rerun did not find the first run's data (want kristen at version 1)\n%s", out)
	}
}

// TestUpExitAfterReadyRemovesTempDir also covers --insecure-http: plain
// HTTP endpoints, no CA.
func TestUpExitAfterReadyRemovesTempDir(t *testing.T) {
	base, billingPort := freeUpPorts(t, 1)
	run := startUp(t, "--nodes", "1", "--base-port", strconv.Itoa(base), "--billing-port", strconv.Itoa(billingPort), "--exit-after-ready", "--ready-timeout", "120s", "--insecure-http")
	if code := run.wait(t); code != 0 {
		t.Fatalf("exit code = %d\n%s", code, run.dump())
	}
	if out := run.stdout.String(); !strings.Contains(out, fmt.Sprintf("http://127.0.0.1:%d", base)) || strings.Contains(out, "AEROLITH_CA_FILE") || !strings.Contains(out, "TLS: off") {
		t.Errorf("--insecure-http output does not show plain HTTP endpoints\n%s", out)
	}
	m := regexp.MustCompile(`data in (\S+)\)`).FindStringSubmatch(run.stdout.String())
	if m == nil {
		t.Fatalf("output does not name the data dir\n%s", run.dump())
	}
	if _, err := os.Stat(m[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary data dir %s still exists after exit (stat: %v)", m[1], err)
	}
	if !strings.Contains(run.stdout.String(), "is removed when you stop up") {
		t.Errorf("output does not say the data is temporary\n%s", run.dump())
	}
}

func TestUpFailures(t *testing.T) {
	t.Run("busy port", func(t *testing.T) {
		base := freeBasePort(t, 3)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+3)))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		r := runCLI(t, "", "up", "--base-port", strconv.Itoa(base), "--exit-after-ready")
		want := fmt.Sprintf("port %d (node2 raft) is not available", base+3)
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d stderr %q, want exit 1 naming %q", r.code, r.stderr, want)
		}
	})
	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{{"--nodes", "0"}, {"--base-port", "65534"}, {"--log-level", "loud"}, {"extra"},
			{"--billing-port", "7072"}, {"--billing-port", "65535"}, {"--meter-window", "10ms"}} {
			r := runCLI(t, "", append([]string{"up"}, args...)...)
			if r.code != 2 {
				t.Errorf("up %v: exit %d (%q), want 2", args, r.code, r.stderr)
			}
		}
	})
	t.Run("busy billing port", func(t *testing.T) {
		base, billingPort := freeUpPorts(t, 3)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(billingPort+1)))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		r := runCLI(t, "", "up", "--base-port", strconv.Itoa(base), "--billing-port", strconv.Itoa(billingPort), "--exit-after-ready")
		want := fmt.Sprintf("port %d (billing raft) is not available", billingPort+1)
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d stderr %q, want exit 1 naming %q", r.code, r.stderr, want)
		}
	})
	t.Run("data dir in use", func(t *testing.T) {
		// A second up on the first one's --data-dir found the ports taken
		// and said to pick another --base-port; with other ports its
		// billing failed on the first one's audit log lock.
		base := freeBasePort(t, 3)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base)))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		dir := t.TempDir()
		unlock, err := lockUpDir(dir) // the first up
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		r := runCLI(t, "", "up", "--data-dir", dir, "--base-port", strconv.Itoa(base), "--exit-after-ready")
		want := fmt.Sprintf("--data-dir: %s is in use by another aerolith up (pid %d)", dir, os.Getpid())
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d stderr %q, want exit 1 naming %q", r.code, r.stderr, want)
		}
		unlock()
		again, err := lockUpDir(dir)
		if err != nil {
			t.Fatalf("the lock outlived its holder: %v", err)
		}
		again()
	})
	t.Run("node fails to start", func(t *testing.T) {
		base, billingPort := freeUpPorts(t, 3)
		dir := t.TempDir()
		// node2's data dir belongs to another node, so its agent refuses to start.
		if err := os.MkdirAll(filepath.Join(dir, "node2"), 0o750); err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, filepath.Join(dir, "node2", "node-id"), "intruder\n")
		run := startUp(t, "--data-dir", dir, "--base-port", strconv.Itoa(base), "--billing-port", strconv.Itoa(billingPort), "--exit-after-ready", "--ready-timeout", "120s")
		if code := run.wait(t); code != 1 {
			t.Fatalf("exit code = %d, want 1\n%s", code, run.dump())
		}
		stderr := run.stderr.String()
		for _, want := range []string{"--- last lines of " + filepath.Join(dir, "node2.log"), "intruder", "aerolith: node2 exited while starting"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q\n%s", want, run.dump())
			}
		}
		if err := portsFree(base, 3); err != nil {
			t.Errorf("an agent still holds a port after up failed: %v", err)
		}
		if err := portsFree(billingPort, 1); err != nil {
			t.Errorf("billing still holds a port after up failed: %v", err)
		}
	})
}

// agentPID finds the agent process whose command line names dataDir.
func agentPID(t *testing.T, dataDir string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("needs /proc to find the agent process")
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 1 && args[1] == "agent" && strings.Contains(string(cmdline), "\x00"+dataDir+"\x00") {
			return pid
		}
	}
	return 0
}
