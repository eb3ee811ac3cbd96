package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/provisioner/local"
)

// upRestartPolicy is how up restarts a process that exits on its own: a
// restart soon, backing off to 30s between tries of one that keeps
// crashing, and giving up on it (loudly; the others keep running) after 10
// crashes in a row, each within 30s of its start.
var upRestartPolicy = local.DefaultRestartPolicy()

// upWatch turns the supervisors' events into what up does and says: those
// of billing's supervisor and those the agents' instances write (read by
// upAgents), one event at a time. While
// up starts the deployment, an exit fails the start (noteExit; the caller
// stops everything); once it runs, the supervisor restarts a process that
// exits, and upWatch reports each exit, restart and recovery on stderr.
type upWatch struct {
	out             io.Writer
	agents, billing *localCluster
	// ctx ends when up stops: it ends the readiness probes of restarted
	// agents (probes tracks them).
	ctx          context.Context
	readyTimeout time.Duration
	probes       sync.WaitGroup

	running atomic.Bool // startup is over

	mu      sync.Mutex // serializes output; guards crashed and unclean
	crashed []string   // processes that exited on their own while running
	// unclean says how agents stopped badly after SIGTERM (killed, or an
	// exit error).
	unclean []string

	// evMu serializes event: billing's supervisor and the agents' event
	// reader call it from their own goroutines.
	evMu sync.Mutex

	// inRow is each process's restart number in its current row of
	// crashes (from Started; under evMu).
	inRow map[string]int
	// stopProbe ends the readiness probe of each agent's current run, so
	// a run that exited is never reported ready (or not ready) once a
	// later run answers (under evMu).
	stopProbe map[string]context.CancelFunc
}

// find returns the cluster and node of the process named id.
func (w *upWatch) find(id string) (*localCluster, *localNode) {
	for _, c := range []*localCluster{w.agents, w.billing} {
		if n := c.node(id); n != nil {
			return c, n
		}
	}
	return nil, nil
}

// event handles one supervisor event; each process's events arrive in
// order.
func (w *upWatch) event(ev local.Event) {
	w.evMu.Lock()
	defer w.evMu.Unlock()
	c, n := w.find(ev.Name)
	if n == nil {
		return
	}
	running := w.running.Load()
	switch ev.Kind {
	case local.Started:
		if w.inRow == nil {
			w.inRow = map[string]int{}
		}
		w.inRow[n.id] = ev.Restarts
		// While starting, a restart's log must not hide the failed run's
		// log from the error about it.
		if ev.Restarts == 0 || running {
			n.logStart.Store(ev.LogOffset)
		}
		// While running, every start is a restart: by the supervisor
		// (Restarts > 0), or of a whole instance whose process died.
		if running {
			w.printf("aerolith up: %s restarted (pid %d)\n", n.id, ev.PID)
			if c == w.agents {
				ctx := w.probeContext(n.id)
				w.probes.Add(1)
				go func() {
					defer w.probes.Done()
					w.reportReady(ctx, c, n, ev.PID)
				}()
			}
		}
	case local.Exited:
		if !running {
			c.noteExit(n, ev.Err)
			return
		}
		if stop := w.stopProbe[n.id]; stop != nil {
			stop()
			delete(w.stopProbe, n.id)
		}
		w.mu.Lock()
		w.crashed = append(w.crashed, n.id)
		w.mu.Unlock()
		how := local.ExitReason(ev.Err)
		if ev.PID != 0 {
			how += fmt.Sprintf(" after %s", ev.Uptime.Round(time.Millisecond))
		}
		w.printf("aerolith up: %s (pid %d) exited unexpectedly (%s); its log: %s\n", n.id, ev.PID, how, n.logPath)
		if !killedBySignal(ev.Err) && (w.inRow[n.id] == 0 || ev.Uptime >= upRestartPolicy.ResetAfter) {
			// It ended on its own: the reason is at the end of its log.
			// Shown for the first crash of a row; GaveUp shows it again.
			w.tail(c, n)
		}
	case local.Restarting:
		if running {
			w.printf("aerolith up: restarting %s in %s (at %s; restart %d in a row)\n", n.id, ev.Delay, ev.At.Format("15:04:05"), ev.Restarts)
		}
	case local.Stopped:
		// Billing's supervisor returns this from its Stop itself.
		if c == w.agents && (ev.Killed || ev.Err != nil) {
			how := fmt.Sprintf("%s exited with %s after SIGTERM (log: %s)", n.id, local.ExitReason(ev.Err), n.logPath)
			if ev.Killed {
				how = fmt.Sprintf("%s did not stop in time after SIGTERM and was killed (log: %s)", n.id, n.logPath)
			}
			w.mu.Lock()
			w.unclean = append(w.unclean, how)
			w.mu.Unlock()
		}
	case local.GaveUp:
		if running {
			w.tail(c, n)
			w.printf("aerolith up: GAVE UP on %s: it exited %d times in a row, each within %s of starting; its log: %s\n"+
				"aerolith up: the other processes keep running; fix the cause, then stop up (Ctrl-C) and run it again\n",
				n.id, ev.Restarts+1, upRestartPolicy.ResetAfter, n.logPath)
		}
	}
}

