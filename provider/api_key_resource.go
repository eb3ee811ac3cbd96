package provider

import (
	"context"
	"fmt"
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

// apiKeyResource is aerolith_api_key: a tenant API key of a cluster. The
// secret is returned once, at creation: it is kept in the state as a
// sensitive value and never refreshed. A key cannot change: any change
// replaces it (a new secret), which loses no data.
type apiKeyResource struct{ c *clients }

var (
	_ resource.ResourceWithImportState = (*apiKeyResource)(nil)
	_ resource.ResourceWithConfigure   = (*apiKeyResource)(nil)
)

func newAPIKeyResource() resource.Resource { return &apiKeyResource{} }

type apiKeyModel struct {
	ID        types.String `tfsdk:"id"`
	Cluster   types.String `tfsdk:"cluster"`
	Tenant    types.String `tfsdk:"tenant"`
	Role      types.String `tfsdk:"role"`
	Name      types.String `tfsdk:"name"`
	Secret    types.String `tfsdk:"secret"`
	CreatedAt types.String `tfsdk:"created_at"`
}

func (r *apiKeyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_key"
}

func (r *apiKeyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Description: "A tenant API key of a cluster, made with the cluster's admin key. The secret is shown once: it is computed, sensitive and never refreshed. " +
			"Any change makes a new key. Import with <cluster>/<tenant>/<key id>; an imported key has no secret (it is not recoverable).",
		Attributes: map[string]schema.Attribute{
			"id":      schema.StringAttribute{Computed: true, PlanModifiers: keep, Description: "The key id."},
			"cluster": schema.StringAttribute{Required: true, PlanModifiers: replace, Description: "The cluster (an aerolith_cluster's id)."},
			"tenant": schema.StringAttribute{Required: true, PlanModifiers: replace, Description: "The tenant whose data the key reaches (a managed cluster: one of its tenant_ids).",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 128)}},
			"role": schema.StringAttribute{Required: true, PlanModifiers: replace, Description: "read, readwrite or admin.",
				Validators: []validator.String{stringvalidator.OneOf("read", "readwrite", "admin")}},
			"name":       schema.StringAttribute{Optional: true, PlanModifiers: replace, Description: "A label for the key."},
			"secret":     schema.StringAttribute{Computed: true, Sensitive: true, PlanModifiers: keep, Description: "The key itself (Authorization: Bearer …), known only at creation."},
			"created_at": schema.StringAttribute{Computed: true, PlanModifiers: keep, Description: "When the key was made (RFC 3339)."},
		},
	}
}

func (r *apiKeyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = providerClients(req.ProviderData, &resp.Diagnostics)
}

func (m *apiKeyModel) fill(k *client.APIKey) {
	m.ID = types.StringValue(k.ID)
	m.Tenant = types.StringValue(k.Tenant)
	m.Role = types.StringValue(k.Role)
	m.Name = optString(k.Name)
	m.CreatedAt = types.StringValue(k.CreatedAt.UTC().Format("2006-01-02T15:04:05Z07:00"))
}

func (r *apiKeyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m apiKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, err := r.c.adminClient(ctx, m.Cluster.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Cannot create API key", err.Error())
		return
	}
	k, err := c.CreateKey(ctx, m.Tenant.ValueString(), m.Role.ValueString(), m.Name.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Cannot create API key", err.Error())
		return
	}
	m.fill(k)
	m.Secret = types.StringValue(k.Key)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *apiKeyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m apiKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, err := r.c.adminClient(ctx, m.Cluster.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Cannot read API key", err.Error())
		return
	}
	keys, err := c.Keys(ctx, m.Tenant.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Cannot read API key", err.Error())
		return
	}
	for _, k := range keys {
		if k.ID == m.ID.ValueString() && !k.Revoked {
			m.fill(&k) // the secret stays as created: it is never served again
			resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
			return
		}
	}
	resp.Diagnostics.AddWarning("API key gone", fmt.Sprintf("key %s of tenant %s was revoked or deleted outside Terraform; it is removed from the state", m.ID.ValueString(), m.Tenant.ValueString()))
	resp.State.RemoveResource(ctx)
}

func (r *apiKeyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	// Every argument replaces the key; nothing updates in place.
	var m apiKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *apiKeyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m apiKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, err := r.c.adminClient(ctx, m.Cluster.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Cannot revoke API key", err.Error())
		return
	}
	if _, err := c.RevokeKey(ctx, m.ID.ValueString()); err != nil && !client.IsNotFound(err) {
		resp.Diagnostics.AddError("Cannot revoke API key "+m.ID.ValueString(), err.Error())
	}
}

// parseKeyID splits an import id <cluster>/<tenant>/<key id>.
func parseKeyID(id string) (cluster, tenant, key string, err error) {
	parts := strings.Split(id, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", fmt.Errorf("%q: want <cluster>/<tenant>/<key id>", id)
	}
	return parts[0], parts[1], parts[2], nil
}

func (r *apiKeyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	cluster, tenant, key, err := parseKeyID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Bad import id", err.Error())
		return
	}
	for a, v := range map[string]string{"cluster": cluster, "tenant": tenant, "id": key} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(a), v)...)
	}
}
