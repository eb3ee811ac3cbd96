package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/cloudinit"
	"github.com/aerolithdb/aerolith/provisioner/local"
)

// upCluster is the name of up's cluster in the local driver: its
// instances live in <data-dir>/up.
const upCluster = "up"

// upAgents runs up's agents the way `aerolith cluster create --cloud
// local` runs a cluster's nodes: as instances of the provisioner's local
// driver, each booted from cloud-init user data (the one renderer every
// driver uses) by an instance process whose supervisor restarts its
// agent when it crashes. up places them at its documented addresses
// (127.0.0.1, --base-port) and directories (<data-dir>/nodeN and
// nodeN.log), ties them to its own process (Attached), stops them on
// Ctrl-C keeping their data (Stop) and starts the same instances again on
// its next run with the same --data-dir (ModifyUserData, Start): the same
// node ids, data and raft state.
type upAgents struct {
	c    *localCluster
	drv  *local.Driver
	spec *provisioner.ClusterSpec
	// settings are every node's agent settings but its certificate's.
	settings []cloudinit.Setting

	events   *local.EventReader
	endPump  context.CancelFunc
	pumpDone chan struct{}
	onEvent  func(local.Event)

	// started are the instances start booted, by id; watchDone is closed
	// when watchInstances returns.
	started   map[string]bool
	watchDone chan struct{}
}

// newUpAgents lays out c's nodes on a local driver rooted at c.dir; it
// starts nothing.
func newUpAgents(c *localCluster, cfg upConfig) (*upAgents, error) {
	placements := map[string]local.Placement{}
	for _, n := range c.nodes {
		n.dataDir = filepath.Join(c.dir, n.id)
		n.logPath = filepath.Join(c.dir, n.id+".log")
		placements[n.id] = local.Placement{HTTPAddr: n.httpAddr, RaftAddr: n.raftAddr, Advertise: "127.0.0.1", DataDir: n.dataDir, LogPath: n.logPath}
	}
	drv, err := local.NewDriver(local.DriverConfig{
		StateDir: c.dir,
		Command:  []string{c.exe, localInstanceCommand},
		Env:      cleanEnv(),
		// The instance gives its agent --stop-timeout; this is for the
		// instance process itself.
		StopTimeout:      cfg.stopTimeout + 10*time.Second,
		Placements:       placements,
		AgentRestart:     upRestartPolicy,
		AgentStopTimeout: cfg.stopTimeout,
		Attached:         true,
	})
	if err != nil {
		return nil, err
	}
	sum, err := local.FileSHA256(c.exe)
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", c.exe, err)
	}
	spec := &provisioner.ClusterSpec{Name: upCluster, Cloud: provisioner.Local, Nodes: len(c.nodes),
		Agent: provisioner.Artifact{URL: "file://" + c.exe, SHA256: sum}}
	return &upAgents{c: c, drv: drv, spec: spec}, nil
}

// configure sets the settings of every node: the cluster's admin key,
// bootstrap with each other, billing's URL and enrollment token.
func (a *upAgents) configure(billingURL, enrollmentToken string, meterWindow time.Duration) {
	joins := make([]string, len(a.c.nodes))
	for i, n := range a.c.nodes {
		joins[i] = n.raftAddr
	}
	a.settings = []cloudinit.Setting{
		{Key: "admin-key", Value: a.c.key},
		{Key: "bootstrap-expect", Value: len(a.c.nodes)},
		{Key: "join", Value: joins},
		{Key: "billing-url", Value: billingURL},
		{Key: "enrollment-token", Value: enrollmentToken},
		{Key: "meter-window", Value: meterWindow.String()},
		{Key: "log-level", Value: a.c.logLevel},
		{Key: "log-format", Value: "text"},
	}
}

// userData renders node n's user data with its certificate's settings.
func (a *upAgents) userData(n *localNode, certs *upTLS) ([]byte, error) {
	tlsSettings, err := certs.nodeSettings(a.c.dir, n.id)
	if err != nil {
		return nil, err
	}
	return cloudinit.Render(cloudinit.Node{Cluster: upCluster, NodeID: n.id, AgentURL: a.spec.Agent.URL, AgentSHA256: a.spec.Agent.SHA256,
		Settings: append(append([]cloudinit.Setting(nil), a.settings...), tlsSettings...)})
}

