package proctest

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// ErrPaused is returned by Pause for a node that is already paused.
var ErrPaused = errors.New("node already paused")

// Pause stops node i's process with SIGSTOP: it keeps its sockets and
// memory but runs no code, so to its peers it looks like a node cut off by
// a network partition (its raft heartbeats stop, connections to it hang
// rather than being refused). Leader, WaitLeader, WaitAllReady and
// WaitConverged skip paused nodes. Resume continues it; Kill and Close
// work on a paused node, and Stop resumes it so it can see SIGTERM.
func (c *Cluster) Pause(i int) error {
	p := c.proc(i)
	if p == nil || !c.Running(i) {
		return fmt.Errorf("pause %s: %w", c.nodes[i].id, ErrNotRunning)
	}
	if p.paused.Load() {
		return fmt.Errorf("pause %s: %w", c.nodes[i].id, ErrPaused)
	}
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("pause %s: %w", c.nodes[i].id, err)
	}
	p.paused.Store(true)
	c.note(i, "paused (SIGSTOP)")
	// SIGSTOP lands asynchronously: wait until the kernel shows the
	// process stopped, so that nothing it does comes after Pause returns.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, ok := stopped(p.cmd.Process.Pid)
		if !ok || st {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pause %s: the process is not stopped 5s after SIGSTOP", c.nodes[i].id)
		}
		time.Sleep(time.Millisecond)
	}
}

// Resume continues node i after Pause (SIGCONT). Resuming a node that is
// not paused is a no-op.
func (c *Cluster) Resume(i int) error {
	p := c.proc(i)
	if p == nil || !c.Running(i) {
		return fmt.Errorf("resume %s: %w", c.nodes[i].id, ErrNotRunning)
	}
	if !p.paused.Load() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("resume %s: %w", c.nodes[i].id, err)
	}
	p.paused.Store(false)
	c.note(i, "resumed (SIGCONT)")
	return nil
}

// Paused reports whether node i's process runs but is paused.
func (c *Cluster) Paused(i int) bool {
	p := c.proc(i)
	return p != nil && c.Running(i) && p.paused.Load()
}

// Active reports whether node i's process runs and is neither paused nor
// isolated: the nodes the Wait functions and Leader consider.
func (c *Cluster) Active(i int) bool {
	return c.Running(i) && !c.Paused(i) && !c.Isolated(i)
}
