package gcp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/aerolithdb/aerolith/provisioner"
)

// rules are the firewall rules spec's cluster needs, by name. The raft
// rule admits the cluster's own instances (source tag) on the raft port
// and on the API port (join resolution and liveness probes between
// agents); the API rule admits the allowed CIDRs on the API port, and is
// absent when there are none (a GCE ingress rule without sources would
// admit everyone).
func (d *Driver) rules(spec *provisioner.ClusterSpec) []*computepb.Firewall {
	tag := NetworkTag(spec.Name)
	out := []*computepb.Firewall{{
		Name:        proto.String(raftRule(spec.Name)),
		Description: proto.String("Aerolith cluster " + spec.Name + ": raft and agent to agent, between the cluster's instances only"),
		Network:     proto.String(d.network),
		Direction:   proto.String("INGRESS"),
		Priority:    proto.Int32(1000),
		Allowed:     []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{strconv.Itoa(RaftPort), strconv.Itoa(APIPort)}}},
		SourceTags:  []string{tag},
		TargetTags:  []string{tag},
	}}
	if len(spec.AllowedCIDRs) > 0 {
		cidrs := slices.Clone(spec.AllowedCIDRs)
		slices.Sort(cidrs)
		out = append(out, &computepb.Firewall{
			Name:         proto.String(apiRule(spec.Name)),
			Description:  proto.String("Aerolith cluster " + spec.Name + ": data API from the allowed CIDRs"),
			Network:      proto.String(d.network),
			Direction:    proto.String("INGRESS"),
			Priority:     proto.Int32(1000),
			Allowed:      []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{strconv.Itoa(APIPort)}}},
			SourceRanges: cidrs,
			TargetTags:   []string{tag},
		})
	}
	return out
}

func (d *Driver) getFirewall(ctx context.Context, name string) (*computepb.Firewall, error) {
	fw, err := d.firewalls.Get(ctx, &computepb.GetFirewallRequest{Project: d.project, Firewall: name}, d.retry)
	if code(err) == 404 {
		return nil, nil
	}
	return fw, err
}

// EnsureNetwork implements provisioner.Driver: each rule is inserted when
// missing and patched when its sources differ from the spec's; the API
// rule is deleted when the spec allows no CIDR.
func (d *Driver) EnsureNetwork(ctx context.Context, spec *provisioner.ClusterSpec) error {
	want := d.rules(spec)
	if len(want) == 1 {
		if err := d.deleteFirewall(ctx, apiRule(spec.Name)); err != nil {
			return err
		}
	}
	for _, fw := range want {
		name := fw.GetName()
		have, err := d.getFirewall(ctx, name)
		if err != nil {
			return fmt.Errorf("get firewall %s: %w", name, err)
		}
		if have == nil {
			token := fmt.Sprintf("firewall/%s/%s/%s", d.project, name, strings.Join(append(fw.SourceRanges, fw.SourceTags...), ","))
			err := insertOp(ctx, "firewall "+name, token,
				func(ctx context.Context, rid string) (*compute.Operation, error) {
					return d.firewalls.Insert(ctx, &computepb.InsertFirewallRequest{Project: d.project, FirewallResource: fw, RequestId: proto.String(rid)}, d.retry)
				},
				func(ctx context.Context) (bool, error) {
					f, err := d.getFirewall(ctx, name)
					return f != nil, err
				}, nil, d.retry)
			if err != nil {
				return err
			}
			continue
		}
		gotRanges := slices.Clone(have.GetSourceRanges())
		slices.Sort(gotRanges)
		if slices.Equal(gotRanges, fw.GetSourceRanges()) && slices.Equal(have.GetSourceTags(), fw.GetSourceTags()) && slices.Equal(have.GetTargetTags(), fw.GetTargetTags()) {
			continue
		}
		op, err := d.firewalls.Patch(ctx, &computepb.PatchFirewallRequest{Project: d.project, Firewall: name, FirewallResource: fw, RequestId: proto.String(randomRequestID())}, d.retry)
		if err != nil {
			return fmt.Errorf("patch firewall %s: %w", name, err)
		}
		if err := op.Wait(ctx, d.retry); err != nil {
			return fmt.Errorf("patch firewall %s: %w", name, err)
		}
	}
	return nil
}

