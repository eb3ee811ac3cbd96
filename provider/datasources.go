package provider

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/provisioner"
)

// dataSource is what every data source shares: the configured clients.
type dataSource struct{ c *clients }

func (d *dataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.c = providerClients(req.ProviderData, &resp.Diagnostics)
}

func (d *dataSource) billing(diags interface{ AddError(string, string) }) *billingclient.Client {
	if d.c == nil {
		diags.AddError("Provider not configured", "the provider block is not configured yet")
		return nil
	}
	bc, err := d.c.needBilling()
	if err != nil {
		diags.AddError("No billing service", err.Error())
	}
	return bc
}

// ---- aerolith_pricing_tiers ----

type pricingTiersDataSource struct{ dataSource }

func newPricingTiersDataSource() datasource.DataSource { return &pricingTiersDataSource{} }

var tierType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name": types.StringType, "display_name": types.StringType, "base_price_micros": types.Int64Type,
	"storage_bytes": types.Int64Type, "api_calls_per_day": types.Int64Type, "requests_per_second": types.Int64Type,
	"concurrent_connections": types.Int64Type, "retention_days": types.Int64Type,
}}

// tierDocs describes each field of tierType.
var tierDocs = map[string]string{
	"name":                   "The tier's name (a tenant's tier).",
	"display_name":           "The tier's name for people.",
	"base_price_micros":      "Monthly base price in micro-dollars.",
	"storage_bytes":          "Storage limit in bytes.",
	"api_calls_per_day":      "API calls allowed per day.",
	"requests_per_second":    "Requests allowed per second.",
	"concurrent_connections": "Concurrent connections allowed.",
	"retention_days":         "Days data is retained.",
}

// tierAttributes is tierType as nested attributes, so that each field
// carries its description into the docs and the Pulumi SDKs.
func tierAttributes() map[string]schema.Attribute {
	attrs := map[string]schema.Attribute{}
	for name, t := range tierType.AttrTypes {
		if t == types.StringType {
			attrs[name] = schema.StringAttribute{Computed: true, Description: tierDocs[name]}
		} else {
			attrs[name] = schema.Int64Attribute{Computed: true, Description: tierDocs[name]}
		}
	}
	return attrs
}

// dataNodeAttributes is nodeType as nested attributes.
func dataNodeAttributes() map[string]schema.Attribute {
	attrs := map[string]schema.Attribute{}
	for name := range nodeType.AttrTypes {
		attrs[name] = schema.StringAttribute{Computed: true, Description: nodeDocs[name]}
	}
	return attrs
}

func (d *pricingTiersDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_pricing_tiers"
}

func (d *pricingTiersDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "The pricing tiers billing offers (GET /api/v1/payment/pricing), in catalog order. Money is integers: micro-dollars per month.",
		Attributes: map[string]schema.Attribute{
			"names": schema.ListAttribute{Computed: true, ElementType: types.StringType, Description: "Tier names, in catalog order."},
			"tiers": schema.ListNestedAttribute{Computed: true, NestedObject: schema.NestedAttributeObject{Attributes: tierAttributes()},
				Description: "Each tier: name, display_name, base_price_micros and its limits."},
		},
	}
}

func (d *pricingTiersDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	bc := d.billing(&resp.Diagnostics)
	if bc == nil {
		return
	}
	cat, err := bc.Pricing(ctx)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the pricing tiers", err.Error())
		return
	}
	var tiers []attr.Value
	for _, t := range cat.Tiers {
		o, dg := types.ObjectValue(tierType.AttrTypes, map[string]attr.Value{
			"name": types.StringValue(t.Name), "display_name": types.StringValue(t.DisplayName), "base_price_micros": types.Int64Value(int64(t.BasePrice)),
			"storage_bytes": types.Int64Value(t.Limits.StorageBytes), "api_calls_per_day": types.Int64Value(t.Limits.APICallsPerDay),
			"requests_per_second": types.Int64Value(t.Limits.RequestsPerSecond), "concurrent_connections": types.Int64Value(t.Limits.ConcurrentConnections),
			"retention_days": types.Int64Value(t.Limits.RetentionDays),
		})
		resp.Diagnostics.Append(dg...)
		tiers = append(tiers, o)
	}
	l, dg := types.ListValue(tierType, tiers)
	resp.Diagnostics.Append(dg...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, pathOf("tiers"), l)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, pathOf("names"), stringList(ctx, cat.Names(), &resp.Diagnostics))...)
}

