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
	Key        types.String `tfsdk:"key"`
	Collection types.String `tfsdk:"collection"`
	Field      types.String `tfsdk:"field"`
}

func (r *indexResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_index"
}

func (r *indexResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "An index on a field (a dot path) of a collection, built from the documents already there (creating it creates the collection). " +
			"The collection is the key's tenant's: an aerolith_api_key with role admin, or, without key, the cluster admin key's default tenant. " +
			"Import with <cluster>/<collection>/<field> (the default tenant's; set key in the configuration for another tenant's).",
		Attributes: map[string]schema.Attribute{
			"id":      schema.StringAttribute{Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}, Description: "<cluster>/<collection>/<field>."},
			"cluster": schema.StringAttribute{Required: true, PlanModifiers: replace, Description: "The cluster (an aerolith_cluster's id)."},
			"key":     schema.StringAttribute{Optional: true, Sensitive: true, PlanModifiers: replace, Description: "A tenant admin key (aerolith_api_key.secret); default the cluster admin key."},
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
	return r.c.clusterClient(ctx, m.Cluster.ValueString(), m.Key.ValueString())
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
		err = fmt.Errorf("%w (import it: terraform import <address> %s/%s/%s)", err, m.Cluster.ValueString(), m.Collection.ValueString(), m.Field.ValueString())
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot create index", err.Error())
		return
	}
	m.ID = types.StringValue(m.Cluster.ValueString() + "/" + m.Collection.ValueString() + "/" + m.Field.ValueString())
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

func (r *indexResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	cluster, rest, ok1 := strings.Cut(req.ID, "/")
	coll, field, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || cluster == "" || coll == "" || field == "" {
		resp.Diagnostics.AddError("Bad import id", fmt.Sprintf("%q: want <cluster>/<collection>/<field>", req.ID))
		return
	}
	for a, v := range map[string]string{"id": req.ID, "cluster": cluster, "collection": coll, "field": field} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(a), v)...)
	}
}
