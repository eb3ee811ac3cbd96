package provider

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/azure"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
)

// clusterModel is aerolith_cluster's state.
type clusterModel struct {
	ID               types.String   `tfsdk:"id"`
	Name             types.String   `tfsdk:"name"`
	Cloud            types.String   `tfsdk:"cloud"`
	Region           types.String   `tfsdk:"region"`
	Zone             types.String   `tfsdk:"zone"`
	NodeCount        types.Int64    `tfsdk:"node_count"`
	InstanceType     types.String   `tfsdk:"instance_type"`
	DiskGB           types.Int64    `tfsdk:"disk_gb"`
	Image            types.String   `tfsdk:"image"`
	AgentURL         types.String   `tfsdk:"agent_url"`
	AgentSHA256      types.String   `tfsdk:"agent_sha256"`
	AllowedCIDRs     types.List     `tfsdk:"allowed_cidrs"`
	TenantIDs        types.Set      `tfsdk:"tenant_ids"`
	Tags             types.Map      `tfsdk:"tags"`
	ResourceGroup    types.String   `tfsdk:"resource_group"`
	InsecureHTTP     types.Bool     `tfsdk:"insecure_http"`
	DeleteProtection types.Bool     `tfsdk:"delete_protection"`
	Endpoints        types.List     `tfsdk:"endpoints"`
	CACertificate    types.String   `tfsdk:"ca_certificate"`
	AdminKey         types.String   `tfsdk:"admin_key"`
	BillingClusterID types.String   `tfsdk:"billing_cluster_id"`
	Nodes            types.List     `tfsdk:"nodes"`
	Timeouts         timeouts.Value `tfsdk:"timeouts"`
}

var nodeType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"node_id": types.StringType, "instance_id": types.StringType, "address": types.StringType, "state": types.StringType,
}}

// nodeDocs describes each field of nodeType (every field is a string).
var nodeDocs = map[string]string{
	"node_id":     "The node id: the cluster name, -n and the node's number (shop-n2).",
	"instance_id": "The id the cloud gave the node's VM (or, local, its process).",
	"address":     "The node's public IP address, else its private one.",
	"state":       "pending, running, stopping, stopped or terminated (the same words on every cloud).",
}

// optString is "" as null: the spec's empty fields are unset attributes.
func optString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

func optInt(n int) types.Int64 {
	if n == 0 {
		return types.Int64Null()
	}
	return types.Int64Value(int64(n))
}

// spec is the ClusterSpec of m (values known), with the provider's
// defaults (aws.region) and the spec's own applied.
func (m *clusterModel) spec(ctx context.Context, c *clients, diags *diag.Diagnostics) provisioner.ClusterSpec {
	s := provisioner.ClusterSpec{
		Name: m.Name.ValueString(), Cloud: provisioner.Cloud(m.Cloud.ValueString()),
		Region: m.Region.ValueString(), Zone: m.Zone.ValueString(), Nodes: int(m.NodeCount.ValueInt64()),
		InstanceType: m.InstanceType.ValueString(), DiskGB: int(m.DiskGB.ValueInt64()), Image: m.Image.ValueString(),
		Agent:        provisioner.Artifact{URL: m.AgentURL.ValueString(), SHA256: m.AgentSHA256.ValueString()},
		AllowedCIDRs: stringsOf(ctx, m.AllowedCIDRs, diags),
		Tags:         stringMap(ctx, m.Tags, diags),
	}
	if c != nil {
		switch s.Cloud {
		case provisioner.AWS:
			if s.Region == "" {
				s.Region = c.aws.Region.ValueString()
			}
		case provisioner.GCP:
			if s.Zone == "" {
				s.Zone = c.gcp.Zone.ValueString()
			}
		case provisioner.Azure:
			if s.Region == "" {
				s.Region = c.azure.Location.ValueString()
			}
		}
	}
	s.Defaults()
	return s
}

// endpoint is the cloud API endpoint override the provider block sets.
func (c *clients) endpoint(cloud provisioner.Cloud) string {
	switch cloud {
	case provisioner.AWS:
		return c.aws.Endpoint.ValueString()
	case provisioner.GCP:
		return c.gcp.Endpoint.ValueString()
	case provisioner.Azure:
		return c.azure.Endpoint.ValueString()
	}
	return ""
}

// record is a new cluster's record: the spec and the provider block's
// settings of its cloud (endpoint override, gcp project, azure
// subscription, else AZURE_SUBSCRIPTION_ID), and for azure the existing
// resource group given ("": a group of the cluster's own).
func (c *clients) record(spec provisioner.ClusterSpec, insecureHTTP bool, group string) deployment.Record {
	rec := deployment.Record{Spec: spec, Endpoint: c.endpoint(spec.Cloud), InsecureHTTP: insecureHTTP}
	switch spec.Cloud {
	case provisioner.GCP:
		rec.Project = c.gcp.Project.ValueString()
	case provisioner.Azure:
		sub := c.azure.SubscriptionID.ValueString()
		if sub == "" {
			sub = os.Getenv(azure.EnvSubscription)
		}
		rec.Azure = &deployment.AzureSettings{Subscription: sub, ResourceGroup: group}
	}
	return rec
}

// ownGroup is the resource group an azure cluster given none makes for
// itself (and deletes with itself).
func ownGroup(cluster string) string { return "aerolith-" + cluster }

// givenGroup is the existing resource group a new azure cluster goes
// into: the resource's resource_group, else the provider block's; ""
// when neither is set (a group of its own).
func (c *clients) givenGroup(cfg types.String) string {
	if !cfg.IsNull() && !cfg.IsUnknown() {
		return cfg.ValueString()
	}
	if c != nil {
		return c.azure.ResourceGroup.ValueString()
	}
	return ""
}

