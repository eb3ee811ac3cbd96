package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/aerolithdb/aerolith/agent/client"
)

// collectionResource is aerolith_collection: a tenant's collection, created
// empty. It bears data (the documents written to it), so destroying it
// drops them and delete_protection defaults to true.
type collectionResource struct{ c *clients }

var (
	_ resource.ResourceWithImportState = (*collectionResource)(nil)
	_ resource.ResourceWithConfigure   = (*collectionResource)(nil)
)

var noSlash = regexp.MustCompile(`^[^/]*$`)

func newCollectionResource() resource.Resource { return &collectionResource{} }

type collectionModel struct {
	ID               types.String `tfsdk:"id"`
	Cluster          types.String `tfsdk:"cluster"`
	Tenant           types.String `tfsdk:"tenant"`
	Name             types.String `tfsdk:"name"`
	DeleteProtection types.Bool   `tfsdk:"delete_protection"`
}

func (r *collectionResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_collection"
}

func (r *collectionResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "A tenant's collection, created empty (it counts against the tenant's max_collections quota from then on). " +
			"Destroying it drops the collection with every document and index in it, so delete_protection defaults to true: set it to false and apply before destroying. " +
			"Creating a collection that already exists fails and names the import command: the provider never adopts data it did not create. " +
			"Import with <cluster>/<tenant>/<name> (<cluster>/<name> for an unmanaged cluster's default tenant).",
		Attributes: map[string]schema.Attribute{
			"id":      schema.StringAttribute{Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}, Description: "<cluster>/<tenant>/<name> (<cluster>/<name> for the default tenant)."},
			"cluster": schema.StringAttribute{Required: true, PlanModifiers: replace, Description: "The cluster (an aerolith_cluster's id)."},
			"tenant":  schema.StringAttribute{Optional: true, PlanModifiers: replace, Description: "The tenant whose collection it is (a managed cluster: one of its tenant_ids); unset: an unmanaged cluster's default tenant."},
			"name": schema.StringAttribute{Required: true, PlanModifiers: replace, Description: "The collection's name.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 128), stringvalidator.NoneOf(".", ".."), stringvalidator.RegexMatches(noSlash, "must not contain '/'")}},
			"delete_protection": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				Description: "Refuse to destroy the collection (which drops its documents) while true (the default)."},
		},
	}
}

func (r *collectionResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = providerClients(req.ProviderData, &resp.Diagnostics)
}

func (r *collectionResource) client(ctx context.Context, m *collectionModel) (*client.Client, error) {
	return r.c.tenantClient(ctx, m.Cluster.ValueString(), m.Tenant.ValueString())
}

func (r *collectionResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m collectionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, err := r.client(ctx, &m)
	created := false
	if err == nil {
		created, err = c.CreateCollection(ctx, m.Name.ValueString())
	}
	if err == nil && !created {
		err = fmt.Errorf("collection %s already exists: import it to manage it (terraform import <address> %s)", m.Name.ValueString(), collectionID(&m))
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot create collection", err.Error())
		return
	}
	m.ID = types.StringValue(collectionID(&m))
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *collectionResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m collectionModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, err := r.client(ctx, &m)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read collection", err.Error())
		return
	}
	colls, err := c.Collections(ctx)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read collection", err.Error())
		return
	}
	found := false
	for _, ci := range colls {
		found = found || ci.Name == m.Name.ValueString()
	}
	if !found {
		resp.Diagnostics.AddWarning("Collection gone", fmt.Sprintf("collection %s was dropped outside Terraform; it is removed from the state", m.Name.ValueString()))
		resp.State.RemoveResource(ctx)
		return
	}
	if m.DeleteProtection.IsNull() || m.DeleteProtection.IsUnknown() {
		m.DeleteProtection = types.BoolValue(true) // an import: the default
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Update changes only delete_protection (everything else replaces).
func (r *collectionResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m collectionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *collectionResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m collectionModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.DeleteProtection.ValueBool() {
		resp.Diagnostics.AddError("Collection is delete-protected",
			fmt.Sprintf("collection %s has delete_protection = true (the default): set delete_protection = false and apply, then destroy it; destroying drops every document and index in it", m.Name.ValueString()))
		return
	}
	c, err := r.client(ctx, &m)
	if err == nil {
		err = c.DropCollection(ctx, m.Name.ValueString())
	}
	if err != nil && !client.IsNotFound(err) {
		resp.Diagnostics.AddError("Cannot drop collection", err.Error())
	}
}

func collectionID(m *collectionModel) string {
	if m.Tenant.ValueString() == "" {
		return m.Cluster.ValueString() + "/" + m.Name.ValueString()
	}
	return m.Cluster.ValueString() + "/" + m.Tenant.ValueString() + "/" + m.Name.ValueString()
}

// parseCollectionID splits an import id: <cluster>/<tenant>/<name>, or
// <cluster>/<name> for an unmanaged cluster's default tenant.
func parseCollectionID(id string) (cluster, tenant, name string, err error) {
	parts := strings.Split(id, "/")
	if len(parts) == 2 {
		parts = []string{parts[0], "", parts[1]}
	}
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" || (parts[1] == "" && strings.Count(id, "/") != 1) {
		return "", "", "", fmt.Errorf("%q: want <cluster>/<tenant>/<name> (or <cluster>/<name> for the default tenant)", id)
	}
	return parts[0], parts[1], parts[2], nil
}

func (r *collectionResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	cluster, tenant, name, err := parseCollectionID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Bad import id", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("cluster"), cluster)...)
	if tenant != "" {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("tenant"), tenant)...)
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}