// Launch implements provisioner.Driver: an insert of the instance named
// after the node, with requestIds derived from the launch token. A launch
// the cloud gave up on (capacity) is tried again with the next requestId;
// an instance of that name already there is the launch's result.
func (d *Driver) Launch(ctx context.Context, spec *provisioner.ClusterSpec, l provisioner.Launch) (provisioner.Instance, error) {
	if len(l.UserData) > maxUserData {
		return provisioner.Instance{}, fmt.Errorf("user data of %s: %d bytes, GCE metadata values are limited to %d", l.NodeID, len(l.UserData), maxUserData)
	}
	zone := spec.Zone
	image := spec.Image
	if image == "" {
		image = DefaultImage
	}
	labels := provisioner.ResourceTags(spec, l.NodeID)
	res := &computepb.Instance{
		Name:        proto.String(l.NodeID),
		Description: proto.String("Aerolith node " + l.NodeID + " of cluster " + spec.Name),
		MachineType: proto.String(fmt.Sprintf("zones/%s/machineTypes/%s", zone, spec.InstanceType)),
		Labels:      labels,
		Tags:        &computepb.Tags{Items: []string{NetworkTag(spec.Name)}},
		Metadata:    &computepb.Metadata{Items: []*computepb.Items{{Key: proto.String("user-data"), Value: proto.String(string(l.UserData))}}},
		Disks: []*computepb.AttachedDisk{{
			Boot: proto.Bool(true), AutoDelete: proto.Bool(true), Type: proto.String("PERSISTENT"),
			InitializeParams: &computepb.AttachedDiskInitializeParams{
				DiskSizeGb: proto.Int64(int64(spec.DiskGB)), SourceImage: proto.String(image),
				DiskType: proto.String(fmt.Sprintf("zones/%s/diskTypes/pd-balanced", zone)), Labels: labels,
			},
		}},
		NetworkInterfaces: []*computepb.NetworkInterface{{
			Network:       proto.String(d.network),
			AccessConfigs: []*computepb.AccessConfig{{Name: proto.String("External NAT"), Type: proto.String("ONE_TO_ONE_NAT")}},
		}},
		// Read-only Compute access for the node's own calls: discovery of
		// its peers by label (--discover provider=gcp) on unmanaged clusters.
		ServiceAccounts: []*computepb.ServiceAccount{{Email: proto.String("default"), Scopes: []string{"https://www.googleapis.com/auth/compute.readonly"}}},
	}
	var got *computepb.Instance
	exists := func(ctx context.Context) (bool, error) {
		in, err := d.instances.Get(ctx, &computepb.GetInstanceRequest{Project: d.project, Zone: zone, Instance: l.NodeID}, d.retry)
		if code(err) == 404 {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("get instance %s: %w", l.NodeID, err)
		}
		if c := in.GetLabels()[provisioner.TagCluster]; c != spec.Name {
			return false, fmt.Errorf("instance name %s is taken by an instance that is not of cluster %s (label %s=%q)", l.NodeID, spec.Name, provisioner.TagCluster, c)
		}
		got = in
		return true, nil
	}
	err := insertOp(ctx, "instance "+l.NodeID, l.Token,
		func(ctx context.Context, rid string) (*compute.Operation, error) {
			return d.instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: d.project, Zone: zone, InstanceResource: res, RequestId: proto.String(rid)}, d.retry)
		}, exists, launchFailed, d.retry)
	if err != nil {
		return provisioner.Instance{}, err
	}
	return toInstance(got), nil
}

// launchFailed reports an insert operation the cloud gave up on for want
// of capacity: another attempt may succeed.
func launchFailed(op *computepb.Operation) bool {
	for _, e := range op.GetError().GetErrors() {
		switch e.GetCode() {
		case "ZONE_RESOURCE_POOL_EXHAUSTED", "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", "RESOURCE_OPERATION_RATE_EXCEEDED", "INTERNAL_ERROR":
			return true
		}
	}
	return false
}

