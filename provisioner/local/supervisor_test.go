package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests supervise this test binary itself: with helperEnv set it runs
// helperMain instead of the tests.
const helperEnv = "LOCAL_SUPERVISOR_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(driverHelperEnv) != "" {
		driverHelperMain()
		return
	}
	if mode := os.Getenv(helperEnv); mode != "" {
		helperMain(mode)
		return
	}
	os.Exit(m.Run())
}

// helperMain is a tiny process with a known behaviour:
//
//	exit:N      exits with status N at once
//	serve:N     prints "ready", waits for SIGTERM, prints "bye", exits N
//	stubborn    ignores SIGTERM, prints "ready", runs until killed
func helperMain(mode string) {
	name, arg, _ := strings.Cut(mode, ":")
	code, _ := strconv.Atoi(arg)
	switch name {
	case "exit":
		os.Exit(code)
	case "serve":
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		fmt.Println("ready")
		<-sig
		fmt.Println("bye")
		os.Exit(code)
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		// Not select{}: with no other goroutine the runtime would call
		// that a deadlock and exit 2 by itself.
		for {
			time.Sleep(time.Hour)
		}
	}
	fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
	os.Exit(2)
}

// fakeClock moves only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
	// set receives the duration of every After call, so a test knows
	// when the supervisor waits and for how long.
	set chan time.Duration
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), set: make(chan time.Duration, 1000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	c.mu.Unlock()
	c.set <- d
	return ch
}

// Advance moves the clock by d and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.ch <- c.now
	}
	c.timers = kept
}

// waitTimer waits until the supervisor sets a timer, and checks its duration.
func (c *fakeClock) waitTimer(t *testing.T, want time.Duration) {
	t.Helper()
	select {
	case d := <-c.set:
		if d != want {
			t.Fatalf("timer set for %s, want %s", d, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no timer set; want one of %s", want)
	}
}

// fixture is a supervisor on a fake clock whose events the test reads.
type fixture struct {
	sup    *Supervisor
	clock  *fakeClock
	events chan Event
	dir    string
}

func newFixture(t *testing.T, stopTimeout time.Duration) *fixture {
	t.Helper()
	f := &fixture{clock: newFakeClock(), events: make(chan Event, 1000), dir: t.TempDir()}
	f.sup = New(Config{StopTimeout: stopTimeout, Clock: f.clock, OnEvent: func(ev Event) { f.events <- ev }})
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // kill whatever a failed test left running
		f.sup.Stop(ctx)
	})
	return f
}

// spec runs the helper in mode under name.
func (f *fixture) spec(t *testing.T, name, mode string, pol RestartPolicy) Spec {
	t.Helper()
	return Spec{
		Name: name,
		Path: os.Args[0],
		// GORACE: a -race helper would sleep a second at exit.
		Env:     append(os.Environ(), helperEnv+"="+mode, "GORACE=atexit_sleep_ms=0"),
		LogPath: filepath.Join(f.dir, name+".log"),
		Restart: pol,
	}
}

func (f *fixture) start(t *testing.T, s Spec) {
	t.Helper()
	if err := f.sup.Start(s); err != nil {
		t.Fatal(err)
	}
}

