package provisioner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Members changes the raft membership of a running cluster; the
// provisioner calls it before it terminates a node, so that a node leaves
// the configuration (leadership transferred first when it leads) before
// its VM goes and no acknowledged write depends on it.
type Members interface {
	Remove(ctx context.Context, nodeID string) error
}

// UserDataFunc renders the user data of one node. initial is true for the
// nodes of a new cluster (they bootstrap together) and false for a node
// joining a running one.
type UserDataFunc func(spec *ClusterSpec, nodeID string, initial bool) ([]byte, error)

// Config configures a Provisioner.
type Config struct {
	Driver Driver
	// UserData renders each node's user data (required).
	UserData UserDataFunc
	// Members removes nodes from raft before they are terminated; nil
	// refuses to scale a running cluster down.
	Members Members
	// OnEvent receives progress (the CLI prints it, the Terraform
	// provider logs it); nil drops it.
	OnEvent func(Event)
	// PollInterval is how often Apply looks at launching instances;
	// default 500ms.
	PollInterval time.Duration
}

// Event is one step of progress.
type Event struct {
	Time    time.Time `json:"time"`
	Action  string    `json:"action"`
	NodeID  string    `json:"node_id,omitempty"`
	Message string    `json:"message"`
}

// Provisioner converges a cloud to a ClusterSpec through a Driver.
type Provisioner struct {
	cfg Config
}

// New checks cfg; it does no I/O.
func New(cfg Config) (*Provisioner, error) {
	if cfg.Driver == nil {
		return nil, errors.New("provisioner: Driver is required")
	}
	if cfg.UserData == nil {
		return nil, errors.New("provisioner: UserData is required")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 500 * time.Millisecond
	}
	return &Provisioner{cfg: cfg}, nil
}

// ActionKind names a cloud action of a plan.
type ActionKind string

// The actions a plan can hold.
const (
	ActEnsureNetwork ActionKind = "ensure-network"
	ActLaunch        ActionKind = "launch"
	ActRemove        ActionKind = "remove" // leave raft, then terminate
	ActTerminate     ActionKind = "terminate"
	ActDeleteNetwork ActionKind = "delete-network"
)

// Action is one step of a plan.
type Action struct {
	Kind       ActionKind `json:"kind"`
	NodeID     string     `json:"node_id,omitempty"`
	InstanceID string     `json:"instance_id,omitempty"`
	// Generation of a launch: 0 for the node's first instance, n for its
	// n-th replacement (a new idempotency token).
	Generation int `json:"generation,omitempty"`
	// Initial marks a launch of a new cluster's node (it bootstraps with
	// the others) rather than one joining a running cluster.
	Initial bool   `json:"initial,omitempty"`
	Reason  string `json:"reason"`
}

func (a Action) String() string {
	s := string(a.Kind)
	if a.NodeID != "" {
		s += " " + a.NodeID
	}
	if a.InstanceID != "" {
		s += " (" + a.InstanceID + ")"
	}
	return s + ": " + a.Reason
}

// Plan is what Apply would do, in order.
type Plan struct {
	Cluster string   `json:"cluster"`
	Actions []Action `json:"actions"`
}

// Empty reports whether the cloud already matches the spec.
func (p *Plan) Empty() bool { return len(p.Actions) == 0 }

// Status is a cluster as the cloud reports it.
type Status struct {
	Cluster string     `json:"cluster"`
	Cloud   Cloud      `json:"cloud"`
	Nodes   []Instance `json:"nodes"`
	// Drift lists how the cloud differs from the spec, "" items none.
	Drift []string `json:"drift,omitempty"`
}

// Read returns the cluster's instances (live ones, by node) and how they
// differ from spec. ErrNotFound when the cloud holds nothing of it.
func (p *Provisioner) Read(ctx context.Context, spec *ClusterSpec) (*Status, error) {
	insts, err := p.cfg.Driver.Instances(ctx, spec)
	if err != nil {
		return nil, err
	}
	st := &Status{Cluster: spec.Name, Cloud: spec.Cloud}
	live := liveByNode(spec.Name, insts)
	if len(live) == 0 {
		return st, ErrNotFound
	}
	for _, in := range live {
		st.Nodes = append(st.Nodes, in)
	}
	sort.Slice(st.Nodes, func(i, j int) bool { return nodeLess(spec.Name, st.Nodes[i].NodeID, st.Nodes[j].NodeID) })
	plan := planFrom(spec, insts)
	for _, a := range plan.Actions {
		if a.Kind != ActEnsureNetwork {
			st.Drift = append(st.Drift, a.String())
		}
	}
	return st, nil
}

