package provisioner

import (
	"context"
	"errors"
	"time"
)

// Driver is one cloud's resources for a cluster. The provisioner decides
// what to do (Plan) and drives it; a driver only creates, lists and
// deletes, each call idempotent:
//
//   - EnsureNetwork creates or repairs the cluster-wide resources (AWS: a
//     security group whose raft rule admits only its own members and
//     whose API rule admits only the allowed CIDRs; GCP: firewall rules
//     on target tags; Azure: resource group, virtual network, NSG);
//   - Launch starts one node unless its launch token already started it;
//   - Instances lists the cluster's instances by its tags (any page size);
//   - Terminate and DeleteNetwork remove, and succeed when already gone.
type Driver interface {
	Cloud() Cloud
	EnsureNetwork(ctx context.Context, spec *ClusterSpec) error
	Launch(ctx context.Context, spec *ClusterSpec, l Launch) (Instance, error)
	Instances(ctx context.Context, spec *ClusterSpec) ([]Instance, error)
	Terminate(ctx context.Context, spec *ClusterSpec, inst Instance) error
	DeleteNetwork(ctx context.Context, spec *ClusterSpec) error
}

// Launch is one node to start.
type Launch struct {
	// NodeID names the node (the agent's --node-id and the TagNode tag).
	NodeID string
	// Token is the launch's idempotency token (ClientToken).
	Token string
	// UserData boots the node (cloudinit.Render).
	UserData []byte
}

// State is an instance's lifecycle state, the same words on every cloud.
type State string

// Instance states. Terminated instances may stay listed for a while.
const (
	Pending    State = "pending"
	Running    State = "running"
	Stopping   State = "stopping"
	Stopped    State = "stopped"
	Terminated State = "terminated"
)

// Live reports whether an instance in state s holds (or will hold) its
// node: pending, running, stopping or stopped.
func (s State) Live() bool { return s != Terminated && s != "" }

// Instance is one node's VM (or process) as the cloud reports it.
type Instance struct {
	ID        string    `json:"id"`
	NodeID    string    `json:"node_id"`
	State     State     `json:"state"`
	PrivateIP string    `json:"private_ip,omitempty"`
	PublicIP  string    `json:"public_ip,omitempty"`
	Launched  time.Time `json:"launched"`
	// Reason explains a terminated instance the cloud ended (a failed
	// launch), "" otherwise.
	Reason string `json:"reason,omitempty"`
}

// ErrNotFound marks a cluster with no resources in the cloud.
var ErrNotFound = errors.New("cluster not found")
