package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
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

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
)

// tenantResource is aerolith_tenant: a billing tenant. Every field changes
// in place; a tier change is prorated by billing from the moment it
// applies. Tenants are created only with the billing admin key.
type tenantResource struct{ c *clients }

var (
	_ resource.ResourceWithImportState = (*tenantResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*tenantResource)(nil)
	_ resource.ResourceWithConfigure   = (*tenantResource)(nil)
)

func newTenantResource() resource.Resource { return &tenantResource{} }

type tenantModel struct {
	ID               types.String `tfsdk:"id"`
	Organization     types.String `tfsdk:"organization"`
	Name             types.String `tfsdk:"name"`
	Tier             types.String `tfsdk:"tier"`
	Email            types.String `tfsdk:"email"`
	Status           types.String `tfsdk:"status"`
	DeleteProtection types.Bool   `tfsdk:"delete_protection"`
}

var (
	tierNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	emailRE    = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
)

func (r *tenantResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenant"
}

func (r *tenantResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	nonEmpty := []validator.String{stringvalidator.LengthBetween(1, 200)}
	resp.Schema = schema.Schema{
		Description: "A billing tenant: the customer whose usage is metered and invoiced. Created only with the billing admin key. " +
			"Every attribute changes in place; a tier change is prorated by billing. Import with the tenant id.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "The tenant id billing assigned.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"organization": schema.StringAttribute{Required: true, Description: "The customer's organization (on invoices).", Validators: nonEmpty},
			"name":         schema.StringAttribute{Required: true, Description: "The tenant's name.", Validators: nonEmpty},
			"tier": schema.StringAttribute{Required: true, Description: "Pricing tier: one of billing's tiers (see the aerolith_pricing_tiers data source; by default free, starter, professional, enterprise). Changes in place, prorated.",
				Validators: []validator.String{stringvalidator.RegexMatches(tierNameRE, "must be a tier name: lowercase letters, digits, '_' or '-', starting with a letter (by default free, starter, professional or enterprise)")}},
			"email": schema.StringAttribute{Required: true, Description: "Billing contact address.",
				Validators: []validator.String{stringvalidator.RegexMatches(emailRE, "must be an email address such as ops@example.com")}},
			"status": schema.StringAttribute{Computed: true, Description: "active or suspended (billing suspends a tenant whose invoices are past due)."},
			"delete_protection": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				Description: "When true, destroy is refused. Deleting a tenant is a soft delete: its invoices are kept and a final invoice covers the period up to the deletion."},
		},
	}
}

func (r *tenantResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = providerClients(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan checks the tier against billing's catalog at plan time, so a
// misspelt tier names the allowed ones before anything changes.
func (r *tenantResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.c == nil || r.c.billing == nil {
		return
	}
	var tier types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("tier"), &tier)...)
	if tier.IsUnknown() || tier.IsNull() {
		return
	}
	cat, err := r.c.billing.Pricing(ctx)
	if err != nil {
		resp.Diagnostics.AddWarning("Tier not checked", "billing's pricing catalog could not be read: "+err.Error())
		return
	}
	if names := cat.Names(); !slices.Contains(names, tier.ValueString()) {
		resp.Diagnostics.AddAttributeError(path.Root("tier"), "Unknown tier",
			fmt.Sprintf("tier %q is not one of billing's tiers; want one of %s", tier.ValueString(), strings.Join(names, ", ")))
	}
}

func (r *tenantResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m tenantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	bc, err := r.c.needBilling()
	if err != nil {
		resp.Diagnostics.AddError("Cannot create tenant", err.Error())
		return
	}
	if resp.Diagnostics.HasError() {
		return
	}
	t, err := bc.CreateTenant(ctx, billingclient.TenantRequest{Organization: m.Organization.ValueString(), Name: m.Name.ValueString(), Tier: m.Tier.ValueString(), Email: m.Email.ValueString()})
	if err != nil && billingclient.IsPermissionDenied(err) {
		if tenant := r.c.tenantKey(ctx); tenant != "" {
			err = fmt.Errorf("creating a tenant needs billing's admin key: billing_key is a tenant key of tenant %s, which manages only its own tenant and clusters (%w)", tenant, err)
		}
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot create tenant", err.Error())
		return
	}
	m.fill(t)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (m *tenantModel) fill(t contract.Tenant) {
	m.ID = types.StringValue(t.ID)
	m.Organization = types.StringValue(t.Organization)
	m.Name = types.StringValue(t.Name)
	m.Tier = types.StringValue(t.Tier)
	m.Email = types.StringValue(t.Email)
	m.Status = types.StringValue(string(t.Status))
	if m.DeleteProtection.IsNull() || m.DeleteProtection.IsUnknown() {
		m.DeleteProtection = types.BoolValue(false)
	}
}

func (r *tenantResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m tenantModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	bc, err := r.c.needBilling()
	if err != nil {
		resp.Diagnostics.AddError("Cannot read tenant", err.Error())
		return
	}
	if resp.Diagnostics.HasError() {
		return
	}
	t, err := bc.GetTenant(ctx, m.ID.ValueString())
	if billingclient.IsNotFound(err) || err == nil && t.Status == contract.StatusDeleted {
		resp.Diagnostics.AddWarning("Tenant gone", fmt.Sprintf("tenant %s was deleted outside Terraform; it is removed from the state", m.ID.ValueString()))
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read tenant", err.Error())
		return
	}
	m.fill(t)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *tenantResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state tenantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	bc, err := r.c.needBilling()
	if err != nil {
		resp.Diagnostics.AddError("Cannot update tenant", err.Error())
		return
	}
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	var p billingclient.TenantPatch
	set := func(dst **string, a, b types.String) {
		if !a.Equal(b) {
			v := a.ValueString()
			*dst = &v
		}
	}
	set(&p.Organization, plan.Organization, state.Organization)
	set(&p.Name, plan.Name, state.Name)
	set(&p.Email, plan.Email, state.Email)
	t, err := bc.GetTenant(ctx, id)
	if p != (billingclient.TenantPatch{}) {
		t, err = bc.UpdateTenant(ctx, id, p)
	}
	if err == nil && !plan.Tier.Equal(state.Tier) {
		t, _, err = bc.ChangeTier(ctx, id, plan.Tier.ValueString())
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot update tenant "+id, err.Error())
		return
	}
	plan.ID = state.ID
	plan.fill(t)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *tenantResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m tenantModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.DeleteProtection.ValueBool() {
		resp.Diagnostics.AddError("Tenant is delete-protected",
			fmt.Sprintf("tenant %s has delete_protection = true: set it to false and apply before destroying it", m.ID.ValueString()))
		return
	}
	bc, err := r.c.needBilling()
	if err != nil {
		resp.Diagnostics.AddError("Cannot delete tenant", err.Error())
		return
	}
	if _, err := bc.DeleteTenant(ctx, m.ID.ValueString()); err != nil && !billingclient.IsNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete tenant "+m.ID.ValueString(), err.Error())
	}
}

func (r *tenantResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}