// Plan returns the actions that converge the cloud to spec.
func (p *Provisioner) Plan(ctx context.Context, spec *ClusterSpec) (*Plan, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	insts, err := p.cfg.Driver.Instances(ctx, spec)
	if err != nil {
		return nil, err
	}
	return planFrom(spec, insts), nil
}

// planFrom compares the instances found with the spec. Nodes are numbered
// 1..N; a node whose instances are all terminated is launched again with
// the next generation; nodes numbered above N are removed, highest first.
func planFrom(spec *ClusterSpec, insts []Instance) *Plan {
	plan := &Plan{Cluster: spec.Name}
	plan.Actions = append(plan.Actions, Action{Kind: ActEnsureNetwork, Reason: "security group / firewall rules of the cluster"})
	live := liveByNode(spec.Name, insts)
	generations := map[string]int{}
	for _, in := range insts {
		if !in.State.Live() {
			generations[in.NodeID]++
		}
	}
	initial := len(live) == 0
	for i := 1; i <= spec.Nodes; i++ {
		id := NodeID(spec.Name, i)
		if _, ok := live[id]; ok {
			continue
		}
		reason := "missing"
		if generations[id] > 0 {
			reason = fmt.Sprintf("its instance is terminated (%d before); launching a replacement", generations[id])
		}
		plan.Actions = append(plan.Actions, Action{Kind: ActLaunch, NodeID: id, Generation: generations[id], Initial: initial, Reason: reason})
	}
	var extra []Instance
	for id, in := range live {
		if n, ok := NodeIndex(spec.Name, id); !ok || n > spec.Nodes {
			extra = append(extra, in)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return nodeLess(spec.Name, extra[j].NodeID, extra[i].NodeID) })
	for _, in := range extra {
		plan.Actions = append(plan.Actions, Action{Kind: ActRemove, NodeID: in.NodeID, InstanceID: in.ID, Reason: fmt.Sprintf("the spec has %d nodes", spec.Nodes)})
	}
	// Duplicates (two live instances of one node, which idempotent launches
	// prevent, but a hand-made one is possible): keep the oldest.
	for id, dups := range duplicates(insts) {
		for _, in := range dups {
			plan.Actions = append(plan.Actions, Action{Kind: ActTerminate, NodeID: id, InstanceID: in.ID, Reason: "a second live instance of the node"})
		}
	}
	if len(plan.Actions) == 1 {
		plan.Actions = nil // the network is checked by every apply but changes nothing
	}
	return plan
}

// Apply converges the cloud to spec and waits until every node's
// instance runs. It is idempotent: rerun after a failure or a crash at any
// point, it finds what was made (by tags and launch tokens) and never
// launches a node twice.
func (p *Provisioner) Apply(ctx context.Context, spec *ClusterSpec) (*Status, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	d := p.cfg.Driver
	p.emit(string(ActEnsureNetwork), "", "security group / firewall of "+spec.Name)
	if err := d.EnsureNetwork(ctx, spec); err != nil {
		return nil, fmt.Errorf("ensure network: %w", err)
	}
	for attempt := 0; ; attempt++ {
		insts, err := d.Instances(ctx, spec)
		if err != nil {
			return nil, err
		}
		plan := planFrom(spec, insts)
		if plan.Empty() {
			break
		}
		if attempt > 2*spec.Nodes+4 {
			return nil, fmt.Errorf("apply: the cloud does not converge; still to do: %s", plan.Actions[len(plan.Actions)-1])
		}
		for _, a := range plan.Actions {
			if err := p.do(ctx, spec, a); err != nil {
				return nil, err
			}
		}
	}
	return p.waitRunning(ctx, spec)
}

func (p *Provisioner) do(ctx context.Context, spec *ClusterSpec, a Action) error {
	d := p.cfg.Driver
	switch a.Kind {
	case ActEnsureNetwork:
		return nil // done once per apply
	case ActLaunch:
		ud, err := p.cfg.UserData(spec, a.NodeID, a.Initial)
		if err != nil {
			return fmt.Errorf("user data of %s: %w", a.NodeID, err)
		}
		p.emit(string(a.Kind), a.NodeID, a.Reason)
		in, err := d.Launch(ctx, spec, Launch{NodeID: a.NodeID, Token: ClientToken(spec.Name, a.NodeID, a.Generation), UserData: ud})
		if err != nil {
			return fmt.Errorf("launch %s: %w", a.NodeID, err)
		}
		p.emit("launched", a.NodeID, in.ID)
	case ActRemove:
		if p.cfg.Members == nil {
			return fmt.Errorf("remove %s: scaling a running cluster down needs its admin endpoint (raft removal before the VM goes)", a.NodeID)
		}
		p.emit("leave", a.NodeID, "removing from raft (leadership moves first if it leads)")
		if err := p.cfg.Members.Remove(ctx, a.NodeID); err != nil {
			return fmt.Errorf("remove %s from raft: %w", a.NodeID, err)
		}
		fallthrough
	case ActTerminate:
		p.emit(string(ActTerminate), a.NodeID, a.InstanceID)
		if err := d.Terminate(ctx, spec, Instance{ID: a.InstanceID, NodeID: a.NodeID}); err != nil {
			return fmt.Errorf("terminate %s: %w", a.NodeID, err)
		}
	default:
		return fmt.Errorf("unknown action %q", a.Kind)
	}
	return nil
}

