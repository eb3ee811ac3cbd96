package billing

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// waitLimit bounds every wait of these suites: generous, since the machine
// is shared and tests run with -race.
const waitLimit = 60 * time.Second

// replicaSet runs `aerolith billing serve` processes on loopback ports.
type replicaSet struct {
	t     testing.TB
	dir   string
	key   string
	args  []string // extra flags for every replica
	nodes []*replica
}

type replica struct {
	id, dataDir, logPath string
	httpAddr, raftAddr   string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// startReplicas starts n replicas forming one replica set with the given
// extra flags, waits until all are ready, and kills them when the test
// ends (printing their log tails if it failed).
func startReplicas(t *testing.T, n int, extra ...string) *replicaSet {
	t.Helper()
	proctest.SkipIfShort(t)
	if binary == "" {
		t.Fatal("aerolith binary not built (TestMain)")
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	rs := &replicaSet{t: t, dir: t.TempDir(), key: hex.EncodeToString(b), args: extra}
	ports, err := proctest.FreePorts("127.0.0.1", 2*n)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id := "b" + strconv.Itoa(i+1)
		rs.nodes = append(rs.nodes, &replica{
			id: id, dataDir: filepath.Join(rs.dir, id), logPath: filepath.Join(rs.dir, id+".log"),
			httpAddr: "127.0.0.1:" + strconv.Itoa(ports[2*i]), raftAddr: "127.0.0.1:" + strconv.Itoa(ports[2*i+1]),
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i := range rs.nodes {
				t.Logf("replica %s log tail:\n%s", rs.nodes[i].id, rs.logTail(i, 40))
			}
		}
		for i := range rs.nodes {
			rs.kill(i)
		}
	})
	for i := range rs.nodes {
		rs.start(i)
	}
	for i := range rs.nodes {
		rs.waitReady(i)
	}
	return rs
}

// args returns replica i's command line.
func (rs *replicaSet) argv(i int) []string {
	n := rs.nodes[i]
	var join []string
	for _, o := range rs.nodes {
		join = append(join, o.raftAddr)
	}
	args := []string{"billing", "serve", "--node-id", n.id, "--data-dir", n.dataDir,
		"--http-addr", n.httpAddr, "--raft-addr", n.raftAddr, "--admin-key", rs.key, "--log-level", "warn", "--insecure-http"}
	if len(rs.nodes) > 1 {
		args = append(args, "--bootstrap-expect", strconv.Itoa(len(rs.nodes)), "--join", strings.Join(join, ","))
	}
	return append(args, rs.args...)
}

// start starts replica i on its data directory (a restart when it ran
// before).
func (rs *replicaSet) start(i int) {
	rs.t.Helper()
	n := rs.nodes[i]
	if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
		rs.t.Fatal(err)
	}
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		rs.t.Fatal(err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== test %s: start\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(binary, rs.argv(i)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		rs.t.Fatalf("start %s: %v", n.id, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	n.mu.Lock()
	n.cmd, n.done = cmd, done
	n.mu.Unlock()
}

// running reports whether replica i's process runs.
func (rs *replicaSet) running(i int) bool {
	n := rs.nodes[i]
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// kill SIGKILLs replica i and waits for it to exit (no-op when not
// running).
func (rs *replicaSet) kill(i int) {
	n := rs.nodes[i]
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	if f, err := os.OpenFile(n.logPath, os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		fmt.Fprintf(f, "=== test %s: killed (SIGKILL)\n", time.Now().Format(time.RFC3339Nano))
		f.Close()
	}
}

// url returns replica i's base URL; urls all of them, comma-separated.
func (rs *replicaSet) url(i int) string { return "http://" + rs.nodes[i].httpAddr }

func (rs *replicaSet) urls() string {
	var u []string
	for i := range rs.nodes {
		u = append(u, rs.url(i))
	}
	return strings.Join(u, ",")
}

// client returns a billing client for all replicas with the given key.
func (rs *replicaSet) client(key string) *billingclient.Client {
	rs.t.Helper()
	c, err := billingclient.New(billingclient.Config{URL: rs.urls(), Key: key, Timeout: 10 * time.Second,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, MaxRetries: 10})
	if err != nil {
		rs.t.Fatal(err)
	}
	return c
}

// admin returns a client with the admin key.
func (rs *replicaSet) admin() *billingclient.Client { return rs.client(rs.key) }

// waitReady waits until replica i answers /readyz with 200 and serves
// policies (the leader has set the signing key).
func (rs *replicaSet) waitReady(i int) {
	rs.t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	c, err := billingclient.New(billingclient.Config{URL: rs.url(i), Key: rs.key, MaxRetries: -1, Timeout: 2 * time.Second})
	if err != nil {
		rs.t.Fatal(err)
	}
	testwait.For(rs.t, waitLimit, "replica "+rs.nodes[i].id+" ready", func() error {
		if !rs.running(i) {
			return errExited
		}
		resp, err := hc.Get(rs.url(i) + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		_, _, err = c.PublicKey(context.Background())
		return err
	})
}

// leader returns the index of the replica the others agree leads.
func (rs *replicaSet) leader() int {
	rs.t.Helper()
	leader := -1
	testwait.For(rs.t, waitLimit, "leader", func() error {
		ids := map[string]bool{}
		for i := range rs.nodes {
			if !rs.running(i) {
				continue
			}
			c, err := billingclient.New(billingclient.Config{URL: rs.url(i), Key: rs.key, MaxRetries: -1, Timeout: 2 * time.Second})
			if err != nil {
				return err
			}
			set, err := c.Replicas(context.Background())
			if err != nil {
				return err
			}
			if set.LeaderID == "" {
				return errors.New("no leader known")
			}
			ids[set.LeaderID] = true
		}
		if len(ids) != 1 {
			return fmt.Errorf("replicas disagree on the leader: %v", ids)
		}
		for i, n := range rs.nodes {
			if ids[n.id] && rs.running(i) {
				leader = i
				return nil
			}
		}
		return errors.New("the leader is not running")
	})
	return leader
}

// logTail returns the last n lines of replica i's log.
func (rs *replicaSet) logTail(i, n int) string {
	b, err := os.ReadFile(rs.nodes[i].logPath)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// errExited makes a wait fail at once: a process it waits on is gone.
var errExited = testwait.GiveUp(errors.New("process exited"))