// ---- aerolith_tenant ----

type tenantDataSource struct{ dataSource }

func newTenantDataSource() datasource.DataSource { return &tenantDataSource{} }

type tenantDataModel struct {
	ID           types.String `tfsdk:"id"`
	Organization types.String `tfsdk:"organization"`
	Name         types.String `tfsdk:"name"`
	Tier         types.String `tfsdk:"tier"`
	Email        types.String `tfsdk:"email"`
	Status       types.String `tfsdk:"status"`
	CreditCents  types.Int64  `tfsdk:"credit_cents"`
}

func (d *tenantDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenant"
}

func (d *tenantDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A billing tenant by id (a customer's tenant key reads its own).",
		Attributes: map[string]schema.Attribute{
			"id":           schema.StringAttribute{Required: true, Description: "The tenant id."},
			"organization": schema.StringAttribute{Computed: true, Description: "The customer's organization (on invoices)."},
			"name":         schema.StringAttribute{Computed: true, Description: "The tenant's name."},
			"tier":         schema.StringAttribute{Computed: true, Description: "The tenant's pricing tier."},
			"email":        schema.StringAttribute{Computed: true, Description: "Billing contact address."},
			"status":       schema.StringAttribute{Computed: true, Description: "active, suspended or deleted."},
			"credit_cents": schema.Int64Attribute{Computed: true, Description: "Credit balance in cents, applied to the next invoice."},
		},
	}
}

