package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// An instance of the local driver is one process standing for a VM: it
// boots the node from its user data (BootSpec) and runs the agent under a
// Supervisor, restarting it when it crashes, until SIGTERM. It runs
// detached from the command that launched it (its own session), so a
// cluster outlives `aerolith cluster create`; a later command finds it by
// the pid in its directory, checked against the process's command line.
//
// Files of an instance directory.
const (
	instanceMetaFile = "instance.json"
	instanceUserData = "user-data"
	// instancePIDFile holds the instance process's pid; the process holds
	// an exclusive lock on it while it runs, so a second process of the
	// same instance exits at once.
	instancePIDFile = "instance.pid"
	instanceLogFile = "instance.log"
	// instanceEventsFile is the supervisor's events of the instance's
	// agent, one JSON object a line (EventReader reads them).
	instanceEventsFile = "events.jsonl"
)

// ErrInstanceRunning is RunInstance finding its instance already run by
// another process.
var ErrInstanceRunning = errors.New("instance already running")

// instanceMeta is what an instance process needs besides its user data.
type instanceMeta struct {
	ID        string `json:"id"`
	Cluster   string `json:"cluster"`
	NodeID    string `json:"node_id"`
	PrivateIP string `json:"private_ip"`
	// BinDir caches the verified agent binaries of the cluster.
	BinDir string `json:"bin_dir"`
	// Placement, Restart and StopTimeout are the driver's settings for the
	// node (zero: the defaults of BootSpec and RunInstance's caller).
	Placement   Placement      `json:"placement,omitzero"`
	Restart     *RestartPolicy `json:"restart,omitempty"`
	StopTimeout time.Duration  `json:"stop_timeout,omitempty"`
}

// RunInstance runs the local instance in dir until ctx ends (the CLI's
// hidden `aerolith local-instance DIR`, started by the driver), then
// stops its agent (SIGTERM, SIGKILL after stopTimeout). Progress goes to
// logw.
func RunInstance(ctx context.Context, dir string, stopTimeout time.Duration, logw io.Writer) error {
	lock, err := os.OpenFile(filepath.Join(dir, instancePIDFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := lockFile(lock); err != nil {
		return fmt.Errorf("%w: %s (%v)", ErrInstanceRunning, dir, err)
	}
	var meta instanceMeta
	b, err := os.ReadFile(filepath.Join(dir, instanceMetaFile))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return fmt.Errorf("%s: %w", instanceMetaFile, err)
	}
	ud, err := os.ReadFile(filepath.Join(dir, instanceUserData))
	if err != nil {
		return err
	}
	req := BootRequest{Name: meta.NodeID, Dir: dir, PrivateIP: meta.PrivateIP, UserData: ud, Placement: meta.Placement}
	if meta.Restart != nil {
		req.Restart = *meta.Restart
	}
	if meta.StopTimeout > 0 {
		stopTimeout = meta.StopTimeout
	}
	spec, err := BootSpec(ctx, &Fetcher{Dir: meta.BinDir}, req)
	if err != nil {
		return fmt.Errorf("boot %s: %w", meta.ID, err)
	}
	events, err := os.OpenFile(filepath.Join(dir, instanceEventsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer events.Close()
	sup := New(Config{StopTimeout: stopTimeout, OnEvent: func(e Event) {
		line := fmt.Sprintf("%s %s %s pid=%d", time.Now().UTC().Format(time.RFC3339), e.Name, e.Kind, e.PID)
		if e.Err != nil {
			line += " " + ExitReason(e.Err)
		}
		if e.Kind == Restarting {
			line += " in " + e.Delay.String()
		}
		fmt.Fprintln(logw, line)
		// One write of one line: a reader sees whole lines only.
		if b, err := json.Marshal(recordEvent(e)); err == nil {
			events.Write(append(b, '\n'))
		}
	}})
	if err := sup.Start(spec); err != nil {
		return err
	}
	// The pid is written once the agent runs: the launching command waits
	// for it, and gets this process's exit (with its log) if boot fails.
	if err := lock.Truncate(0); err != nil {
		return err
	}
	if _, err := lock.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return err
	}
	fmt.Fprintf(logw, "instance %s of %s: node %s on %s booted\n", meta.ID, meta.Cluster, meta.NodeID, meta.PrivateIP)
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), stopTimeout+5*time.Second)
	defer cancel()
	return sup.Stop(stopCtx)
}

// instancePID returns the pid of the live process running the instance in
// dir, 0 when none, and whether it has booted. The pid file's process
// counts if its command line still names dir (a recycled pid is another
// program); otherwise any process whose command line names dir is one
// still booting (or one whose launching command was killed before it
// could tell).
func instancePID(dir string) (pid int, booted bool) {
	if pid := bootedPID(dir); pid > 0 {
		return pid, true
	}
	return findInstanceProcess(dir), false
}

// bootedPID is the pid in dir's pid file if that process runs the
// instance, else 0.
func bootedPID(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, instancePIDFile))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !runsInstance(pid, dir) {
		return 0
	}
	return pid
}
