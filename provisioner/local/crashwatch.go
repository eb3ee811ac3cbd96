package local

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// ErrCrashLoop marks a node whose agent keeps exiting soon after it
// starts: waiting longer for it cannot help (errors.Is sees it through a
// *CrashLoopError).
var ErrCrashLoop = errors.New("node keeps crashing")

// CrashLoopError is a node whose agent exited Crashes times in a row,
// each soon after starting (within its restart policy's ResetAfter), or
// whose instance gave up restarting it.
type CrashLoopError struct {
	NodeID  string
	Crashes int
	GaveUp  bool
	// Exit is how its last run ended ("exit status 2").
	Exit string
	// Output is the end of its last run's output (the agent's own error),
	// the supervisor's marks left out; LogPath is the whole log.
	Output  string
	LogPath string
}

func (e *CrashLoopError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "node %s keeps crashing (exited %d times in a row, each soon after it started", e.NodeID, e.Crashes)
	if e.Exit != "" {
		fmt.Fprintf(&b, "; last: %s", e.Exit)
	}
	if e.GaveUp {
		b.WriteString("; its instance gave up restarting it")
	}
	b.WriteString(")")
	if e.Output != "" {
		b.WriteString(": " + e.Output)
	}
	if e.LogPath != "" {
		b.WriteString("; its log: " + e.LogPath)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrCrashLoop) true.
func (e *CrashLoopError) Is(target error) bool { return target == ErrCrashLoop }

// CrashWatch tells, from a cluster's supervisor events, a node whose agent
// crash-loops: a VM's agent that exits at once on a bad setting is
// restarted forever, so a wait for the cluster to form would never end.
// It is safe for concurrent use.
type CrashWatch struct {
	r     *EventReader
	limit int

	mu    sync.Mutex
	runs  map[string]Event // node → its last Started
	exits map[string]string
	err   error
}

// WatchCrashes watches cluster's instances from now on (an instance
// launched later from its first event): Check fails once a node's agent
// is to be restarted for the limit-th time in a row (each run shorter
// than the restart policy's ResetAfter), or its instance gave up on it.
func (d *Driver) WatchCrashes(cluster string, limit int) *CrashWatch {
	return &CrashWatch{r: d.Events(cluster), limit: max(limit, 1), runs: map[string]Event{}, exits: map[string]string{}}
}

// Check reads the events written since the last Check and returns a
// *CrashLoopError for the first node found crash-looping (and the same
// error from then on), nil while none is.
func (w *CrashWatch) Check() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	for _, ev := range w.r.Read() {
		switch ev.Kind {
		case Started:
			w.runs[ev.Name] = ev
		case Exited:
			w.exits[ev.Name] = ExitReason(ev.Err)
		case Restarting, GaveUp:
			if ev.Kind == Restarting && ev.Restarts < w.limit {
				continue
			}
			crashes := ev.Restarts
			if ev.Kind == GaveUp {
				crashes++ // the run after the last restart crashed too
			}
			run, ok := w.runs[ev.Name]
			if !ok {
				run = Event{LogPath: ev.LogPath, LogOffset: -1}
			}
			w.err = &CrashLoopError{NodeID: ev.Name, Crashes: crashes, GaveUp: ev.Kind == GaveUp, Exit: w.exits[ev.Name],
				Output: lastOutput(run.LogPath, run.LogOffset, 3), LogPath: run.LogPath}
			return w.err
		}
	}
	return nil
}

// maxOutputRead bounds how much of a run's log lastOutput reads.
const maxOutputRead = 16 << 10

// lastOutput is the last n lines of a run's output in the log at path:
// the run that began at offset, or (offset -1: unknown) the log's last
// run that wrote something. A run's output lies between the supervisor's
// marks (its start, its exit), and the log may have grown since: a later
// run's output is not this run's. Lines are joined by " | ".
func lastOutput(path string, offset int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	first := offset >= 0
	if offset < 0 || offset > st.Size() {
		offset = max(st.Size()-maxOutputRead, 0)
	}
	b, err := io.ReadAll(io.NewSectionReader(f, offset, min(st.Size()-offset, maxOutputRead)))
	if err != nil {
		return ""
	}
	var runs [][]string
	var cur []string
	for l := range strings.SplitSeq(string(b), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "--- supervisor:"):
			if len(cur) > 0 {
				runs = append(runs, cur)
				cur = nil
			}
		case l != "":
			if len(l) > 400 {
				l = l[:400] + "…"
			}
			cur = append(cur, l)
		}
	}
	if len(cur) > 0 {
		runs = append(runs, cur)
	}
	if len(runs) == 0 {
		return ""
	}
	lines := runs[len(runs)-1]
	if first {
		lines = runs[0]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
