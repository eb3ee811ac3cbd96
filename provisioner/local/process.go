package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// proc is one supervised process: its current run and its restart loop.
// The fields under "guarded by s.mu" are shared with Stop and PID.
type proc struct {
	s    *Supervisor
	spec Spec

	// guarded by s.mu
	run      *run // the running process; nil between runs
	stopping bool
	killed   bool

	stopCh chan struct{} // closed when stop begins: cancels a pending restart
	done   chan struct{} // closed when the process is down for good
	// last is how the final run ended, valid after done is closed.
	last error
}

// run is one execution of a process.
type run struct {
	cmd     *exec.Cmd
	pid     int
	started time.Time
}

// launchLocked starts the process once (restarts: the number of this
// restart in the current row of crashes) and emits Started. The caller
// holds s.mu, so Stop either sees the new run or launchLocked sees that
// the process is stopping.
func (p *proc) launchLocked(restarts int) (*run, error) {
	f, err := os.OpenFile(p.spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	// The child gets its own copy of the descriptor.
	defer f.Close()
	var offset int64
	if st, err := f.Stat(); err == nil {
		offset = st.Size()
	}
	now := p.s.clock.Now()
	what := "starting " + p.spec.Name
	if restarts > 0 {
		what = fmt.Sprintf("restarting %s (restart %d in a row)", p.spec.Name, restarts)
	}
	fmt.Fprintf(f, "--- supervisor: %s at %s ---\n", what, now.UTC().Format(time.RFC3339))
	cmd := exec.Command(p.spec.Path, p.spec.Args...)
	cmd.Env = p.spec.Env
	cmd.Dir = p.spec.Dir
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(f, "--- supervisor: %s did not start: %v ---\n", p.spec.Name, err)
		return nil, err
	}
	r := &run{cmd: cmd, pid: cmd.Process.Pid, started: now}
	p.run = r
	p.s.emit(Event{Kind: Started, Name: p.spec.Name, Time: now, LogPath: p.spec.LogPath, PID: r.pid, LogOffset: offset, Restarts: restarts})
	return r, nil
}

// supervise waits for r to end and restarts the process by its policy
// until it is stopped or given up on.
func (p *proc) supervise(r *run) {
	defer close(p.done)
	pol := p.spec.Restart
	crashes := 0 // restarts in the current row of crashes
	for {
		var uptime time.Duration
		if r != nil {
			err := r.cmd.Wait()
			now := p.s.clock.Now()
			uptime = now.Sub(r.started)
			logMark(p.spec.LogPath, "--- supervisor: %s (pid %d) exited: %s after %s ---\n", p.spec.Name, r.pid, ExitReason(err), uptime.Round(time.Millisecond))
			p.s.mu.Lock()
			p.run = nil
			stopping, killed := p.stopping, p.killed
			p.last = err
			p.s.mu.Unlock()
			if stopping {
				p.s.emit(Event{Kind: Stopped, Name: p.spec.Name, Time: now, LogPath: p.spec.LogPath, PID: r.pid, Err: err, Uptime: uptime, Killed: killed})
				return
			}
			p.s.emit(Event{Kind: Exited, Name: p.spec.Name, Time: now, LogPath: p.spec.LogPath, PID: r.pid, Err: err, Uptime: uptime})
		}
		if pol.Disabled {
			return
		}
		if uptime >= pol.ResetAfter {
			crashes = 0
		}
		crashes++
		if pol.MaxRestarts > 0 && crashes > pol.MaxRestarts {
			p.s.emit(Event{Kind: GaveUp, Name: p.spec.Name, LogPath: p.spec.LogPath, Restarts: crashes - 1})
			return
		}
		delay := pol.Backoff(crashes)
		now := p.s.clock.Now()
		p.s.emit(Event{Kind: Restarting, Name: p.spec.Name, Time: now, LogPath: p.spec.LogPath, Restarts: crashes, Delay: delay, At: now.Add(delay)})
		select {
		case <-p.s.clock.After(delay):
		case <-p.stopCh:
			return
		}
		p.s.mu.Lock()
		if p.stopping {
			p.s.mu.Unlock()
			return
		}
		var err error
		r, err = p.launchLocked(crashes)
		p.s.mu.Unlock()
		if err != nil {
			// Counted as a crash of no uptime: the next try backs off more.
			p.s.emit(Event{Kind: Exited, Name: p.spec.Name, LogPath: p.spec.LogPath, Err: fmt.Errorf("start: %w", err)})
			r = nil
		}
	}
}

// stop ends the process for good: SIGTERM, then SIGKILL after the stop
// timeout or when ctx ends; a pending restart is cancelled.
func (p *proc) stop(ctx context.Context) error {
	p.s.mu.Lock()
	if !p.stopping {
		p.stopping = true
		close(p.stopCh)
	}
	r := p.run
	p.s.mu.Unlock()
	if r == nil {
		<-p.done // between runs: the restart loop ends without starting it
		return nil
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		// Already exited; done closes once supervise has reaped it.
		<-p.done
		return nil
	}
	timeout := p.s.cfg.StopTimeout
	select {
	case <-p.done:
	case <-p.s.clock.After(timeout):
		return p.kill(r, fmt.Sprintf("did not stop within %s after SIGTERM and was killed", timeout))
	case <-ctx.Done():
		return p.kill(r, fmt.Sprintf("was killed: %v", ctx.Err()))
	}
	if p.last != nil {
		return fmt.Errorf("%s exited with %s after SIGTERM (log: %s)", p.spec.Name, ExitReason(p.last), p.spec.LogPath)
	}
	return nil
}

func (p *proc) kill(r *run, why string) error {
	p.s.mu.Lock()
	p.killed = true
	p.s.mu.Unlock()
	r.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s %s (log: %s)", p.spec.Name, why, p.spec.LogPath)
}
