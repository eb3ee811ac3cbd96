package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/provisioner/local"
)

// exitErr returns a real *exec.ExitError of a shell running script.
func exitErr(t *testing.T, script string) error {
	t.Helper()
	err := exec.Command("sh", "-c", script).Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("sh -c %q: %v", script, err)
	}
	return err
}

func newTestWatch(t *testing.T) (*upWatch, *bytes.Buffer, *localCluster) {
	t.Helper()
	dir := t.TempDir()
	var out bytes.Buffer
	agents := &localCluster{dir: dir, stderr: &out, exited: make(chan struct{}), nodes: []*localNode{{id: "node1", logPath: filepath.Join(dir, "node1.log")}}}
	billing := &localCluster{dir: dir, stderr: &out, exited: make(chan struct{}), nodes: []*localNode{{id: "billing", logPath: filepath.Join(dir, "billing.log")}}}
	writeTestFile(t, agents.nodes[0].logPath, "old run\n--- start ---\npanic: disk on fire\n")
	w := &upWatch{out: &out, agents: agents, billing: billing, ctx: context.Background(), readyTimeout: time.Second}
	return w, &out, agents
}

func TestUpWatchFailsTheStartOnAnExit(t *testing.T) {
	w, out, agents := newTestWatch(t)
	n := agents.nodes[0]
	w.event(local.Event{Kind: local.Started, Name: "node1", PID: 10, LogOffset: 8})
	crash := exitErr(t, "exit 3")
	w.event(local.Event{Kind: local.Exited, Name: "node1", PID: 10, Err: crash})
	// The supervisor's restart while starting does not move the log tail
	// away from the failed run.
	w.event(local.Event{Kind: local.Restarting, Name: "node1", Restarts: 1, Delay: time.Second})
	w.event(local.Event{Kind: local.Started, Name: "node1", PID: 11, Restarts: 1, LogOffset: 100})
	select {
	case <-agents.exited:
	default:
		t.Fatal("an exit while starting did not fail the start")
	}
	if agents.exit.node != n || agents.exit.err != crash {
		t.Errorf("exit = %+v", agents.exit)
	}
	if got := n.logStart.Load(); got != 8 {
		t.Errorf("log tail starts at %d, want the failed run's 8", got)
	}
	if out.Len() != 0 || len(w.crashes()) != 0 {
		t.Errorf("while starting, up reported %q, crashes %v; the start's error says it", out, w.crashes())
	}
}

func TestUpWatchReportsWhileRunning(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []local.Event
		want   []string
		absent []string
		tails  int // log tails shown
	}{
		{
			name: "killed and restarted",
			events: []local.Event{
				{Kind: local.Exited, Name: "billing", PID: 7, Err: exitErr(t, "kill -9 $$"), Uptime: 90 * time.Second},
				{Kind: local.Restarting, Name: "billing", Restarts: 1, Delay: 500 * time.Millisecond, At: time.Date(2026, 1, 1, 10, 11, 12, 0, time.UTC)},
				{Kind: local.Started, Name: "billing", PID: 8, Restarts: 1},
			},
			want: []string{
				"aerolith up: billing (pid 7) exited unexpectedly (signal: killed after 1m30s); its log: ",
				"aerolith up: restarting billing in 500ms (at 10:11:12; restart 1 in a row)\n",
				"aerolith up: billing restarted (pid 8)\n",
			},
			tails: 0, // a signal leaves no reason in the log
		},
		{
			name: "crash",
			events: []local.Event{
				{Kind: local.Started, Name: "node1", PID: 20, LogOffset: 8},
				{Kind: local.Exited, Name: "node1", PID: 20, Err: exitErr(t, "exit 2"), Uptime: time.Second},
			},
			want: []string{
				"aerolith up: node1 (pid 20) exited unexpectedly (exit status 2 after 1s)",
				"--- last lines of ", "panic: disk on fire",
			},
			absent: []string{"old run"},
			tails:  1,
		},
		{
			name: "crash loop",
			events: []local.Event{
				{Kind: local.Started, Name: "node1", PID: 20, Restarts: 10, LogOffset: 8},
				{Kind: local.Exited, Name: "node1", PID: 20, Err: nil, Uptime: time.Second},
				{Kind: local.GaveUp, Name: "node1", Restarts: 10},
			},
			want: []string{
				"aerolith up: node1 (pid 20) exited unexpectedly (exit status 0 after 1s)",
				"--- last lines of ", "panic: disk on fire",
				"aerolith up: GAVE UP on node1: it exited 11 times in a row, each within 30s of starting; its log: ",
				"the other processes keep running",
			},
			absent: []string{"old run"},
			tails:  1, // with GaveUp, not again for the tenth crash in a row
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, out, _ := newTestWatch(t)
			w.startedUp()
			w.ctx = canceledContext() // no readiness probes in this test
			for _, ev := range tc.events {
				w.event(ev)
			}
			w.probes.Wait()
			for _, want := range tc.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			for _, no := range tc.absent {
				if strings.Contains(out.String(), no) {
					t.Errorf("output has %q:\n%s", no, out)
				}
			}
			if got := strings.Count(out.String(), "--- last lines of "); got != tc.tails {
				t.Errorf("%d log tails shown, want %d:\n%s", got, tc.tails, out)
			}
			if len(w.crashes()) != 1 {
				t.Errorf("crashes = %v, want the one process", w.crashes())
			}
		})
	}
}

func canceledContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestUpWatchReadinessFollowsTheCurrentRun: an agent in a crash loop
// restarts several times before one run stays up; each restart's probe
// must end with its run. They outlived it: when the last run became
// ready, up printed "node1 (pid 11) is ready again" for every run that
// had exited within milliseconds.
func TestUpWatchReadinessFollowsTheCurrentRun(t *testing.T) {
	var ready atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"not ready"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	}))
	t.Cleanup(srv.Close)
	w, out, agents := newTestWatch(t)
	agents.nodes[0].httpAddr = strings.TrimPrefix(srv.URL, "http://")
	w.readyTimeout = time.Minute
	w.startedUp()
	crash := exitErr(t, "exit 1")
	for pid := 11; pid <= 13; pid++ {
		w.event(local.Event{Kind: local.Started, Name: "node1", PID: pid, Restarts: pid - 10})
		w.event(local.Event{Kind: local.Exited, Name: "node1", PID: pid, Err: crash, Uptime: 16 * time.Millisecond})
	}
	w.event(local.Event{Kind: local.Started, Name: "node1", PID: 14, Restarts: 4})
	ready.Store(true)
	w.probes.Wait()
	if !strings.Contains(out.String(), "aerolith up: node1 (pid 14) is ready again\n") {
		t.Errorf("output lacks the ready run:\n%s", out)
	}
	for _, pid := range []string{"11", "12", "13"} {
		if strings.Contains(out.String(), "(pid "+pid+") is ready") || strings.Contains(out.String(), "(pid "+pid+") not ready") {
			t.Errorf("output reports the readiness of run %s, which had exited:\n%s", pid, out)
		}
	}
}
