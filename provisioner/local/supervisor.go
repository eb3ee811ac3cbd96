// Package local runs the processes of a local deployment on this machine:
// a Supervisor starts named processes (agents, the billing service), writes
// their output to log files, restarts one that exits with exponential
// backoff, reports what happened as events, and stops them all in a fixed
// order (SIGTERM, then SIGKILL after a deadline).
//
// `aerolith up` runs its deployment with it, and the provisioner's local
// driver runs the nodes of a local cluster with it.
package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/aerolithdb/aerolith/internal/backoff"
)

// ErrStopped is returned by Start after Stop.
var ErrStopped = errors.New("supervisor stopped")

// ErrUnknownProcess is returned for a name the supervisor does not run.
var ErrUnknownProcess = errors.New("no such process")

// Clock is the supervisor's time source. Tests inject a fake one, so
// backoff and stop deadlines need no sleeping.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config configures a Supervisor.
type Config struct {
	// StopTimeout is how long a process gets to exit after SIGTERM before
	// it is killed (default 15s).
	StopTimeout time.Duration
	// OnEvent receives every event, in order, one call at a time, from a
	// goroutine of the supervisor's. Events queue while it runs, so a slow
	// callback never delays supervision; it must not wait for Stop to
	// return, since Stop delivers the last events before returning.
	OnEvent func(Event)
	// Clock is the time source (default: the system clock).
	Clock Clock
}

// Spec describes one supervised process.
type Spec struct {
	// Name identifies the process in events and errors; unique within a
	// supervisor.
	Name string
	// Path is the executable; Args its arguments (without the program name).
	Path string
	Args []string
	// Env is the process's whole environment (nil: the supervisor's).
	Env []string
	// Dir is the working directory ("" : the supervisor's).
	Dir string
	// LogPath is the file the process's stdout and stderr are appended to;
	// every start and exit is marked in it.
	LogPath string
	// StopOrder orders Stop: lower values stop first; processes with the
	// same value stop together.
	StopOrder int
	// Restart is what happens when the process exits without being asked
	// to.
	Restart RestartPolicy
}

// RestartPolicy says when and how soon a process that exited on its own is
// started again.
type RestartPolicy struct {
	// Disabled leaves an exited process down.
	Disabled bool
	// InitialBackoff is the delay before the first restart; each further
	// restart in a row doubles it, up to MaxBackoff.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// ResetAfter: a run that lasted at least this long was healthy, so the
	// next crash starts the backoff over.
	ResetAfter time.Duration
	// MaxRestarts is how many restarts in a row (each run shorter than
	// ResetAfter) are tried before giving up on a crash-looping process
	// (a GaveUp event); 0 never gives up.
	MaxRestarts int
}

// DefaultRestartPolicy restarts after 500ms, doubling up to 30s, resets
// after 30s of uptime and gives up after 10 quick crashes in a row.
func DefaultRestartPolicy() RestartPolicy {
	return RestartPolicy{InitialBackoff: 500 * time.Millisecond, MaxBackoff: 30 * time.Second, ResetAfter: 30 * time.Second, MaxRestarts: 10}
}

// Validate names the field that makes p unusable.
func (p RestartPolicy) Validate() error {
	switch {
	case p.Disabled:
		return nil
	case p.InitialBackoff <= 0:
		return errors.New("restart policy: InitialBackoff must be positive")
	case p.MaxBackoff < p.InitialBackoff:
		return fmt.Errorf("restart policy: MaxBackoff %s is below InitialBackoff %s", p.MaxBackoff, p.InitialBackoff)
	case p.ResetAfter <= 0:
		return errors.New("restart policy: ResetAfter must be positive")
	case p.MaxRestarts < 0:
		return errors.New("restart policy: MaxRestarts must not be negative")
	}
	return nil
}

// Backoff is the delay before restart number n (1-based) of a row of
// crashes: InitialBackoff·2^(n-1), capped at MaxBackoff.
func (p RestartPolicy) Backoff(n int) time.Duration {
	return backoff.Policy{Min: p.InitialBackoff, Max: p.MaxBackoff}.Cap(n)
}

// EventKind says what happened to a process.
type EventKind int

// The events of a process's life.
const (
	// Started: the process runs (PID, LogOffset; Restarts > 0 after a crash).
	Started EventKind = iota + 1
	// Exited: the process exited without being asked to (Err, Uptime), or
	// a restart could not start it (Err, PID 0).
	Exited
	// Restarting: the process will be started again after Delay (at At;
	// Restarts is this restart's number in the current row of crashes).
	Restarting
	// GaveUp: the process crashed MaxRestarts times in a row, each time
	// soon after starting; it stays down.
	GaveUp
	// Stopped: the process exited after Stop asked it to (Err; Killed when
	// it needed SIGKILL).
	Stopped
)