// localBinary is the aerolith binary a local cluster's instances run: the
// agent itself (agent_url must be a file:// URL for the local cloud).
func localBinary(agentURL string) (string, error) {
	u, err := url.Parse(agentURL)
	if err != nil || u.Scheme != "file" || u.Path == "" {
		return "", fmt.Errorf("%q: the local cloud runs its nodes with the aerolith binary on this machine: agent_url must be a file:// URL of it", agentURL)
	}
	return u.Path, nil
}

// env builds the deployment environment of rec.
func (c *clients) env(ctx context.Context, rec *deployment.Record, sec *deployment.Secrets, onEvent func(provisioner.Event)) (*deployment.Env, error) {
	cfg := deployment.Config{Store: c.store, Record: rec, Secrets: sec, OnEvent: onEvent, UserAgent: "terraform-provider-aerolith"}
	if rec.Spec.Cloud == provisioner.Local {
		bin, err := localBinary(rec.Spec.Agent.URL)
		if err != nil {
			return nil, err
		}
		cfg.LocalCommand = []string{bin, deployment.LocalInstanceCommand}
	}
	return deployment.New(ctx, cfg)
}

// errNoRecord is a cluster whose working files are not in the state dir.
var errNoRecord = errors.New("cluster not in the state directory")

// load finds name's record in the state directory.
func (c *clients) load(name string) (*deployment.Record, *deployment.Secrets, error) {
	rec, sec, err := c.store.Load(name)
	if errors.Is(err, deployment.ErrNoCluster) {
		return nil, nil, fmt.Errorf("%w: %s holds no cluster %q (its admin key, CA and, for local clusters, its instances are kept there; set the provider's state_dir to the directory that created it)", errNoRecord, c.store.ClustersDir(), name)
	}
	return rec, sec, err
}

// fill sets m from the record, secrets and the cloud's status (nil: no
// node information).
func (m *clusterModel) fill(ctx context.Context, env *deployment.Env, st *provisioner.Status, endpoints []string, diags *diag.Diagnostics) {
	rec, spec := env.Rec, env.Rec.Spec
	m.ID = types.StringValue(spec.Name)
	m.Name = types.StringValue(spec.Name)
	m.Cloud = types.StringValue(string(spec.Cloud))
	m.Region = optString(spec.Region)
	m.Zone = optString(spec.Zone)
	m.NodeCount = types.Int64Value(int64(spec.Nodes))
	m.InstanceType = optString(spec.InstanceType)
	m.DiskGB = optInt(spec.DiskGB)
	m.Image = optString(spec.Image)
	m.AgentURL = types.StringValue(spec.Agent.URL)
	m.AgentSHA256 = types.StringValue(spec.Agent.SHA256)
	m.AllowedCIDRs = types.ListNull(types.StringType)
	if len(spec.AllowedCIDRs) > 0 {
		m.AllowedCIDRs = stringList(ctx, spec.AllowedCIDRs, diags)
	}
	m.TenantIDs = types.SetNull(types.StringType)
	m.BillingClusterID = types.StringNull()
	if spec.Managed != nil {
		m.TenantIDs = stringSet(ctx, rec.Tenants, diags)
		m.BillingClusterID = types.StringValue(spec.Managed.ClusterID)
	}
	m.Tags = types.MapNull(types.StringType)
	if len(spec.Tags) > 0 {
		t, d := types.MapValueFrom(ctx, types.StringType, spec.Tags)
		diags.Append(d...)
		m.Tags = t
	}
	// The group the cluster's Azure resources are in: the given one, or
	// its own (the record keeps "" for that, as the CLI does).
	m.ResourceGroup = types.StringNull()
	if spec.Cloud == provisioner.Azure {
		m.ResourceGroup = types.StringValue(ownGroup(spec.Name))
		if rec.Azure != nil && rec.Azure.ResourceGroup != "" {
			m.ResourceGroup = types.StringValue(rec.Azure.ResourceGroup)
		}
	}
	m.InsecureHTTP = types.BoolValue(rec.InsecureHTTP)
	if m.DeleteProtection.IsNull() || m.DeleteProtection.IsUnknown() {
		m.DeleteProtection = types.BoolValue(true)
	}
	m.AdminKey = types.StringValue(env.Sec.AdminKey)
	m.CACertificate = types.StringNull()
	if rec.CAFile != "" && !rec.InsecureHTTP {
		b, err := os.ReadFile(rec.CAFile)
		if err != nil {
			diags.AddError("Cannot read the cluster CA", err.Error())
		}
		m.CACertificate = types.StringValue(string(b))
	}
	m.Endpoints = stringList(ctx, endpoints, diags)
	var nodes []attr.Value
	if st != nil {
		sorted := append([]provisioner.Instance(nil), st.Nodes...)
		sort.SliceStable(sorted, func(i, j int) bool {
			a, _ := provisioner.NodeIndex(spec.Name, sorted[i].NodeID)
			b, _ := provisioner.NodeIndex(spec.Name, sorted[j].NodeID)
			return a < b
		})
		for _, in := range sorted {
			addr := in.PrivateIP
			if in.PublicIP != "" {
				addr = in.PublicIP
			}
			o, d := types.ObjectValue(nodeType.AttrTypes, map[string]attr.Value{
				"node_id": types.StringValue(in.NodeID), "instance_id": types.StringValue(in.ID),
				"address": types.StringValue(addr), "state": types.StringValue(string(in.State)),
			})
			diags.Append(d...)
			nodes = append(nodes, o)
		}
	}
	l, d := types.ListValue(nodeType, nodes)
	diags.Append(d...)
	m.Nodes = l
}
