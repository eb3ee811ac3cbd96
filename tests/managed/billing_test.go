package managed

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
	"sync"
	"syscall"
	"testing"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// waitLimit bounds the waits of these suites: generous, since the machine
// is shared and the test binary runs with -race.
const waitLimit = 60 * time.Second

// billingProc is one `aerolith billing serve` process (a single replica)
// that can be killed and restarted on the same data directory and ports.
type billingProc struct {
	t        testing.TB
	dataDir  string
	logPath  string
	httpAddr string
	raftAddr string
	key      string
	extra    []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// startBilling starts a billing replica with the given extra flags, waits
// until it serves policies, and kills it when the test ends (logging its
// log tail if the test failed).
func startBilling(t *testing.T, extra ...string) *billingProc {
	t.Helper()
	ports, err := proctest.FreePorts("127.0.0.1", 2)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bp := &billingProc{
		t: t, dataDir: filepath.Join(dir, "billing"), logPath: filepath.Join(dir, "billing.log"),
		httpAddr: "127.0.0.1:" + strconv.Itoa(ports[0]), raftAddr: "127.0.0.1:" + strconv.Itoa(ports[1]),
		key: "bk-" + hex.EncodeToString(b), extra: extra,
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("billing log tail:\n%s", bp.logTail(40))
		}
		bp.kill()
	})
	bp.start()
	bp.waitReady()
	return bp
}

// start starts the process (a restart when it ran before).
func (bp *billingProc) start() {
	bp.t.Helper()
	if err := os.MkdirAll(bp.dataDir, 0o755); err != nil {
		bp.t.Fatal(err)
	}
	logf, err := os.OpenFile(bp.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		bp.t.Fatal(err)
	}
	defer logf.Close()
	args := append([]string{"billing", "serve", "--node-id", "b1", "--data-dir", bp.dataDir,
		"--http-addr", bp.httpAddr, "--raft-addr", bp.raftAddr, "--admin-key", bp.key, "--log-level", "warn", "--insecure-http"}, bp.extra...)
	fmt.Fprintf(logf, "=== managed %s: start billing\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		bp.t.Fatalf("start billing: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	bp.mu.Lock()
	bp.cmd, bp.done = cmd, done
	bp.mu.Unlock()
}

// running reports whether the process runs.
func (bp *billingProc) running() bool {
	bp.mu.Lock()
	done := bp.done
	bp.mu.Unlock()
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

// kill SIGKILLs the process and waits for it (no-op when not running).
func (bp *billingProc) kill() {
	bp.mu.Lock()
	cmd, done := bp.cmd, bp.done
	bp.mu.Unlock()
	if cmd == nil || !bp.running() {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	bp.note("killed billing (SIGKILL)")
}

func (bp *billingProc) note(msg string) {
	if f, err := os.OpenFile(bp.logPath, os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		fmt.Fprintf(f, "=== managed %s: %s\n", time.Now().Format(time.RFC3339Nano), msg)
		f.Close()
	}
}

// url is the billing base URL.
func (bp *billingProc) url() string { return "http://" + bp.httpAddr }

// client returns a billing client with key. It retries like the agents'
// reporter would not: tests call billing only while it is up.
func (bp *billingProc) client(key string) *billingclient.Client {
	bp.t.Helper()
	c, err := billingclient.New(billingclient.Config{URL: bp.url(), Key: key, Timeout: 10 * time.Second,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, MaxRetries: 10})
	if err != nil {
		bp.t.Fatal(err)
	}
	return c
}

// admin returns a client with the billing admin key.
func (bp *billingProc) admin() *billingclient.Client { return bp.client(bp.key) }

// waitReady waits until billing answers /readyz and serves its policy key.
func (bp *billingProc) waitReady() {
	bp.t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	c, err := billingclient.New(billingclient.Config{URL: bp.url(), Key: bp.key, MaxRetries: -1, Timeout: 2 * time.Second})
	if err != nil {
		bp.t.Fatal(err)
	}
	testwait.For(bp.t, waitLimit, "billing ready", func() error {
		if !bp.running() {
			return fmt.Errorf("%w; log tail:\n%s", errExited, bp.logTail(20))
		}
		resp, err := hc.Get(bp.url() + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		_, _, err = c.PublicKey(context.Background())
		return err
	})
}

// logTail returns the last n lines of the billing log.
func (bp *billingProc) logTail(n int) string {
	b, err := os.ReadFile(bp.logPath)
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
