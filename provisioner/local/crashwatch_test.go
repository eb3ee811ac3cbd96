package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/cloudinit"
)

// TestWatchCrashes: a node whose agent exits at once on a bad setting is
// restarted by its instance forever; the watch reports it, with the
// agent's own error, when the policy's bound is reached: the limit-th
// quick restart in a row, or the instance giving up.
func TestWatchCrashes(t *testing.T) {
	const msg = "billing-url: http://billing:7080 is plain http; use https"
	tests := []struct {
		name        string
		restart     RestartPolicy
		limit       int
		wantCrashes int
		wantGaveUp  bool
	}{
		{"restart limit", RestartPolicy{InitialBackoff: 20 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, ResetAfter: 10 * time.Second}, 3, 3, false},
		{"instance gives up", RestartPolicy{InitialBackoff: 20 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, ResetAfter: 10 * time.Second, MaxRestarts: 1}, 5, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			sum, err := FileSHA256(exe)
			if err != nil {
				t.Fatal(err)
			}
			d, err := NewDriver(DriverConfig{StateDir: t.TempDir(), Command: []string{exe}, Env: append(os.Environ(), driverHelperEnv+"=1"),
				StopTimeout: 10 * time.Second, AgentRestart: tt.restart})
			if err != nil {
				t.Fatal(err)
			}
			spec := &provisioner.ClusterSpec{Name: "drv", Cloud: provisioner.Local, Nodes: 1, Agent: provisioner.Artifact{URL: "file://" + exe, SHA256: sum}}
			ud := func(spec *provisioner.ClusterSpec, node string, initial bool) ([]byte, error) {
				return cloudinit.Render(cloudinit.Node{Cluster: spec.Name, NodeID: node, AgentURL: spec.Agent.URL, AgentSHA256: spec.Agent.SHA256,
					Settings: []cloudinit.Setting{{Key: "admin-key", Value: "k"}, {Key: "crash", Value: msg}}})
			}
			p, err := provisioner.New(provisioner.Config{Driver: d, UserData: ud, PollInterval: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Destroy(context.Background(), spec) })
			w := d.WatchCrashes(spec.Name, tt.limit)
			if _, err := p.Apply(context.Background(), spec); err != nil {
				t.Fatal(err)
			}
			var got error
			if err := testwait.Poll(time.Minute, "the crash loop reported", func() error {
				if got = w.Check(); got == nil {
					return errors.New("no crash loop yet")
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var cl *CrashLoopError
			if !errors.Is(got, ErrCrashLoop) || !errors.As(got, &cl) {
				t.Fatalf("Check() = %v, want a *CrashLoopError", got)
			}
			if cl.NodeID != "drv-n1" || cl.Crashes != tt.wantCrashes || cl.GaveUp != tt.wantGaveUp || cl.Exit != "exit status 2" {
				t.Errorf("Check() = %+v, want node drv-n1, %d crashes, gave up %v, exit status 2", cl, tt.wantCrashes, tt.wantGaveUp)
			}
			// The last run's own words, not the supervisor's marks.
			want := "agent starting | aerolith: " + msg
			if cl.Output != want {
				t.Errorf("Output = %q, want %q", cl.Output, want)
			}
			for _, s := range []string{"node drv-n1 keeps crashing", fmt.Sprintf("exited %d times in a row", tt.wantCrashes), msg, cl.LogPath} {
				if !strings.Contains(got.Error(), s) {
					t.Errorf("error %q does not say %q", got, s)
				}
			}
			if again := w.Check(); again != got {
				t.Errorf("Check() after the crash loop = %v, want the same error", again)
			}
		})
	}
}

func TestWatchCrashesQuietWhileRunning(t *testing.T) {
	d, p, spec := newTestDriver(t)
	w := d.WatchCrashes(spec.Name, 1)
	st, err := p.Apply(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range st.Nodes {
		agentPID(t, d, in, 0) // every agent started
	}
	if err := w.Check(); err != nil {
		t.Fatalf("Check() with every agent running = %v", err)
	}
}