// startedUp ends startup: from now on exits are restarted and reported.
func (w *upWatch) startedUp() { w.running.Store(true) }

// instanceExited reports that node id's instance process died while up
// runs (its agent with it) and that up starts the instance again.
func (w *upWatch) instanceExited(id, instanceID, log string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.crashed = append(w.crashed, id)
	fmt.Fprintf(w.out, "aerolith up: the instance process of %s (%s) exited, and its agent with it; starting it again; its log: %s\n", id, instanceID, log)
}

// stopProblems says which agents did not stop cleanly, nil when all did.
func (w *upWatch) stopProblems() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.unclean) == 0 {
		return nil
	}
	return errors.New(strings.Join(w.unclean, "; "))
}

// crashes lists the processes that exited on their own while running.
func (w *upWatch) crashes() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.crashed...)
}

func (w *upWatch) printf(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintf(w.out, format, args...)
}

func (w *upWatch) tail(c *localCluster, n *localNode) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c.printLogTail(n)
}

// probeContext returns the context of a readiness probe of process id's
// new run, ending the previous run's probe if one is still waiting.
func (w *upWatch) probeContext(id string) context.Context {
	if w.stopProbe == nil {
		w.stopProbe = map[string]context.CancelFunc{}
	}
	if stop := w.stopProbe[id]; stop != nil {
		stop()
	}
	ctx, cancel := context.WithCancel(w.ctx)
	w.stopProbe[id] = cancel
	return ctx
}

// reportReady says when the restarted agent n (pid) answers /readyz again,
// or that it did not within the ready timeout. It says nothing once ctx
// ends: up stops, or that run exited (its exit was reported).
func (w *upWatch) reportReady(ctx context.Context, c *localCluster, n *localNode, pid int) {
	probe, err := client.New(client.Config{URL: n.baseURL(), Key: c.key, MaxRetries: -1, Timeout: 3 * time.Second, HTTPClient: c.hc})
	if err != nil {
		return
	}
	runCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, w.readyTimeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		err := probe.Ready(ctx)
		if err == nil && runCtx.Err() == nil {
			w.printf("aerolith up: %s (pid %d) is ready again\n", n.id, pid)
			return
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) && runCtx.Err() == nil {
				w.printf("aerolith up: %s (pid %d) not ready %s after its restart: %v; its log: %s\n", n.id, pid, w.readyTimeout, err, n.logPath)
			}
			return
		case <-tick.C:
		}
	}
}

// killedBySignal reports whether err says the process died of a signal:
// an *exec.ExitError from billing's supervisor, a *local.ExitStatus from
// an agent's instance.
func killedBySignal(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return !ee.Exited()
	}
	var st *local.ExitStatus
	return errors.As(err, &st) && st.Signaled()
}