// Instances implements provisioner.Driver: every page of the zone's
// instances filtered by the cluster label.
func (d *Driver) Instances(ctx context.Context, spec *provisioner.ClusterSpec) ([]provisioner.Instance, error) {
	it := d.instances.List(ctx, &computepb.ListInstancesRequest{
		Project: d.project, Zone: spec.Zone,
		Filter:     proto.String(fmt.Sprintf("labels.%s = %q", provisioner.TagCluster, spec.Name)),
		MaxResults: proto.Uint32(500),
	}, d.retry)
	var out []provisioner.Instance
	for {
		in, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list instances: %w", err)
		}
		out = append(out, toInstance(in))
	}
}

// Terminate implements provisioner.Driver: it deletes the instance (its
// boot disk goes with it) and waits until it is gone; an instance already
// gone is not an error. inst.ID is the instance's name.
func (d *Driver) Terminate(ctx context.Context, spec *provisioner.ClusterSpec, inst provisioner.Instance) error {
	op, err := d.instances.Delete(ctx, &computepb.DeleteInstanceRequest{Project: d.project, Zone: spec.Zone, Instance: inst.ID, RequestId: proto.String(randomRequestID())}, d.retry)
	if code(err) == 404 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete instance %s: %w", inst.ID, err)
	}
	if err := op.Wait(ctx, d.retry); err != nil && code(err) != 404 {
		return fmt.Errorf("delete instance %s: %w", inst.ID, err)
	}
	return nil
}

// DeleteNetwork implements provisioner.Driver: it deletes what is left of
// the cluster's instances (a stopped one holds its disk), then its
// firewall rules.
func (d *Driver) DeleteNetwork(ctx context.Context, spec *provisioner.ClusterSpec) error {
	insts, err := d.Instances(ctx, spec)
	if err != nil {
		return err
	}
	for _, in := range insts {
		if err := d.Terminate(ctx, spec, in); err != nil {
			return err
		}
	}
	for _, name := range RuleNames(spec.Name) {
		if err := d.deleteFirewall(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (d *Driver) deleteFirewall(ctx context.Context, name string) error {
	op, err := d.firewalls.Delete(ctx, &computepb.DeleteFirewallRequest{Project: d.project, Firewall: name, RequestId: proto.String(randomRequestID())}, d.retry)
	if code(err) == 404 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete firewall %s: %w", name, err)
	}
	if err := op.Wait(ctx, d.retry); err != nil && code(err) != 404 {
		return fmt.Errorf("delete firewall %s: %w", name, err)
	}
	return nil
}

// toInstance maps a GCE instance: its name is the ID (every call names
// instances by it), its statuses map to the provisioner's states.
// TERMINATED is a stopped GCE instance (it still holds its disk), so it
// maps to Stopped.
func toInstance(in *computepb.Instance) provisioner.Instance {
	out := provisioner.Instance{ID: in.GetName(), NodeID: in.GetLabels()[provisioner.TagNode], Reason: in.GetStatusMessage()}
	if t, err := time.Parse(time.RFC3339, in.GetCreationTimestamp()); err == nil {
		out.Launched = t
	}
	if nics := in.GetNetworkInterfaces(); len(nics) > 0 {
		out.PrivateIP = nics[0].GetNetworkIP()
		if acs := nics[0].GetAccessConfigs(); len(acs) > 0 {
			out.PublicIP = acs[0].GetNatIP()
		}
	}
	out.State = State(in.GetStatus())
	return out
}

// State maps a GCE instance status to the provisioner's state.
func State(status string) provisioner.State {
	switch status {
	case "PROVISIONING", "STAGING", "REPAIRING":
		return provisioner.Pending
	case "RUNNING":
		return provisioner.Running
	case "STOPPING", "SUSPENDING":
		return provisioner.Stopping
	case "TERMINATED", "SUSPENDED", "STOPPED":
		return provisioner.Stopped
	default:
		return provisioner.Terminated
	}
}