// prepare stops whatever a previous run left marked running (an up that
// was killed: its instances died with it), so that nothing boots from
// the old user data, removes the agent binaries of earlier builds, then
// creates the driver's state and starts reading the instances' events
// into onEvent.
func (a *upAgents) prepare(ctx context.Context, onEvent func(local.Event)) error {
	insts, err := a.drv.Instances(ctx, a.spec)
	if err != nil {
		return err
	}
	for _, in := range insts {
		if in.State.Live() && in.State != provisioner.Stopped {
			if err := a.drv.Stop(ctx, a.spec, in); err != nil {
				return err
			}
		}
	}
	// Every run starts all nodes with this binary: older copies go.
	if err := a.drv.PruneAgentBinaries(upCluster, a.spec.Agent.SHA256); err != nil {
		return err
	}
	if err := a.drv.EnsureNetwork(ctx, a.spec); err != nil {
		return err
	}
	a.events = a.drv.Events(upCluster)
	a.onEvent = onEvent
	pumpCtx, end := context.WithCancel(context.WithoutCancel(ctx))
	a.endPump, a.pumpDone = end, make(chan struct{})
	go func() {
		defer close(a.pumpDone)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, ev := range a.events.Read() {
				onEvent(ev)
			}
			select {
			case <-pumpCtx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return nil
}

// start boots every node: a new instance (Launch), or the node's stopped
// instance with this run's user data (ModifyUserData, Start). It returns
// once every instance process runs its agent; readiness is waitReady's.
func (a *upAgents) start(ctx context.Context, certs *upTLS) error {
	insts, err := a.drv.Instances(ctx, a.spec)
	if err != nil {
		return err
	}
	stopped := map[string]provisioner.Instance{}
	for _, in := range insts {
		if in.State == provisioner.Stopped {
			stopped[in.NodeID] = in
		}
	}
	for _, n := range a.c.nodes {
		ud, err := a.userData(n, certs)
		if err != nil {
			return err
		}
		if in, ok := stopped[n.id]; ok {
			if err := a.drv.ModifyUserData(ctx, a.spec, in, ud); err != nil {
				return fmt.Errorf("%s: %w", n.id, err)
			}
			if _, err := a.drv.Start(ctx, a.spec, in); err != nil {
				return fmt.Errorf("start %s: %w", n.id, err)
			}
			continue
		}
		in, err := a.drv.Launch(ctx, a.spec, provisioner.Launch{NodeID: n.id, Token: provisioner.ClientToken(upCluster, n.id, 0), UserData: ud})
		if err != nil {
			return fmt.Errorf("launch %s: %w", n.id, err)
		}
		if in.State != provisioner.Running {
			return fmt.Errorf("launch %s: instance %s is %s", n.id, in.ID, in.State)
		}
	}
	insts, err = a.drv.Instances(ctx, a.spec)
	if err != nil {
		return err
	}
	a.started = map[string]bool{}
	for _, in := range insts {
		if in.State == provisioner.Running {
			a.started[in.ID] = true
		}
	}
	return nil
}

// watchInstances starts again, until ctx ends, an instance whose process
// died while up runs (killed: its agent went with it), as a cloud
// restarts a VM after a host failure. A crashed agent is its instance's
// to restart; this is for the instance process itself.
func (a *upAgents) watchInstances(ctx context.Context, w *upWatch) {
	a.watchDone = make(chan struct{})
	go func() {
		defer close(a.watchDone)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			insts, err := a.drv.Instances(ctx, a.spec)
			if err != nil {
				continue
			}
			for _, in := range insts {
				// Nothing stops an instance while up runs: a stopped one died.
				if !a.started[in.ID] || in.State != provisioner.Stopped || ctx.Err() != nil {
					continue
				}
				log := a.drv.InstanceLog(upCluster, in.ID)
				w.instanceExited(in.NodeID, in.ID, log)
				if _, err := a.drv.Start(ctx, a.spec, in); err != nil && ctx.Err() == nil {
					w.printf("aerolith up: could not start the instance of %s again: %v; its log: %s\n", in.NodeID, err, log)
				}
			}
		}
	}()
}

// stop stops every instance (all at once; each instance stops its agent,
// SIGKILL after --stop-timeout), keeping them and their data, and
// delivers the last events. The error names every instance that did not
// stop cleanly.
func (a *upAgents) stop() error {
	if a.events == nil {
		return nil // prepare never ran
	}
	if a.watchDone != nil {
		<-a.watchDone // its context ended first: no Start after a Stop
	}
	ctx := context.Background()
	insts, err := a.drv.Instances(ctx, a.spec)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, in := range insts {
		if !in.State.Live() || in.State == provisioner.Stopped {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.drv.Stop(ctx, a.spec, in); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", in.NodeID, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	a.endPump()
	<-a.pumpDone
	for _, ev := range a.events.Read() {
		a.onEvent(ev)
	}
	return errors.Join(errs...)
}

// cleanEnv is this process's environment without AEROLITH_* settings:
// they would override what up gives its processes.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AEROLITH_") {
			env = append(env, kv)
		}
	}
	return env
}
