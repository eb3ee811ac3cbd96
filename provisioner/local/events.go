package local

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// An instance process writes its supervisor's events to events.jsonl in
// its directory, so that the command that runs the cluster (aerolith up)
// can say when an agent crashed and came back, as it could when it
// supervised the agents itself. The file is the interface: the instance
// process does not know who reads it.

// eventRecord is an Event as a line of events.jsonl.
type eventRecord struct {
	Kind      string        `json:"kind"`
	Name      string        `json:"name"`
	Time      time.Time     `json:"time"`
	LogPath   string        `json:"log_path,omitempty"`
	PID       int           `json:"pid,omitempty"`
	LogOffset int64         `json:"log_offset,omitempty"`
	Exit      *ExitStatus   `json:"exit,omitempty"`
	Uptime    time.Duration `json:"uptime,omitempty"`
	Restarts  int           `json:"restarts,omitempty"`
	Delay     time.Duration `json:"delay,omitempty"`
	At        time.Time     `json:"at,omitzero"`
	Killed    bool          `json:"killed,omitempty"`
}

// ExitStatus is how a process of an instance ended, as read back from
// its events: the Err of an Event from an EventReader.
type ExitStatus struct {
	// Reason is ExitReason of the process's error ("signal: killed",
	// "exit status 1", "exit status 0").
	Reason string `json:"reason"`
	// Signal reports that a signal ended the process.
	Signal bool `json:"signal,omitempty"`
}

func (e *ExitStatus) Error() string { return e.Reason }

// Signaled reports whether a signal ended the process.
func (e *ExitStatus) Signaled() bool { return e.Signal }

var eventKinds = map[EventKind]string{Started: "started", Exited: "exited", Restarting: "restarting", GaveUp: "gave-up", Stopped: "stopped"}

func recordEvent(e Event) eventRecord {
	r := eventRecord{Kind: eventKinds[e.Kind], Name: e.Name, Time: e.Time, LogPath: e.LogPath, PID: e.PID, LogOffset: e.LogOffset,
		Uptime: e.Uptime, Restarts: e.Restarts, Delay: e.Delay, At: e.At, Killed: e.Killed}
	// Exited and Stopped always say how the process ended, exit status 0
	// included (nil Err).
	if e.Err != nil || e.Kind == Exited || e.Kind == Stopped {
		r.Exit = &ExitStatus{Reason: ExitReason(e.Err)}
		var ee *exec.ExitError
		r.Exit.Signal = errors.As(e.Err, &ee) && !ee.Exited()
	}
	return r
}

func (r eventRecord) event() (Event, bool) {
	e := Event{Name: r.Name, Time: r.Time, LogPath: r.LogPath, PID: r.PID, LogOffset: r.LogOffset,
		Uptime: r.Uptime, Restarts: r.Restarts, Delay: r.Delay, At: r.At, Killed: r.Killed}
	for k, name := range eventKinds {
		if name == r.Kind {
			e.Kind = k
		}
	}
	// Exit status 0 reads back as a nil error, as the supervisor gave it.
	if r.Exit != nil && r.Exit.Reason != ExitReason(nil) {
		e.Err = r.Exit
	}
	return e, e.Kind != 0
}

// EventReader reads the supervisor events of a cluster's instances as
// they are written: an event's Name is its node id, its Err an
// *ExitStatus. It starts at the end of the events an instance had when
// the reader was made (an earlier run's are history), and at the start
// for an instance launched afterwards. It is safe for concurrent use.
type EventReader struct {
	d       *Driver
	cluster string

	mu      sync.Mutex
	offsets map[string]int64 // instance dir → bytes read
}

// Events returns a reader of cluster's instance events.
func (d *Driver) Events(cluster string) *EventReader {
	r := &EventReader{d: d, cluster: cluster, offsets: map[string]int64{}}
	for _, dir := range r.dirs() {
		if st, err := os.Stat(filepath.Join(dir, instanceEventsFile)); err == nil {
			r.offsets[dir] = st.Size()
		} else {
			r.offsets[dir] = 0
		}
	}
	return r
}

func (r *EventReader) dirs() []string {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	st, err := r.d.load(r.cluster)
	if err != nil || st == nil {
		return nil
	}
	var out []string
	for _, e := range st.Instances {
		if e.State != "terminated" {
			out = append(out, e.Dir)
		}
	}
	return out
}

// Read returns the events written since the last Read, in order per
// instance. A line still being written is left for the next Read.
func (r *EventReader) Read() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, dir := range r.dirs() {
		off := r.offsets[dir]
		f, err := os.Open(filepath.Join(dir, instanceEventsFile))
		if err != nil {
			continue
		}
		if _, err := f.Seek(off, io.SeekStart); err == nil {
			br := bufio.NewReader(f)
			for {
				line, err := br.ReadBytes('\n')
				if err != nil {
					break // EOF, or a partial line read again next time
				}
				off += int64(len(line))
				var rec eventRecord
				if json.Unmarshal(bytes.TrimSpace(line), &rec) != nil {
					continue
				}
				if ev, ok := rec.event(); ok {
					out = append(out, ev)
				}
			}
		}
		f.Close()
		r.offsets[dir] = off
	}
	return out
}