func (k EventKind) String() string {
	switch k {
	case Started:
		return "started"
	case Exited:
		return "exited"
	case Restarting:
		return "restarting"
	case GaveUp:
		return "gave up"
	case Stopped:
		return "stopped"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event reports a change of a supervised process.
type Event struct {
	Kind    EventKind
	Name    string
	Time    time.Time
	LogPath string
	// PID of the process (Started, Exited, Stopped).
	PID int
	// LogOffset is where this run's output begins in LogPath (Started).
	LogOffset int64
	// Err is how the process ended (Exited, Stopped): an *exec.ExitError,
	// a start error, or nil for exit status 0. ExitReason describes it.
	Err error
	// Uptime is how long the run lasted (Exited, Stopped).
	Uptime time.Duration
	// Restarts counts the restarts in the current row of crashes
	// (Started, Restarting, GaveUp).
	Restarts int
	// Delay and At say when a restart happens (Restarting).
	Delay time.Duration
	At    time.Time
	// Killed: the process did not exit within the stop timeout and was
	// killed (Stopped).
	Killed bool
}

// ExitReason describes how a process ended, from its Wait error: "exit
// status 1", "signal: killed", or "exit status 0" for nil.
func ExitReason(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// Supervisor runs named processes; see the package comment. It is safe for
// concurrent use.
type Supervisor struct {
	cfg   Config
	clock Clock

	mu       sync.Mutex
	procs    []*proc // in start order
	stopped  bool
	dispatch *dispatcher
}

// New returns a supervisor running no process; it does no I/O.
func New(cfg Config) *Supervisor {
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 15 * time.Second
	}
	s := &Supervisor{cfg: cfg, clock: cfg.Clock}
	if s.clock == nil {
		s.clock = realClock{}
	}
	s.dispatch = newDispatcher(cfg.OnEvent)
	return s
}

// Start starts the process of spec and supervises it. An error means it
// did not start (bad spec, name in use, the executable or log file
// unusable, ErrStopped) and will not be restarted.
func (s *Supervisor) Start(spec Spec) error {
	switch {
	case spec.Name == "":
		return errors.New("start: name required")
	case spec.Path == "":
		return fmt.Errorf("start %s: path required", spec.Name)
	case spec.LogPath == "":
		return fmt.Errorf("start %s: log path required", spec.Name)
	}
	if err := spec.Restart.Validate(); err != nil {
		return fmt.Errorf("start %s: %w", spec.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return fmt.Errorf("start %s: %w", spec.Name, ErrStopped)
	}
	for _, p := range s.procs {
		if p.spec.Name == spec.Name {
			return fmt.Errorf("start %s: a process of that name is already supervised", spec.Name)
		}
	}
	p := &proc{s: s, spec: spec, stopCh: make(chan struct{}), done: make(chan struct{})}
	r, err := p.launchLocked(0)
	if err != nil {
		return fmt.Errorf("start %s: %w", spec.Name, err)
	}
	s.procs = append(s.procs, p)
	go p.supervise(r)
	return nil
}

// PID returns the process id of the named process while it runs.
func (s *Supervisor) PID(name string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if p.spec.Name == name && p.run != nil {
			return p.run.pid, true
		}
	}
	return 0, false
}

// StopProcess stops the named process (SIGTERM, SIGKILL after the stop
// timeout or when ctx ends) and stops supervising it. The error says
// whether it had to be killed or exited with an error after SIGTERM.
func (s *Supervisor) StopProcess(ctx context.Context, name string) error {
	s.mu.Lock()
	var p *proc
	for i, q := range s.procs {
		if q.spec.Name == name {
			p = q
			s.procs = append(s.procs[:i:i], s.procs[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("stop %s: %w", name, ErrUnknownProcess)
	}
	return p.stop(ctx)
}

// Stop stops every process in ascending StopOrder (those with the same
// order together; ties in start order): SIGTERM, then SIGKILL after the
// stop timeout, or at once when ctx ends. Pending restarts are cancelled.
// It returns after the last event was delivered; the error names every
// process that had to be killed or exited with an error after SIGTERM.
// Afterwards Start fails with ErrStopped. Stop is idempotent.
func (s *Supervisor) Stop(ctx context.Context) error {
	s.mu.Lock()
	procs := s.procs
	s.procs = nil
	s.stopped = true
	s.mu.Unlock()

	sort.SliceStable(procs, func(i, j int) bool { return procs[i].spec.StopOrder < procs[j].spec.StopOrder })
	var errs []error
	for i := 0; i < len(procs); {
		j := i
		for j < len(procs) && procs[j].spec.StopOrder == procs[i].spec.StopOrder {
			j++
		}
		stage := procs[i:j]
		stageErrs := make([]error, len(stage))
		var wg sync.WaitGroup
		for k, p := range stage {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stageErrs[k] = p.stop(ctx)
			}()
		}
		wg.Wait()
		errs = append(errs, stageErrs...)
		i = j
	}
	s.dispatch.close()
	return errors.Join(errs...)
}

// emit queues ev for OnEvent.
func (s *Supervisor) emit(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = s.clock.Now()
	}
	s.dispatch.send(ev)
}

// dispatcher delivers events to the callback in order, from one goroutine,
// without ever blocking the sender.
type dispatcher struct {
	fn   func(Event)
	mu   sync.Mutex
	q    []Event
	wake chan struct{}
	quit bool
	done chan struct{}
	once sync.Once
}

func newDispatcher(fn func(Event)) *dispatcher {
	return &dispatcher{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (d *dispatcher) send(ev Event) {
	if d.fn == nil {
		return
	}
	d.once.Do(func() { go d.loop() })
	d.mu.Lock()
	d.q = append(d.q, ev)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) loop() {
	defer close(d.done)
	for {
		d.mu.Lock()
		q, quit := d.q, d.quit
		d.q = nil
		d.mu.Unlock()
		for _, ev := range q {
			d.fn(ev)
		}
		if len(q) == 0 && quit {
			return
		}
		if len(q) == 0 {
			<-d.wake
		}
	}
}

// close delivers what is queued and ends the loop.
func (d *dispatcher) close() {
	started := true
	d.once.Do(func() { started = false })
	d.mu.Lock()
	d.quit = true
	d.mu.Unlock()
	if !started {
		return
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
	<-d.done
}

// logMark appends a line to a process's log, so its reader sees where a
// run began and ended.
func logMark(path, format string, args ...any) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return
	}
	fmt.Fprintf(f, format, args...)
	f.Close()
}
