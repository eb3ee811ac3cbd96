package provider

import (
	"context"
	"errors"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/aerolithdb/aerolith/provisioner"
)

var rfc3339RE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)

func pathOf(name string) path.Path { return path.Root(name) }

// cloudInitDataSource is aerolith_cloud_init: the user data a node boots
// with, from the renderer every path uses (provisioner.UserData over
// provisioner/cloudinit), for HCL modules and Pulumi programs that launch
// VMs themselves.
type cloudInitDataSource struct{ dataSource }

func newCloudInitDataSource() datasource.DataSource { return &cloudInitDataSource{} }

type cloudInitModel struct {
	Cluster         types.String `tfsdk:"cluster"`
	Cloud           types.String `tfsdk:"cloud"`
	Region          types.String `tfsdk:"region"`
	NodeIndex       types.Int64  `tfsdk:"node_index"`
	NodeCount       types.Int64  `tfsdk:"node_count"`
	Initial         types.Bool   `tfsdk:"initial"`
	AgentURL        types.String `tfsdk:"agent_url"`
	AgentSHA256     types.String `tfsdk:"agent_sha256"`
	AdminKey        types.String `tfsdk:"admin_key"`
	BillingURL      types.String `tfsdk:"billing_url"`
	BillingCA       types.String `tfsdk:"billing_ca"`
	ClusterID       types.String `tfsdk:"billing_cluster_id"`
	EnrollmentToken types.String `tfsdk:"enrollment_token"`
	Discover        types.String `tfsdk:"discover"`
	InsecureHTTP    types.Bool   `tfsdk:"insecure_http"`
	NodeID          types.String `tfsdk:"node_id"`
	UserData        types.String `tfsdk:"user_data"`
}

func (d *cloudInitDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cloud_init"
}

func (d *cloudInitDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Renders the #cloud-config user data of one node, exactly as aerolith_cluster and `aerolith cluster create` boot theirs: " +
			"the agent downloaded from agent_url and checked against agent_sha256, its configuration, a systemd unit. " +
			"Managed nodes (billing_url with billing_cluster_id and enrollment_token) enroll and discover their peers through billing; unmanaged ones through discover.",
		Attributes: map[string]schema.Attribute{
			"cluster":            schema.StringAttribute{Required: true, Description: "The cluster name (as aerolith_cluster's name)."},
			"cloud":              schema.StringAttribute{Required: true, Description: "aws, gcp or azure."},
			"region":             schema.StringAttribute{Optional: true, Description: "The region (aws, azure) or zone (gcp) the node runs in, as the cluster's; the node's discovery looks there."},
			"node_index":         schema.Int64Attribute{Required: true, Description: "The node's number, 1..node_count."},
			"node_count":         schema.Int64Attribute{Required: true, Description: "1, 3, 5 or 7."},
			"initial":            schema.BoolAttribute{Optional: true, Description: "The node is one of a new cluster's first nodes (they bootstrap together; default true); false joins a running cluster."},
			"agent_url":          schema.StringAttribute{Required: true, Description: "URL of the aerolith binary the node downloads and runs (https:// or http://)."},
			"agent_sha256":       schema.StringAttribute{Required: true, Description: "SHA-256 of the binary at agent_url (64 hex digits); the node refuses a binary that does not match."},
			"admin_key":          schema.StringAttribute{Required: true, Sensitive: true, Description: "The cluster admin key (at least 16 characters)."},
			"billing_url":        schema.StringAttribute{Optional: true, Description: "Billing's URL: set, the node is managed (it enrolls with billing_cluster_id and enrollment_token)."},
			"billing_ca":         schema.StringAttribute{Optional: true, Description: "PEM bundle the node verifies billing with."},
			"billing_cluster_id": schema.StringAttribute{Optional: true, Description: "The id billing gave the cluster (aerolith_cluster's billing_cluster_id); with billing_url."},
			"enrollment_token":   schema.StringAttribute{Optional: true, Sensitive: true, Description: "The cluster's enrollment token, which the node trades with billing for its certificate; with billing_url."},
			"discover":           schema.StringAttribute{Optional: true, Description: "Discovery of an unmanaged cluster, e.g. provider=aws region=eu-west-1 tag_key=aerolith-cluster tag_value=NAME."},
			"insecure_http":      schema.BoolAttribute{Optional: true, Description: "Plain HTTP (explicit; unmanaged nodes have no other way to certificates)."},
			"node_id":            schema.StringAttribute{Computed: true, Description: "The node id: the cluster name, -n and node_index (shop-n2)."},
			"user_data":          schema.StringAttribute{Computed: true, Sensitive: true, Description: "The #cloud-config document (holds the admin key)."},
		},
	}
}

func (d *cloudInitDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m cloudInitModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := provisioner.ClusterSpec{Name: m.Cluster.ValueString(), Cloud: provisioner.Cloud(m.Cloud.ValueString()), Region: m.Region.ValueString(),
		Nodes: int(m.NodeCount.ValueInt64()), Agent: provisioner.Artifact{URL: m.AgentURL.ValueString(), SHA256: m.AgentSHA256.ValueString()}}
	if m.BillingURL.ValueString() != "" {
		spec.Managed = &provisioner.Managed{BillingURL: m.BillingURL.ValueString(), ClusterID: m.ClusterID.ValueString(),
			EnrollmentToken: m.EnrollmentToken.ValueString(), BillingCA: m.BillingCA.ValueString()}
	}
	spec.Defaults()
	if err := spec.Validate(); err != nil {
		var fe *provisioner.FieldError
		if errors.As(err, &fe) {
			resp.Diagnostics.AddAttributeError(specAttr(fe.Field), "Invalid node", err.Error())
		} else {
			resp.Diagnostics.AddError("Invalid node", err.Error())
		}
		return
	}
	idx := int(m.NodeIndex.ValueInt64())
	if idx < 1 || idx > spec.Nodes {
		resp.Diagnostics.AddAttributeError(path.Root("node_index"), "Invalid node", "node_index: want 1 to node_count")
		return
	}
	b := provisioner.Boot{AdminKey: m.AdminKey.ValueString(), Discover: m.Discover.ValueString(), InsecureHTTP: m.InsecureHTTP.ValueBool()}
	if err := provisioner.CheckBoot(&spec, b); err != nil {
		resp.Diagnostics.AddError("Invalid node", err.Error())
		return
	}
	nodeID := provisioner.NodeID(spec.Name, idx)
	initial := m.Initial.IsNull() || m.Initial.ValueBool()
	ud, err := provisioner.UserData(b)(&spec, nodeID, initial)
	if err != nil {
		resp.Diagnostics.AddError("Cannot render the user data", err.Error())
		return
	}
	m.NodeID = types.StringValue(nodeID)
	m.UserData = types.StringValue(string(ud))
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