// next returns the next event and checks its kind and process.
func (f *fixture) next(t *testing.T, kind EventKind, name string) Event {
	t.Helper()
	select {
	case ev := <-f.events:
		if ev.Kind != kind || ev.Name != name {
			t.Fatalf("event = %s %s (%+v), want %s %s", ev.Name, ev.Kind, ev, name, kind)
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatalf("no event; want %s %s", name, kind)
	}
	return Event{}
}

// noEvent checks that no event is queued.
func (f *fixture) noEvent(t *testing.T) {
	t.Helper()
	select {
	case ev := <-f.events:
		t.Fatalf("unexpected event %s %s (%+v)", ev.Name, ev.Kind, ev)
	default:
	}
}

// waitReady waits until the run that began at offset printed "ready" (its
// signal handling is set up).
func waitReady(t *testing.T, ev Event) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(ev.LogPath)
		if err == nil && int64(len(b)) >= ev.LogOffset && strings.Contains(string(b[ev.LogOffset:]), "ready\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not get ready; log:\n%s", ev.Name, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// gone reports whether no process has pid any more.
func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

func TestBackoff(t *testing.T) {
	p := RestartPolicy{InitialBackoff: time.Second, MaxBackoff: 5 * time.Second, ResetAfter: time.Minute}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second, 60: 5 * time.Second} {
		if got := p.Backoff(n); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestRestartPolicyValidate(t *testing.T) {
	ok := DefaultRestartPolicy()
	for _, tc := range []struct {
		name string
		edit func(*RestartPolicy)
		want string
	}{
		{"default", func(*RestartPolicy) {}, ""},
		{"disabled", func(p *RestartPolicy) { *p = RestartPolicy{Disabled: true} }, ""},
		{"no initial", func(p *RestartPolicy) { p.InitialBackoff = 0 }, "InitialBackoff"},
		{"max below initial", func(p *RestartPolicy) { p.MaxBackoff = time.Millisecond }, "MaxBackoff"},
		{"no reset", func(p *RestartPolicy) { p.ResetAfter = 0 }, "ResetAfter"},
		{"negative restarts", func(p *RestartPolicy) { p.MaxRestarts = -1 }, "MaxRestarts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ok
			tc.edit(&p)
			err := p.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestRestartsWithExponentialBackoff(t *testing.T) {
	f := newFixture(t, time.Minute)
	pol := RestartPolicy{InitialBackoff: time.Second, MaxBackoff: 4 * time.Second, ResetAfter: time.Hour}
	f.start(t, f.spec(t, "crasher", "exit:3", pol))
	if ev := f.next(t, Started, "crasher"); ev.Restarts != 0 || ev.PID == 0 {
		t.Fatalf("first start = %+v", ev)
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		ex := f.next(t, Exited, "crasher")
		if ExitReason(ex.Err) != "exit status 3" || ex.PID == 0 {
			t.Fatalf("exit = %+v, want exit status 3", ex)
		}
		r := f.next(t, Restarting, "crasher")
		if r.Delay != want || r.Restarts != i+1 || !r.At.Equal(r.Time.Add(want)) {
			t.Fatalf("restart %d = %+v, want delay %s", i+1, r, want)
		}
		f.clock.waitTimer(t, want)
		f.noEvent(t) // nothing starts before the delay passed
		f.clock.Advance(want)
		if ev := f.next(t, Started, "crasher"); ev.Restarts != i+1 {
			t.Fatalf("restart %d started as %+v", i+1, ev)
		}
	}
	// Stop during a pending restart cancels it.
	f.next(t, Exited, "crasher")
	f.next(t, Restarting, "crasher")
	f.clock.waitTimer(t, 4*time.Second)
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	f.noEvent(t)
	b, err := os.ReadFile(filepath.Join(f.dir, "crasher.log"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(b), "exited: exit status 3"); got != 5 {
		t.Errorf("log marks %d exits, want 5:\n%s", got, b)
	}
}

func TestBackoffResetsAfterAHealthyRun(t *testing.T) {
	f := newFixture(t, time.Minute)
	pol := RestartPolicy{InitialBackoff: time.Second, MaxBackoff: 8 * time.Second, ResetAfter: 10 * time.Second}
	f.start(t, f.spec(t, "svc", "serve:0", pol))
	crash := func(wantDelay time.Duration, wantRestarts int) {
		t.Helper()
		pid, ok := f.sup.PID("svc")
		if !ok {
			t.Fatal("svc not running")
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if ex := f.next(t, Exited, "svc"); ExitReason(ex.Err) != "signal: killed" || ex.PID != pid {
			t.Fatalf("exit = %+v, want pid %d killed", ex, pid)
		}
		if r := f.next(t, Restarting, "svc"); r.Delay != wantDelay || r.Restarts != wantRestarts {
			t.Fatalf("restarting = %+v, want delay %s, restart %d", r, wantDelay, wantRestarts)
		}
		f.clock.waitTimer(t, wantDelay)
		f.clock.Advance(wantDelay)
		f.next(t, Started, "svc")
	}
	f.next(t, Started, "svc")
	crash(time.Second, 1)
	crash(2*time.Second, 2)
	crash(4*time.Second, 3)
	f.clock.Advance(10 * time.Second) // the run is healthy now
	crash(time.Second, 1)
}

func TestGivesUpOnACrashLoopAndKeepsTheOthers(t *testing.T) {
	f := newFixture(t, time.Minute)
	f.start(t, f.spec(t, "steady", "serve:0", DefaultRestartPolicy()))
	steady := f.next(t, Started, "steady")
	pol := RestartPolicy{InitialBackoff: time.Second, MaxBackoff: time.Second, ResetAfter: time.Minute, MaxRestarts: 2}
	f.start(t, f.spec(t, "loop", "exit:1", pol))
	f.next(t, Started, "loop")
	for i := 1; i <= 2; i++ {
		f.next(t, Exited, "loop")
		f.next(t, Restarting, "loop")
		f.clock.waitTimer(t, time.Second)
		f.clock.Advance(time.Second)
		f.next(t, Started, "loop")
	}
	f.next(t, Exited, "loop")
	if ev := f.next(t, GaveUp, "loop"); ev.Restarts != 2 || ev.LogPath != filepath.Join(f.dir, "loop.log") {
		t.Fatalf("gave up = %+v", ev)
	}
	if _, ok := f.sup.PID("loop"); ok {
		t.Error("PID(loop) reports a process after giving up")
	}
	if pid, ok := f.sup.PID("steady"); !ok || pid != steady.PID || gone(pid) {
		t.Errorf("steady: PID = %d, %v; want %d still running", pid, ok, steady.PID)
	}
	waitReady(t, steady)
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ev := f.next(t, Stopped, "steady"); ev.Err != nil || ev.Killed {
		t.Errorf("steady stopped as %+v, want a clean exit", ev)
	}
	f.noEvent(t)
}

func TestStopInOrder(t *testing.T) {
	f := newFixture(t, time.Minute)
	never := RestartPolicy{Disabled: true}
	// Started in another order than they stop.
	specs := []Spec{f.spec(t, "billing", "serve:0", never), f.spec(t, "node1", "serve:0", never), f.spec(t, "node2", "serve:0", never)}
	specs[0].StopOrder = 1
	var pids []int
	for _, s := range specs {
		f.start(t, s)
		ev := f.next(t, Started, s.Name)
		waitReady(t, ev)
		pids = append(pids, ev.PID)
	}
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	var order []string
	for range 3 {
		ev := <-f.events
		if ev.Kind != Stopped || ev.Err != nil || ev.Killed {
			t.Fatalf("event %+v, want a clean stop", ev)
		}
		order = append(order, ev.Name)
	}
	if order[2] != "billing" {
		t.Errorf("stop order %v, want the nodes before billing", order)
	}
	for i, pid := range pids {
		if !gone(pid) {
			t.Errorf("%s (pid %d) still running after Stop", specs[i].Name, pid)
		}
	}
	if b, _ := os.ReadFile(specs[1].LogPath); !strings.Contains(string(b), "bye\n") {
		t.Errorf("node1 did not get SIGTERM; log:\n%s", b)
	}
	if err := f.sup.Start(specs[0]); !errors.Is(err, ErrStopped) {
		t.Errorf("Start after Stop = %v, want ErrStopped", err)
	}
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Errorf("second Stop = %v", err)
	}
}

func TestStopKillsAfterTheDeadline(t *testing.T) {
	f := newFixture(t, 5*time.Second)
	f.start(t, f.spec(t, "stubborn", "stubborn", DefaultRestartPolicy()))
	ev := f.next(t, Started, "stubborn")
	waitReady(t, ev)
	errc := make(chan error, 1)
	go func() { errc <- f.sup.Stop(context.Background()) }()
	f.clock.waitTimer(t, 5*time.Second)
	select {
	case err := <-errc:
		t.Fatalf("Stop returned %v before the deadline", err)
	default:
	}
	if gone(ev.PID) {
		t.Fatal("stubborn died of SIGTERM, which it ignores")
	}
	f.clock.Advance(5 * time.Second)
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), "stubborn did not stop within 5s after SIGTERM and was killed (log: "+ev.LogPath+")") {
		t.Errorf("Stop = %v, want it to name the killed process and its log", err)
	}
	if st := f.next(t, Stopped, "stubborn"); !st.Killed || ExitReason(st.Err) != "signal: killed" {
		t.Errorf("stopped = %+v, want killed", st)
	}
	if !gone(ev.PID) {
		t.Errorf("pid %d still running", ev.PID)
	}
}

func TestStopKillsWhenTheContextEnds(t *testing.T) {
	f := newFixture(t, time.Hour)
	f.start(t, f.spec(t, "stubborn", "stubborn", DefaultRestartPolicy()))
	ev := f.next(t, Started, "stubborn")
	waitReady(t, ev)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- f.sup.Stop(ctx) }()
	f.clock.waitTimer(t, time.Hour)
	cancel()
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "stubborn was killed: context canceled") {
		t.Errorf("Stop = %v", err)
	}
	if !gone(ev.PID) {
		t.Errorf("pid %d still running", ev.PID)
	}
}

func TestStopReportsAnExitErrorAfterSIGTERM(t *testing.T) {
	f := newFixture(t, time.Minute)
	f.start(t, f.spec(t, "sad", "serve:4", DefaultRestartPolicy()))
	waitReady(t, f.next(t, Started, "sad"))
	if err := f.sup.Stop(context.Background()); err == nil || !strings.Contains(err.Error(), "sad exited with exit status 4 after SIGTERM") {
		t.Errorf("Stop = %v", err)
	}
}

func TestStopProcess(t *testing.T) {
	f := newFixture(t, time.Minute)
	for _, name := range []string{"a", "b"} {
		f.start(t, f.spec(t, name, "serve:0", DefaultRestartPolicy()))
		waitReady(t, f.next(t, Started, name))
	}
	pidB, _ := f.sup.PID("b")
	if err := f.sup.StopProcess(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	f.next(t, Stopped, "a")
	if err := f.sup.StopProcess(context.Background(), "a"); !errors.Is(err, ErrUnknownProcess) {
		t.Errorf("stopping a again = %v, want ErrUnknownProcess", err)
	}
	if gone(pidB) {
		t.Error("b stopped with a")
	}
	// The name is free again.
	f.start(t, f.spec(t, "a", "serve:0", DefaultRestartPolicy()))
	waitReady(t, f.next(t, Started, "a"))
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRestartThatCannotStartBacksOff(t *testing.T) {
	f := newFixture(t, time.Minute)
	link := filepath.Join(t.TempDir(), "helper")
	if err := os.Symlink(os.Args[0], link); err != nil {
		t.Fatal(err)
	}
	s := f.spec(t, "vanishing", "exit:1", RestartPolicy{InitialBackoff: time.Second, MaxBackoff: time.Minute, ResetAfter: time.Minute})
	s.Path = link
	f.start(t, s)
	f.next(t, Started, "vanishing")
	f.next(t, Exited, "vanishing")
	f.next(t, Restarting, "vanishing")
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	f.clock.waitTimer(t, time.Second)
	f.clock.Advance(time.Second)
	if ev := f.next(t, Exited, "vanishing"); ev.PID != 0 || ev.Err == nil || !strings.Contains(ev.Err.Error(), "start: ") {
		t.Fatalf("failed restart reported as %+v", ev)
	}
	if r := f.next(t, Restarting, "vanishing"); r.Delay != 2*time.Second || r.Restarts != 2 {
		t.Fatalf("after a failed start: %+v, want the next backoff", r)
	}
}

func TestStartRefuses(t *testing.T) {
	f := newFixture(t, time.Minute)
	good := f.spec(t, "one", "serve:0", DefaultRestartPolicy())
	f.start(t, good)
	for _, tc := range []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"no name", func(s *Spec) { s.Name = "" }, "name required"},
		{"no path", func(s *Spec) { s.Name = "x"; s.Path = "" }, "start x: path required"},
		{"no log", func(s *Spec) { s.Name = "x"; s.LogPath = "" }, "start x: log path required"},
		{"bad policy", func(s *Spec) { s.Name = "x"; s.Restart.InitialBackoff = 0 }, "start x: restart policy: InitialBackoff"},
		{"taken name", func(*Spec) {}, "start one: a process of that name is already supervised"},
		{"missing binary", func(s *Spec) { s.Name = "x"; s.Path = filepath.Join(f.dir, "nope") }, "start x: "},
		{"unwritable log", func(s *Spec) { s.Name = "x"; s.LogPath = filepath.Join(f.dir, "no", "dir.log") }, "start x: open log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.edit(&s)
			if err := f.sup.Start(s); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, ok := f.sup.PID("x"); ok {
		t.Error("a refused process is supervised")
	}
}