// waitRunning waits until every node 1..N has a running instance, and
// relaunches those whose launch failed.
func (p *Provisioner) waitRunning(ctx context.Context, spec *ClusterSpec) (*Status, error) {
	t := time.NewTicker(p.cfg.PollInterval)
	defer t.Stop()
	reported := map[string]bool{}
	for {
		insts, err := p.cfg.Driver.Instances(ctx, spec)
		if err != nil {
			return nil, err
		}
		plan := planFrom(spec, insts)
		for _, a := range plan.Actions {
			if a.Kind == ActLaunch { // a launch failed after it was accepted
				if err := p.do(ctx, spec, a); err != nil {
					return nil, err
				}
			}
		}
		live := liveByNode(spec.Name, insts)
		running := 0
		for id, in := range live {
			if in.State == Running {
				running++
				if !reported[id] {
					reported[id] = true
					p.emit("running", id, in.PrivateIP)
				}
			}
		}
		if running == spec.Nodes && len(live) == spec.Nodes && plan.Empty() {
			return p.Read(ctx, spec)
		}
		select {
		case <-ctx.Done():
			var waiting []string
			for i := 1; i <= spec.Nodes; i++ {
				id := NodeID(spec.Name, i)
				switch in, ok := live[id]; {
				case !ok:
					waiting = append(waiting, id+" (no instance)")
				case in.State != Running:
					waiting = append(waiting, fmt.Sprintf("%s (%s %s)", id, in.ID, in.State))
				}
			}
			return nil, fmt.Errorf("waiting for %d running nodes (%d so far; not running: %s): %w", spec.Nodes, running, strings.Join(waiting, ", "), ctx.Err())
		case <-t.C:
		}
	}
}

// Destroy terminates every instance of the cluster and deletes its
// network resources. It is idempotent and safe to rerun.
func (p *Provisioner) Destroy(ctx context.Context, spec *ClusterSpec) error {
	d := p.cfg.Driver
	insts, err := d.Instances(ctx, spec)
	if err != nil {
		return err
	}
	for _, in := range insts {
		if in.State.Live() {
			p.emit(string(ActTerminate), in.NodeID, in.ID)
			if err := d.Terminate(ctx, spec, in); err != nil {
				return fmt.Errorf("terminate %s: %w", in.NodeID, err)
			}
		}
	}
	p.emit(string(ActDeleteNetwork), "", spec.Name)
	if err := d.DeleteNetwork(ctx, spec); err != nil {
		return fmt.Errorf("delete network: %w", err)
	}
	return nil
}

func (p *Provisioner) emit(action, node, msg string) {
	if p.cfg.OnEvent != nil {
		p.cfg.OnEvent(Event{Time: time.Now(), Action: action, NodeID: node, Message: msg})
	}
}

// liveByNode maps each node id to its oldest live instance.
func liveByNode(cluster string, insts []Instance) map[string]Instance {
	m := map[string]Instance{}
	for _, in := range insts {
		if !in.State.Live() || in.NodeID == "" {
			continue
		}
		if have, ok := m[in.NodeID]; !ok || in.Launched.Before(have.Launched) || in.Launched.Equal(have.Launched) && in.ID < have.ID {
			m[in.NodeID] = in
		}
	}
	return m
}

// duplicates returns, per node, the live instances beyond the oldest.
func duplicates(insts []Instance) map[string][]Instance {
	keep := liveByNode("", insts)
	out := map[string][]Instance{}
	for _, in := range insts {
		if in.State.Live() && in.NodeID != "" && keep[in.NodeID].ID != in.ID {
			out[in.NodeID] = append(out[in.NodeID], in)
		}
	}
	return out
}

func nodeLess(cluster, a, b string) bool {
	ia, oka := NodeIndex(cluster, a)
	ib, okb := NodeIndex(cluster, b)
	if oka && okb {
		return ia < ib
	}
	if oka != okb {
		return oka
	}
	return strings.Compare(a, b) < 0
}
