package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/aerolithdb/aerolith/agent/client"
)

// indexResource is aerolith_index: a secondary index on a field of a
// tenant's collection. An index holds no data of its own (it is rebuilt
// from the documents), so a change replaces it.
type indexResource struct{ c *clients }

var (
	_ resource.ResourceWithImportState = (*indexResource)(nil)
	_ resource.ResourceWithConfigure   = (*indexResource)(nil)
)

func newIndexResource() resource.Resource { return &indexResource{} }

type indexModel struct {
	ID         types.String `tfsdk:"id"`
	Cluster    types.String `tfsdk:"cluster"`
	Tenant     types.String `tfsdk:"tenant"`
	Collection types.String `tfsdk:"collection"`
	Field      types.String `tfsdk:"field"`
}

func (r *indexResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_index"
}

func (r *indexResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "An index on a field (a dot path) of a tenant's collection, built from the documents already there (creating it creates the collection). " +
			"The provider reaches the tenant's data with an admin key of the tenant it makes for itself once with the cluster admin key and keeps in the state directory's secrets. " +
			"Import with <cluster>/<tenant>/<collection>/<field> (<cluster>/<collection>/<field> for an unmanaged cluster's default tenant).",
		Attributes: map[string]schema.Attribute{
			"id":      schema.StringAttribute{Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}, Description: "<cluster>/<collection>/<field>."},
			"cluster": schema.StringAttribute{Required: true, PlanModifiers: replace, Description: "The cluster (an aerolith_cluster's id)."},
			"tenant":  schema.StringAttribute{Optional: true, PlanModifiers: replace, Description: "The tenant whose collection it is (a managed cluster: one of its tenant_ids); unset: an unmanaged cluster's default tenant."},
			"collection": schema.StringAttribute{Required: true, PlanModifiers: replace, Description: "The collection.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 128), stringvalidator.NoneOf(".", "..")}},
			"field": schema.StringAttribute{Required: true, PlanModifiers: replace, Description: "The indexed field, a dot path such as address.city.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 256)}},
		},
	}
}

func (r *indexResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = providerClients(req.ProviderData, &resp.Diagnostics)
}

func (r *indexResource) client(ctx context.Context, m *indexModel) (*client.Client, error) {
	return r.c.tenantClient(ctx, m.Cluster.ValueString(), m.Tenant.ValueString())
}

func (r *indexResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m indexModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, err := r.client(ctx, &m)
	if err == nil {
		err = c.CreateIndex(ctx, m.Collection.ValueString(), m.Field.ValueString())
	}
	if client.IsConflict(err) {
		err = fmt.Errorf("%w (import it: terraform import <address> %s)", err, indexID(&m))
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot create index", err.Error())
		return
	}
	m.ID = types.StringValue(indexID(&m))
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *indexResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m indexModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, err := r.client(ctx, &m)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read index", err.Error())
		return
	}
	fields, err := c.Indexes(ctx, m.Collection.ValueString())
	if err != nil && !client.IsNotFound(err) {
		resp.Diagnostics.AddError("Cannot read index", err.Error())
		return
	}
	if !slices.Contains(fields, m.Field.ValueString()) {
		resp.Diagnostics.AddWarning("Index gone", fmt.Sprintf("the index on %s of collection %s was dropped outside Terraform; it is removed from the state", m.Field.ValueString(), m.Collection.ValueString()))
		resp.State.RemoveResource(ctx)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *indexResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m indexModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *indexResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m indexModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, err := r.client(ctx, &m)
	if err == nil {
		err = c.DropIndex(ctx, m.Collection.ValueString(), m.Field.ValueString())
	}
	if err != nil && !client.IsNotFound(err) {
		resp.Diagnostics.AddError("Cannot drop index", err.Error())
	}
}

func indexID(m *indexModel) string {
	parts := []string{m.Cluster.ValueString(), m.Tenant.ValueString(), m.Collection.ValueString(), m.Field.ValueString()}
	if parts[1] == "" {
		parts = slices.Delete(parts, 1, 2)
	}
	return strings.Join(parts, "/")
}

// parseIndexID splits an import id: <cluster>/<tenant>/<collection>/<field>,
// or <cluster>/<collection>/<field> for an unmanaged cluster's default
// tenant (tenant ""). A field may hold '/' only in the four-part form.
func parseIndexID(id string) (cluster, tenant, collection, field string, err error) {
	parts := strings.SplitN(id, "/", 4)
	if len(parts) == 3 {
		parts = []string{parts[0], "", parts[1], parts[2]}
	}
	if len(parts) != 4 || parts[0] == "" || parts[2] == "" || parts[3] == "" || (parts[1] == "" && strings.Count(id, "/") != 2) {
		return "", "", "", "", fmt.Errorf("%q: want <cluster>/<tenant>/<collection>/<field> (or <cluster>/<collection>/<field> for the default tenant)", id)
	}
	return parts[0], parts[1], parts[2], parts[3], nil
}

func (r *indexResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	cluster, tenant, coll, field, err := parseIndexID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Bad import id", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("cluster"), cluster)...)
	if tenant != "" {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("tenant"), tenant)...)
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("collection"), coll)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("field"), field)...)
}
