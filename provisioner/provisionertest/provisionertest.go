// Package provisionertest holds what the cloud drivers' tests share
// against the cloud simulator (provisioner/cloudsim): a simulator with a
// provisioner over the driver under test, a stand-in for the cluster's
// admin API, the killed-apply crash test, run the same way for every
// driver so that each is held to the same guarantee, and the reading of
// live nodes off the simulator.
package provisionertest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim"
)

// UserData stands in for the nodes' user data: the node and whether it is
// one of the cluster's initial nodes, which the tests read back from the
// simulator's instances.
func UserData(_ *provisioner.ClusterSpec, node string, initial bool) ([]byte, error) {
	return []byte(fmt.Sprintf("#cloud-config\n# %s initial=%v\n", node, initial)), nil
}

// Members stands in for the cluster's admin API in the drivers' API-level
// tests (tests/provision runs the same flow against real agents): it
// records raft removals in order, and refuses one made after the node's
// instance left running, since a node leaves raft before its VM goes.
type Members struct {
	sim     *cloudsim.Server
	mu      sync.Mutex
	removed []string
}

var _ provisioner.Members = (*Members)(nil)

// Remove records node's removal, or fails when its instance no longer runs.
func (m *Members) Remove(ctx context.Context, node string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, in := range m.sim.Instances() {
		if in.Tags[provisioner.TagNode] == node && in.State != "running" {
			return fmt.Errorf("%s removed from raft after its instance left running (%s)", node, in.State)
		}
	}
	m.removed = append(m.removed, node)
	return nil
}

// Removed returns the nodes removed so far, in order.
func (m *Members) Removed() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.removed)
}

// NewEnv runs a simulator with faults on an httptest server (closed with
// the test) and returns it, a provisioner over the driver driver makes
// for it with UserData and a Members, that Members, and the simulator's
// URL. pendingFor is how long a new instance stays pending.
func NewEnv(t *testing.T, driver func(t *testing.T, url string) provisioner.Driver, pendingFor time.Duration, faults cloudsim.Faults) (*cloudsim.Server, *provisioner.Provisioner, *Members, string) {
	t.Helper()
	sim, err := cloudsim.New(cloudsim.Config{PendingFor: pendingFor, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(func() { ts.Close(); sim.Close() })
	m := &Members{sim: sim}
	p, err := provisioner.New(provisioner.Config{Driver: driver(t, ts.URL), UserData: UserData, Members: m, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return sim, p, m, ts.URL
}

// childEnv carries the simulator's URL to the re-executed test binary and
// tells it that it is the process to be killed.
const childEnv = "AEROLITH_TEST_KILLED_APPLY_URL"

// KilledApply describes a driver to KilledApplyRerunConverges.
type KilledApply struct {
	// Spec is the cluster applied, by the killed process and by the rerun.
	Spec *provisioner.ClusterSpec
	// Driver makes the driver under test against the simulator at url. It
	// runs in the child process too, so it must get everything it needs
	// (credentials, environment) from url and the test alone.
	Driver func(t *testing.T, url string) provisioner.Driver
	// Launch names the request that launches an instance ("RunInstances"),
	// in the subtests' names and the failures; IsLaunch recognises one in
	// the simulator's request log.
	Launch   string
	IsLaunch func(cloudsim.Request) bool
	// PendingFor is how long the simulator keeps a new instance pending.
	PendingFor time.Duration
	// After, when set, runs at the end of every subtest, after the rerun's
	// own checks passed.
	After func(t *testing.T, sim *cloudsim.Server, p *provisioner.Provisioner)
}

// KilledApplyRerunConverges SIGKILLs a provisioner process in the middle of
// Apply, once its k-th launch reached the simulator, then applies again
// from this process: exactly one live instance per node, for every k from 1
// to the spec's node count. The simulator commits and then fails 4
// requests, so the killed process is often mid-retry.
//
// The killed process is this test binary run again for the calling test
// alone: the call must come first in its test, before anything the child
// should not do, and the child never returns from it.
func KilledApplyRerunConverges(t *testing.T, c KilledApply) {
	t.Helper()
	if url := os.Getenv(childEnv); url != "" {
		p, err := provisioner.New(provisioner.Config{Driver: c.Driver(t, url), UserData: UserData, PollInterval: 10 * time.Millisecond})
		if err == nil {
			p.Apply(context.Background(), c.Spec)
		}
		for { // wait to be killed (not select{}: alone, that is a deadlock exit)
			time.Sleep(time.Hour)
		}
	}
	want := make([]string, c.Spec.Nodes)
	for i := range want {
		want[i] = provisioner.NodeID(c.Spec.Name, i+1)
	}
	slices.Sort(want)
	for k := 1; k <= c.Spec.Nodes; k++ {
		t.Run(fmt.Sprintf("after %s %d", c.Launch, k), func(t *testing.T) {
			sim, p, _, url := NewEnv(t, c.Driver, c.PendingFor, cloudsim.Faults{CommitThen500: 4})
			cmd := exec.Command(os.Args[0], "-test.run", runPattern(t))
			cmd.Env = append(os.Environ(), childEnv+"="+url)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			launches := func() int {
				n := 0
				for _, r := range sim.Requests() {
					if c.IsLaunch(r) {
						n++
					}
				}
				return n
			}
			deadline := time.Now().Add(time.Minute)
			for launches() < k {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("the child made %d %s requests in a minute", launches(), c.Launch)
				}
				time.Sleep(time.Millisecond) // polling the simulator's log, not waiting for a result
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			if _, err := p.Apply(context.Background(), c.Spec); err != nil {
				t.Fatal(err)
			}
			if got := LiveNodes(sim, c.Spec.Cloud); !slices.Equal(got, want) {
				t.Fatalf("after a killed apply and a rerun: %v, want %v", got, want)
			}
			if c.After != nil {
				c.After(t, sim, p)
			}
		})
	}
}

// runPattern is the -test.run pattern that selects the top-level test
// running t (a subtest's parent): the child must run the caller, not the
// subtest.
func runPattern(t *testing.T) string {
	top, _, _ := strings.Cut(t.Name(), "/")
	return "^" + regexp.QuoteMeta(top) + "$"
}

// LiveNodes are the sorted node ids of cloud's instances in sim that exist
// and are not shutting down.
func LiveNodes(sim *cloudsim.Server, cloud provisioner.Cloud) []string {
	var out []string
	for _, in := range sim.Instances() {
		if in.Cloud == string(cloud) && in.State != "terminated" && in.State != "shutting-down" {
			out = append(out, in.Tags[provisioner.TagNode])
		}
	}
	slices.Sort(out)
	return out
}
