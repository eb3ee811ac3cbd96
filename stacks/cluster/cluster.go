// Package cluster is the Pulumi component aerolith:index:Cluster: an
// Aerolith cluster made of a cloud's own resources (security group or
// firewall, instances) by the cloud's Pulumi provider, for programs that
// keep their VMs in their own stack rather than in aerolith_cluster. It
// takes the same spec as aerolith_cluster (provisioner.ClusterSpec) and
// renders each node's user data with the same renderer
// (provisioner.UserData over provisioner/cloudinit), so a node boots the
// same agent with the same configuration whichever tool made it.
//
// A cloud is a Builder (package stacks/cluster/aws, …); this package
// knows none of them, so a program links only its own cloud's SDK.
//
// The component's token aerolith:index:Cluster is not the bridged
// resource's (aerolith:index/cluster:Cluster), so both can live in one
// stack.
package cluster

import (
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aerolithdb/aerolith/provisioner"
)

// Type is the component's type token.
const Type = "aerolith:index:Cluster"

// Ports every cloud opens: the data API to the allowed CIDRs (and the
// members), raft only between the members.
const (
	APIPort  = 7070
	RaftPort = 7071
)

// Args are the component's inputs: the spec aerolith_cluster takes and
// the secrets the nodes boot with.
type Args struct {
	Spec provisioner.ClusterSpec
	// AdminKey is the cluster admin key (config.RequireSecret): it stays
	// a secret in the user data and the state.
	AdminKey pulumi.StringInput
	// EnrollmentToken, with Spec.Managed set, is the token billing issued
	// for the cluster (a secret); Spec.Managed.EnrollmentToken is ignored.
	EnrollmentToken pulumi.StringInput
	// InsecureHTTP runs the nodes without TLS (throwaway clusters only).
	InsecureHTTP bool
}

// Builder makes one cloud's resources of a cluster as children of parent.
type Builder interface {
	// Discover is the agent's --discover value on this cloud ("" for
	// managed clusters, which discover through billing).
	Discover(spec *provisioner.ClusterSpec) string
	// Build makes the network rules and one instance per node; userData(i)
	// is the user data of node i (1-based), a secret output.
	Build(ctx *pulumi.Context, parent pulumi.Resource, spec *provisioner.ClusterSpec, userData func(i int) pulumi.StringOutput) ([]Node, error)
}

// Node is one instance as a Builder made it.
type Node struct {
	ID        string
	PublicIP  pulumi.StringOutput
	PrivateIP pulumi.StringOutput
}

// Cluster is the component.
type Cluster struct {
	pulumi.ResourceState

	// Endpoints are the data API URLs, one per node.
	Endpoints pulumi.StringArrayOutput `pulumi:"endpoints"`
	// NodeAddresses are the nodes' private addresses.
	NodeAddresses pulumi.StringArrayOutput `pulumi:"nodeAddresses"`
	// NodeIDs are the agents' node ids, in order.
	NodeIDs pulumi.StringArrayOutput `pulumi:"nodeIds"`
}

// New makes the cluster args describe with b.
func New(ctx *pulumi.Context, name string, args *Args, b Builder, opts ...pulumi.ResourceOption) (*Cluster, error) {
	if args == nil || args.AdminKey == nil {
		return nil, fmt.Errorf("cluster %s: AdminKey is required", name)
	}
	spec := args.Spec
	// The token is a secret output, known only at apply: the spec is
	// validated with a stand-in for it, the user data rendered with it.
	check := spec
	if spec.Managed != nil {
		m := *spec.Managed
		m.EnrollmentToken = "enrollment-token-from-args"
		check.Managed = &m
	}
	if err := check.Validate(); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	if spec.Managed != nil && args.EnrollmentToken == nil {
		return nil, fmt.Errorf("cluster %s: a managed cluster needs EnrollmentToken", name)
	}
	c := &Cluster{}
	if err := ctx.RegisterComponentResource(Type, name, c, opts...); err != nil {
		return nil, err
	}
	token := args.EnrollmentToken
	if token == nil {
		token = pulumi.String("")
	}
	discover := ""
	if spec.Managed == nil {
		discover = b.Discover(&spec)
	}
	userData := func(i int) pulumi.StringOutput {
		return pulumi.ToSecret(pulumi.All(args.AdminKey, token).ApplyT(func(v []any) (string, error) {
			ud, err := UserData(spec, provisioner.Boot{AdminKey: v[0].(string), Discover: discover, InsecureHTTP: args.InsecureHTTP}, v[1].(string), i)
			return string(ud), err
		})).(pulumi.StringOutput)
	}
	nodes, err := b.Build(ctx, c, &spec, userData)
	if err != nil {
		return nil, err
	}
	scheme := "https"
	if args.InsecureHTTP {
		scheme = "http"
	}
	var endpoints, private pulumi.StringArray
	var ids []string
	for _, n := range nodes {
		endpoints = append(endpoints, pulumi.Sprintf("%s://%s:%d", scheme, n.PublicIP, APIPort))
		private = append(private, n.PrivateIP)
		ids = append(ids, n.ID)
	}
	c.Endpoints = endpoints.ToStringArrayOutput()
	c.NodeAddresses = private.ToStringArrayOutput()
	c.NodeIDs = pulumi.ToStringArray(ids).ToStringArrayOutput()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"endpoints":     c.Endpoints,
		"nodeAddresses": c.NodeAddresses,
		"nodeIds":       c.NodeIDs,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// UserData is node i's (1-based) user data for spec: what the
// provisioner's drivers render for the same spec and boot settings.
// token is the enrollment token of a managed cluster.
func UserData(spec provisioner.ClusterSpec, boot provisioner.Boot, token string, i int) ([]byte, error) {
	if spec.Managed != nil {
		m := *spec.Managed
		m.EnrollmentToken = token
		spec.Managed = &m
	}
	if err := provisioner.CheckBoot(&spec, boot); err != nil {
		return nil, err
	}
	return provisioner.UserData(boot)(&spec, provisioner.NodeID(spec.Name, i), true)
}

// Tags are the tags (labels on gcp) of a resource of spec's cluster; node
// is 0 for cluster-wide resources. Discovery finds nodes by them.
func Tags(spec *provisioner.ClusterSpec, node int) pulumi.StringMap {
	id := ""
	if node > 0 {
		id = provisioner.NodeID(spec.Name, node)
	}
	return pulumi.ToStringMap(provisioner.ResourceTags(spec, id))
}

// Itoa is strconv.Itoa, for resource names.
func Itoa(i int) string { return strconv.Itoa(i) }
