// Package provision tests `aerolith cluster create|scale|destroy` with the
// local driver end to end: the CLI runs as a real process (as a user runs
// it), its nodes are detached instance processes that outlive it, and the
// cluster they form is checked through the data API, the admin API and
// /proc.
package provision

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/clientopts"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// binary is the aerolith binary built once by TestMain.
var binary string

func TestMain(m *testing.M) { os.Exit(proctest.RunMain(m, &binary)) }

// env is one state directory and the CLI run over it.
type env struct {
	t     *testing.T
	state string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	proctest.SkipIfShort(t)
	if binary == "" {
		t.Fatal("aerolith binary not built (TestMain)")
	}
	e := &env{t: t, state: t.TempDir()}
	t.Cleanup(func() {
		// Whatever happened, nothing this test started keeps running.
		for _, pid := range e.processes() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return e
}

// command builds a CLI invocation over the env's state directory.
func (e *env) command(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "AEROLITH_STATE_DIR="+e.state)
	return cmd
}

// run runs the CLI to its end and returns stdout; a failure fails the test
// with stderr.
func (e *env) run(args ...string) []byte {
	e.t.Helper()
	out, errOut, err := e.try(args...)
	if err != nil {
		e.t.Fatalf("aerolith %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func (e *env) try(args ...string) (stdout, stderr []byte, err error) {
	cmd := e.command(args...)
	var o, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &se
	err = cmd.Run()
	return o.Bytes(), se.Bytes(), err
}

// show is the JSON of cluster create/scale/show.
type show struct {
	Cluster   string   `json:"cluster"`
	Nodes     int      `json:"nodes"`
	Endpoints []string `json:"endpoints"`
	Leader    string   `json:"leader"`
	Health    string   `json:"health"`
	CAFile    string   `json:"ca_file"`
	Instances []struct {
		ID        string `json:"id"`
		NodeID    string `json:"node_id"`
		State     string `json:"state"`
		PrivateIP string `json:"private_ip"`
	} `json:"instances"`
}

func (e *env) showJSON(out []byte) show {
	e.t.Helper()
	var s show
	if err := json.Unmarshal(out, &s); err != nil {
		e.t.Fatalf("decode %q: %v", out, err)
	}
	return s
}

// adminKey reads the cluster's admin key from its secrets file, checking
// the file is readable by its owner only.
func (e *env) adminKey(name string) string {
	e.t.Helper()
	p := filepath.Join(e.state, "clusters", name+".secrets.json")
	st, err := os.Stat(p)
	if err != nil {
		e.t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		e.t.Fatalf("%s has mode %v, want 0600", p, st.Mode().Perm())
	}
	var sec struct {
		AdminKey string `json:"admin_key"`
	}
	b, _ := os.ReadFile(p)
	if err := json.Unmarshal(b, &sec); err != nil || sec.AdminKey == "" {
		e.t.Fatalf("secrets of %s: %v", name, err)
	}
	return sec.AdminKey
}

// client is a data API client with key, verifying the nodes with caFile.
func (e *env) client(key, caFile string) *proctest.Client {
	e.t.Helper()
	tc, err := (clientopts.Options{CAFile: caFile}).TLSConfig()
	if err != nil {
		e.t.Fatal(err)
	}
	return proctest.NewClient(key, &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: 16}})
}

// processes lists the pids of every process whose command line mentions
// the state directory: the instance processes and their agents.
func (e *env) processes() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue // gone, or a zombie
		}
		if bytes.Contains(b, []byte(e.state)) {
			out = append(out, pid)
		}
	}
	return out
}

// count returns the instance processes and agents of the state directory.
func (e *env) count() (instances, agents int) {
	for _, pid := range e.processes() {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 {
			switch args[1] {
			case "local-instance":
				instances++
			case "agent":
				agents++
			}
		}
	}
	return instances, agents
}

// destroy destroys name and checks that no process of the state
// directory runs and its files are gone.
func (e *env) destroy(name string, extra ...string) {
	e.t.Helper()
	e.run(append([]string{"cluster", "destroy", name, "--yes"}, extra...)...)
	if pids := e.processes(); len(pids) > 0 {
		e.t.Fatalf("processes still running after destroy: %v", pids)
	}
	for _, p := range []string{filepath.Join(e.state, "clusters", name+".json"), filepath.Join(e.state, "clusters", name+".secrets.json"),
		filepath.Join(e.state, "clusters", name), filepath.Join(e.state, "local", name)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			e.t.Fatalf("%s still exists after destroy (%v)", p, err)
		}
	}
	var rows []any
	if err := json.Unmarshal(e.run("cluster", "list", "-o", "json"), &rows); err != nil || len(rows) != 0 {
		e.t.Fatalf("cluster list after destroy: %v %v", rows, err)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
