package deployment

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/provisioner"
)

// stuckCloud is a cloud whose instances never all come up: node 1 runs
// at an address where nothing answers, nodes 2 and 3 (launched) stay
// pending.
type stuckCloud struct {
	mu       sync.Mutex
	launched []string
}

func (c *stuckCloud) Cloud() provisioner.Cloud { return provisioner.AWS }
func (c *stuckCloud) EnsureNetwork(context.Context, *provisioner.ClusterSpec) error {
	return nil
}
func (c *stuckCloud) Launch(_ context.Context, _ *provisioner.ClusterSpec, l provisioner.Launch) (provisioner.Instance, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.launched = append(c.launched, l.NodeID)
	return provisioner.Instance{ID: "i-" + l.NodeID, NodeID: l.NodeID, State: provisioner.Pending}, nil
}
func (c *stuckCloud) Instances(ctx context.Context, spec *provisioner.ClusterSpec) ([]provisioner.Instance, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []provisioner.Instance{
		// Nothing listens on 127.0.0.3 (local clusters live in 127.128.0.0/10).
		{ID: "i-1", NodeID: provisioner.NodeID(spec.Name, 1), State: provisioner.Running, PrivateIP: "127.0.0.3"},
		{ID: "i-2", NodeID: provisioner.NodeID(spec.Name, 2), State: provisioner.Pending},
	}
	for _, n := range c.launched {
		out = append(out, provisioner.Instance{ID: "i-" + n, NodeID: n, State: provisioner.Pending})
	}
	return out, nil
}
func (c *stuckCloud) Terminate(context.Context, *provisioner.ClusterSpec, provisioner.Instance) error {
	return nil
}
func (c *stuckCloud) DeleteNetwork(context.Context, *provisioner.ClusterSpec) error { return nil }

// TestWaitsEndWithContextNamingNodes: on a cloud (no crash watch), the
// waits for instances and for the cluster end with their context and say
// which nodes never became ready.
func TestWaitsEndWithContextNamingNodes(t *testing.T) {
	spec := provisioner.ClusterSpec{Name: "stuck", Cloud: provisioner.AWS, Region: "eu-west-1", Nodes: 3,
		Agent: provisioner.Artifact{URL: "https://example.com/aerolith", SHA256: strings.Repeat("a", 64)}}
	spec.Defaults()
	d := &stuckCloud{}
	p, err := provisioner.New(provisioner.Config{Driver: d, PollInterval: 10 * time.Millisecond,
		UserData: func(*provisioner.ClusterSpec, string, bool) ([]byte, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Rec: &Record{Spec: spec, InsecureHTTP: true}, Sec: &Secrets{AdminKey: "k"}, Drv: d, Prov: p}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = p.Apply(ctx, &e.Rec.Spec)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not running: stuck-n2 (i-2 pending), stuck-n3 (i-stuck-n3 pending)") {
		t.Errorf("Apply = %v, want the nodes not running named", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = e.WaitHealthy(ctx, func(string) {})
	want := "nodes never ready: stuck-n1 (no answer at http://127.0.0.3:7070), stuck-n2 (no running instance), stuck-n3 (no running instance)"
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), want) {
		t.Errorf("WaitHealthy = %v, want it to say %q", err, want)
	}
}