func (d *tenantDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m tenantDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	bc := d.billing(&resp.Diagnostics)
	if bc == nil || resp.Diagnostics.HasError() {
		return
	}
	t, err := bc.GetTenant(ctx, m.ID.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Cannot read tenant "+m.ID.ValueString(), err.Error())
		return
	}
	m = tenantDataModel{ID: types.StringValue(t.ID), Organization: types.StringValue(t.Organization), Name: types.StringValue(t.Name),
		Tier: types.StringValue(t.Tier), Email: types.StringValue(t.Email), Status: types.StringValue(string(t.Status)), CreditCents: types.Int64Value(t.CreditCents)}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// ---- aerolith_tenant_usage ----

type tenantUsageDataSource struct{ dataSource }

func newTenantUsageDataSource() datasource.DataSource { return &tenantUsageDataSource{} }

type usageModel struct {
	TenantID           types.String `tfsdk:"tenant_id"`
	From               types.String `tfsdk:"from"`
	To                 types.String `tfsdk:"to"`
	Reads              types.Int64  `tfsdk:"reads"`
	Writes             types.Int64  `tfsdk:"writes"`
	Queries            types.Int64  `tfsdk:"queries"`
	IngressBytes       types.Int64  `tfsdk:"ingress_bytes"`
	EgressBytes        types.Int64  `tfsdk:"egress_bytes"`
	StorageByteSeconds types.Int64  `tfsdk:"storage_byte_seconds"`
}

func (d *tenantUsageDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenant_usage"
}

func (d *tenantUsageDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	rfc3339 := []validator.String{stringvalidator.RegexMatches(rfc3339RE, "must be an RFC 3339 time such as 2026-01-01T00:00:00Z")}
	resp.Schema = schema.Schema{
		Description: "A tenant's metered usage over [from, to) as billing recorded it (GET /api/v1/tenants/{id}/usage).",
		Attributes: map[string]schema.Attribute{
			"tenant_id":            schema.StringAttribute{Required: true, Description: "The tenant id."},
			"from":                 schema.StringAttribute{Optional: true, Validators: rfc3339, Description: "Start (RFC 3339); default billing's (the current period)."},
			"to":                   schema.StringAttribute{Optional: true, Validators: rfc3339, Description: "End (RFC 3339); default now."},
			"reads":                schema.Int64Attribute{Computed: true, Description: "Read requests metered."},
			"writes":               schema.Int64Attribute{Computed: true, Description: "Write requests metered."},
			"queries":              schema.Int64Attribute{Computed: true, Description: "Queries metered."},
			"ingress_bytes":        schema.Int64Attribute{Computed: true, Description: "Bytes received by the cluster's data API."},
			"egress_bytes":         schema.Int64Attribute{Computed: true, Description: "Bytes sent by the cluster's data API."},
			"storage_byte_seconds": schema.Int64Attribute{Computed: true, Description: "Stored bytes integrated over time (byte-seconds)."},
		},
	}
}

func (d *tenantUsageDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m usageModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	bc := d.billing(&resp.Diagnostics)
	if bc == nil || resp.Diagnostics.HasError() {
		return
	}
	var q billingclient.UsageQuery
	q.From, _ = time.Parse(time.RFC3339, m.From.ValueString())
	q.To, _ = time.Parse(time.RFC3339, m.To.ValueString())
	s, err := bc.Usage(ctx, m.TenantID.ValueString(), q)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the usage of "+m.TenantID.ValueString(), err.Error())
		return
	}
	t := s.Total
	m.Reads, m.Writes, m.Queries = types.Int64Value(int64(t.Reads)), types.Int64Value(int64(t.Writes)), types.Int64Value(int64(t.Queries))
	m.IngressBytes, m.EgressBytes, m.StorageByteSeconds = types.Int64Value(int64(t.IngressBytes)), types.Int64Value(int64(t.EgressBytes)), types.Int64Value(int64(t.StorageByteSeconds))
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// ---- aerolith_cluster ----

type clusterDataSource struct{ dataSource }

func newClusterDataSource() datasource.DataSource { return &clusterDataSource{} }

type clusterDataModel struct {
	Name             types.String `tfsdk:"name"`
	Cloud            types.String `tfsdk:"cloud"`
	NodeCount        types.Int64  `tfsdk:"node_count"`
	Endpoints        types.List   `tfsdk:"endpoints"`
	CACertificate    types.String `tfsdk:"ca_certificate"`
	BillingClusterID types.String `tfsdk:"billing_cluster_id"`
	ResourceGroup    types.String `tfsdk:"resource_group"`
	Nodes            types.List   `tfsdk:"nodes"`
}

func (d *clusterDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster"
}

func (d *clusterDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A cluster in the provider's state directory (made by aerolith_cluster or `aerolith cluster create`) as its cloud reports it now.",
		Attributes: map[string]schema.Attribute{
			"name":               schema.StringAttribute{Required: true, Description: "The cluster name (a cluster in the provider's state_dir)."},
			"cloud":              schema.StringAttribute{Computed: true, Description: "local, aws, gcp or azure."},
			"node_count":         schema.Int64Attribute{Computed: true, Description: "The configured number of nodes."},
			"endpoints":          schema.ListAttribute{Computed: true, ElementType: types.StringType, Description: "Data API URLs of the running nodes."},
			"ca_certificate":     schema.StringAttribute{Computed: true, Description: "PEM CA certificate that verifies the nodes (null with insecure_http)."},
			"billing_cluster_id": schema.StringAttribute{Computed: true, Description: "The id billing gave the cluster (null for a cluster without tenants)."},
			"resource_group":     schema.StringAttribute{Computed: true, Description: "azure: the resource group the cluster's resources are in (a given one, or its own aerolith-NAME); null for other clouds."},
			"nodes": schema.ListNestedAttribute{Computed: true, NestedObject: schema.NestedAttributeObject{Attributes: dataNodeAttributes()},
				Description: "The nodes as the cloud reports them now."},
		},
	}
}

func (d *clusterDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m clusterDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || d.c == nil {
		return
	}
	rec, sec, err := d.c.load(m.Name.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Cannot read cluster", err.Error())
		return
	}
	env, err := d.c.env(ctx, rec, sec, nil)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read cluster", err.Error())
		return
	}
	st, err := env.Prov.Read(ctx, &rec.Spec)
	if err != nil && !errors.Is(err, provisioner.ErrNotFound) {
		resp.Diagnostics.AddError("Cannot read cluster", err.Error())
		return
	}
	eps, err := env.Endpoints(ctx, "")
	if err != nil {
		resp.Diagnostics.AddError("Cannot read cluster", err.Error())
		return
	}
	var full clusterModel
	full.fill(ctx, env, st, eps, &resp.Diagnostics)
	m = clusterDataModel{Name: full.Name, Cloud: full.Cloud, NodeCount: full.NodeCount, Endpoints: full.Endpoints,
		CACertificate: full.CACertificate, BillingClusterID: full.BillingClusterID, ResourceGroup: full.ResourceGroup, Nodes: full.Nodes}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
