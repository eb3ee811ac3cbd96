package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
	"github.com/aerolithdb/aerolith/provisioner/local"
)

// clusterResource is aerolith_cluster: a cluster of nodes on local
// processes or a cloud, made through provisioner/deployment exactly as
// `aerolith cluster create` makes it (the same state directory layout, so
// the CLI shows, scales and destroys it too).
type clusterResource struct{ c *clients }

var (
	_ resource.ResourceWithImportState = (*clusterResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*clusterResource)(nil)
	_ resource.ResourceWithConfigure   = (*clusterResource)(nil)
)

func newClusterResource() resource.Resource { return &clusterResource{} }

// Default operation timeouts (the timeouts block overrides them).
const (
	defaultCreateTimeout = 20 * time.Minute
	defaultUpdateTimeout = 20 * time.Minute
	defaultDeleteTimeout = 10 * time.Minute
)

func (r *clusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster"
}

func (r *clusterResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	immutable := " Cannot change once the cluster exists: a change is refused at plan time (never a silent replacement of a cluster holding data)."
	resp.Schema = schema.Schema{
		Description: "An Aerolith cluster: node_count nodes running the agent on local processes or a cloud's VMs, formed into one raft cluster. " +
			"node_count and tenant_ids change in place (nodes join, or leave raft before their VM goes); every other argument is fixed at creation and a change is refused at plan time. " +
			"Read detects drift: a node whose VM was terminated outside Terraform shows as a node_count change that apply repairs; a cluster deleted outside Terraform leaves the state with a warning. " +
			"With tenant_ids the cluster is registered in billing and its nodes enroll (certificates, policies, metering). " +
			"Import with the cluster name; the cluster's working files (admin key, CA) must be in the provider's state_dir, as `aerolith cluster create` or this provider left them.",
		Attributes: map[string]schema.Attribute{
			"id":    schema.StringAttribute{Computed: true, Description: "The cluster name.", PlanModifiers: keep},
			"name":  schema.StringAttribute{Required: true, Description: "3-40 lowercase letters, digits and '-', starting with a letter; every resource of the cluster is named and tagged after it." + immutable},
			"cloud": schema.StringAttribute{Required: true, Description: "local, aws, gcp or azure." + immutable},
			"region": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: keep,
				Description: "Region (aws, azure) or the zone's region (gcp); default the provider block's. Not used by local." + immutable},
			"zone": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: keep,
				Description: "Zone (gcp, default the region's zone b, such as europe-west1-b), availability zone (aws, optional) or 1-3 (azure)." + immutable},
			"node_count": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(3),
				Description: "Voting members: 1, 3, 5 or 7 (odd, so a majority survives failures). Changes in place."},
			"instance_type": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: keep,
				Description: "EC2 instance type (default t3.medium), GCE machine type (e2-standard-2) or Azure VM size (Standard_D2s_v5). Not used by local." + immutable},
			"disk_gb": schema.Int64Attribute{Optional: true, Computed: true, PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
				Description: "Data disk per node, 10-16384 GiB (default 20). Not used by local." + immutable},
			"image": schema.StringAttribute{Optional: true, Description: "Machine image (aws: an AMI id)." + immutable},
			"agent_url": schema.StringAttribute{Required: true,
				Description: "URL of the aerolith binary the nodes download and run (https://, http:// or file://; local clusters: a file:// URL, whose binary also runs the local instances)." + immutable},
			"agent_sha256": schema.StringAttribute{Required: true, Description: "SHA-256 of the binary at agent_url (64 hex digits); a node refuses a binary that does not match." + immutable},
			"allowed_cidrs": schema.ListAttribute{Optional: true, ElementType: types.StringType,
				Description: "CIDRs that may reach the data API (raft is only ever open between the cluster's nodes). Omit for none." + immutable},
			"tenant_ids": schema.SetAttribute{Optional: true, ElementType: types.StringType,
				Description: "Billing tenants the cluster serves; set, the cluster is registered in billing and its nodes enroll. Changes in place (agents follow without a restart); a cluster made without tenant_ids cannot gain them later, nor lose them all."},
			"tags": schema.MapAttribute{Optional: true, ElementType: types.StringType,
				Description: "Tags (labels on gcp) put on every resource: keys and values of lowercase letters, digits, '_' and '-'." + immutable},
			"resource_group": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: keep,
				Description: "azure: an existing resource group to create the cluster's resources in (1-90 letters, digits and the characters `_-.()`, not ending in `.`), such as one whose policies and RBAC its owner governs; default the resource_group of the provider's azure block. " +
					"The group must exist and is never deleted with the cluster; several clusters may share it. Unset (here and in the provider block), the cluster gets a group of its own, aerolith-NAME, created with it and deleted on destroy. " +
					"Shows the group the cluster is in either way (null for other clouds); a cluster made with `aerolith cluster create --resource-group` imports with its group. " +
					"ARM compares group names without case, so the same name in another case is an in-place change of this attribute alone." + immutable},
			"insecure_http": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				Description: "Nodes serve plain HTTP (an explicit choice for throwaway clusters). Otherwise local clusters get certificates from a CA of their own, cloud clusters from billing's cluster CA through enrollment." + immutable},
			"delete_protection": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				Description: "While true (the default), destroy is refused: set it to false and apply first."},
			"endpoints": schema.ListAttribute{Computed: true, ElementType: types.StringType, PlanModifiers: []planmodifier.List{listplanmodifier.UseStateForUnknown()},
				Description: "Data API URLs of the running nodes."},
			"ca_certificate": schema.StringAttribute{Computed: true, PlanModifiers: keep, Description: "PEM CA certificate that verifies the nodes (null with insecure_http)."},
			"admin_key": schema.StringAttribute{Computed: true, Sensitive: true, PlanModifiers: keep,
				Description: "The cluster admin key (generated at creation; kept in the state as a sensitive value and in the state directory's secrets file)."},
			"billing_cluster_id": schema.StringAttribute{Computed: true, PlanModifiers: keep, Description: "The id billing gave the cluster (with tenant_ids)."},
			"nodes": schema.ListNestedAttribute{Computed: true, NestedObject: schema.NestedAttributeObject{Attributes: nodeAttributes()}, PlanModifiers: []planmodifier.List{listplanmodifier.UseStateForUnknown()},
				Description: "The nodes as the cloud reports them: node_id, instance_id, address, state."},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeoutsBlock(ctx),
		},
	}
}

// timeoutsBlock is the library's timeouts block with a description of
// its own (it has none; the docs and the Pulumi SDKs show one).
func timeoutsBlock(ctx context.Context) schema.Block {
	b := timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true})
	if nb, ok := b.(schema.SingleNestedBlock); ok {
		short := func(d time.Duration) string { return strings.TrimSuffix(d.String(), "0s") }
		nb.Description = fmt.Sprintf("How long create, update and delete may take, as durations such as 30m (defaults %s, %s and %s).",
			short(defaultCreateTimeout), short(defaultUpdateTimeout), short(defaultDeleteTimeout))
		return nb
	}
	return b
}

// nodeAttributes is nodeType as nested attributes, so that each field
// carries its description into the docs and the Pulumi SDKs.
func nodeAttributes() map[string]schema.Attribute {
	attrs := map[string]schema.Attribute{}
	for name := range nodeType.AttrTypes {
		attrs[name] = schema.StringAttribute{Computed: true, Description: nodeDocs[name]}
	}
	return attrs
}

func (r *clusterResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = providerClients(req.ProviderData, &resp.Diagnostics)
}

// progress logs the provisioner's events (TF_LOG=INFO shows them).
func progress(ctx context.Context) func(provisioner.Event) {
	return func(e provisioner.Event) {
		tflog.Info(ctx, "aerolith: "+e.Action, map[string]any{"node": e.NodeID, "message": e.Message})
	}
}

func report(ctx context.Context) func(string) {
	return func(s string) { tflog.Info(ctx, "aerolith: "+s) }
}

func (r *clusterResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	timeout, d := m.Timeouts.Create(ctx, defaultCreateTimeout)
	resp.Diagnostics.Append(d...)
	spec := m.spec(ctx, r.c, &resp.Diagnostics)
	tenants := stringsOf(ctx, m.TenantIDs, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var cfg clusterModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	group := ""
	if spec.Cloud == provisioner.Azure {
		// The plan shows aerolith-<name> for a group of the cluster's
		// own; the record keeps "" for it, so destroy deletes that group
		// and never a given one.
		group = r.c.givenGroup(cfg.ResourceGroup)
		if group == "" && !m.ResourceGroup.IsUnknown() && m.ResourceGroup.ValueString() != ownGroup(spec.Name) {
			group = m.ResourceGroup.ValueString()
		}
	}
	create := deployment.Create{Record: r.c.record(spec, m.InsecureHTTP.ValueBool(), group)}
	if len(tenants) > 0 {
		bc, err := r.c.needBilling()
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("tenant_ids"), "Cannot register the cluster", err.Error())
			return
		}
		create.Billing = bc
		create.Registration = deployment.Registration{BillingURL: r.c.billingURL, BillingCA: r.c.billingCA, Tenants: tenants}
	}
	unlock, err := r.c.lock(ctx, spec.Name)
	if err != nil {
		resp.Diagnostics.AddError("Cannot create cluster", err.Error())
		return
	}
	defer unlock()
	// A create that was interrupted (terraform killed, the provider
	// crashed) left its record: Begin resumes it, never a second cluster.
	env, resumed, err := r.c.store.Begin(ctx, create, func(rec *deployment.Record, sec *deployment.Secrets) (*deployment.Env, error) {
		return r.c.env(ctx, rec, sec, progress(ctx))
	})
	if err != nil {
		err = r.c.explainTenantKey(ctx, err, "tenant_ids")
		resp.Diagnostics.AddError("Cannot create cluster "+spec.Name, err.Error())
		return
	}
	if resumed {
		tflog.Info(ctx, "aerolith: resuming the creation of "+spec.Name)
	}
	st, err := env.Converge(ctx, report(ctx))
	if errors.Is(err, local.ErrCrashLoop) {
		// Resuming keeps the recorded settings: apply again would crash
		// again. The cluster is not in the Terraform state yet.
		resp.Diagnostics.AddError("Cluster "+spec.Name+" not formed", fmt.Sprintf("%v; its nodes keep restarting the agent: fix the setting, remove the cluster with aerolith cluster destroy %s --state-dir %s --yes (with --billing-key if it is registered in billing), then apply again", err, spec.Name, r.c.store.Dir))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cluster "+spec.Name+" not formed", err.Error()+"; apply again to resume (nothing is launched twice)")
		return
	}
	r.finish(ctx, env, st, &m, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// finish fills m after an apply.
func (r *clusterResource) finish(ctx context.Context, env *deployment.Env, st *provisioner.Status, m *clusterModel, diags *diag.Diagnostics) {
	eps, err := env.Endpoints(ctx, "")
	if err != nil {
		diags.AddError("Cannot list the endpoints", err.Error())
		return
	}
	m.fill(ctx, env, st, eps, diags)
}

func (r *clusterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := m.ID.ValueString()
	rec, sec, err := r.c.load(name)
	if errors.Is(err, errNoRecord) && !m.Cloud.IsNull() {
		// No working files (destroyed with the CLI, or another state_dir):
		// ask the cloud with what the state knows. Nothing there is a
		// cluster deleted outside Terraform; something there is an error.
		spec := m.spec(ctx, r.c, &resp.Diagnostics)
		rec := r.c.record(spec, m.InsecureHTTP.ValueBool(), m.ResourceGroup.ValueString())
		env, eerr := r.c.env(ctx, &rec, &deployment.Secrets{AdminKey: m.AdminKey.ValueString()}, nil)
		if eerr == nil {
			if _, rerr := env.Prov.Read(ctx, &spec); errors.Is(rerr, provisioner.ErrNotFound) {
				resp.Diagnostics.AddWarning("Cluster gone", fmt.Sprintf("cluster %s has no instance left in %s and no files in %s: it was deleted outside Terraform and is removed from the state", name, spec.Cloud, r.c.store.ClustersDir()))
				resp.State.RemoveResource(ctx)
				return
			}
		}
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read cluster "+name, err.Error())
		return
	}
	env, err := r.c.env(ctx, rec, sec, nil)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read cluster "+name, err.Error())
		return
	}
	st, err := env.Prov.Read(ctx, &rec.Spec)
	if errors.Is(err, provisioner.ErrNotFound) {
		resp.Diagnostics.AddWarning("Cluster gone",
			fmt.Sprintf("cluster %s has no instance left in %s: it was deleted outside Terraform and is removed from the state (its record stays in %s until destroyed)", name, rec.Spec.Cloud, r.c.store.ClustersDir()))
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read cluster "+name, err.Error())
		return
	}
	eps, err := env.Endpoints(ctx, "")
	if err != nil {
		resp.Diagnostics.AddError("Cannot read cluster "+name, err.Error())
		return
	}
	if mg := rec.Spec.Managed; mg != nil && r.c.billing != nil {
		// The tenants as billing has them: a change made with `aerolith
		// cluster tenants` shows as a diff.
		if ct, err := r.c.billing.ListClusterTenants(ctx, mg.ClusterID); err == nil {
			rec.Tenants = ct.Tenants
		} else if !billingclient.IsPermissionDenied(err) || r.c.tenantKey(ctx) != "" {
			err = r.c.explainTenantKey(ctx, err, "cluster "+name+" is not registered to this key's tenant")
			resp.Diagnostics.AddError("Cannot read the tenants of cluster "+name, err.Error())
			return
		}
	}
	prior := m.ResourceGroup
	m.fill(ctx, env, st, eps, &resp.Diagnostics)
	if sameGroup(prior, m.ResourceGroup) {
		m.ResourceGroup = prior // the configuration's spelling of the same group
	}
	// Drift: the node count is what the cloud runs, so a node whose VM
	// went shows as a change back to the configured count, which apply
	// makes by relaunching it.
	live := 0
	for _, in := range st.Nodes {
		if _, ok := provisioner.NodeIndex(name, in.NodeID); ok {
			live++
		}
	}
	if live != rec.Spec.Nodes {
		m.NodeCount = types.Int64Value(int64(live))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *clusterResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	timeout, d := plan.Timeouts.Update(ctx, defaultUpdateTimeout)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := state.ID.ValueString()
	unlock, err := r.c.lock(ctx, name)
	if err != nil {
		resp.Diagnostics.AddError("Cannot update cluster", err.Error())
		return
	}
	defer unlock()
	rec, sec, err := r.c.load(name)
	if err != nil {
		resp.Diagnostics.AddError("Cannot update cluster "+name, err.Error())
		return
	}
	if mg := rec.Spec.Managed; mg != nil {
		want := stringsOf(ctx, plan.TenantIDs, &resp.Diagnostics)
		if err := r.syncTenants(ctx, mg.ClusterID, want); err != nil {
			err = r.c.explainTenantKey(ctx, err, "tenant_ids")
			resp.Diagnostics.AddAttributeError(path.Root("tenant_ids"), "Cannot change the tenants of "+name, err.Error())
			return
		}
		rec.Tenants = want
	}
	// Saved first: an update interrupted and rerun, or `aerolith cluster
	// show` in between, works towards the new size.
	rec.Spec.Nodes = int(plan.NodeCount.ValueInt64())
	if err := r.c.store.Save(rec, sec); err != nil {
		resp.Diagnostics.AddError("Cannot update cluster "+name, err.Error())
		return
	}
	env, err := r.c.env(ctx, rec, sec, progress(ctx))
	if err != nil {
		resp.Diagnostics.AddError("Cannot update cluster "+name, err.Error())
		return
	}
	st, err := env.Converge(ctx, report(ctx))
	if err != nil {
		resp.Diagnostics.AddError("Cluster "+name+" not converged", err.Error()+"; apply again to resume")
		return
	}
	plan.ID = state.ID
	planned := plan.ResourceGroup
	r.finish(ctx, env, st, &plan, &resp.Diagnostics)
	if sameGroup(planned, plan.ResourceGroup) {
		plan.ResourceGroup = planned // the configuration's spelling
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// syncTenants makes billing's tenants of the cluster want: additions
// first, so the cluster never serves none.
func (r *clusterResource) syncTenants(ctx context.Context, clusterID string, want []string) error {
	bc, err := r.c.needBilling()
	if err != nil {
		return err
	}
	have, err := bc.ListClusterTenants(ctx, clusterID)
	if err != nil {
		return err
	}
	for _, t := range want {
		if !slices.Contains(have.Tenants, t) {
			if _, err := bc.AddClusterTenant(ctx, clusterID, t); err != nil {
				return fmt.Errorf("add tenant %s: %w", t, err)
			}
		}
	}
	for _, t := range have.Tenants {
		if !slices.Contains(want, t) {
			// The tenant's data stays on the cluster, refused to its keys.
			if _, err := bc.RemoveClusterTenant(ctx, clusterID, t, true); err != nil {
				return fmt.Errorf("remove tenant %s: %w", t, err)
			}
		}
	}
	return nil
}

func (r *clusterResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	timeout, d := m.Timeouts.Delete(ctx, defaultDeleteTimeout)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := m.ID.ValueString()
	if m.DeleteProtection.ValueBool() {
		resp.Diagnostics.AddError("Cluster is delete-protected",
			fmt.Sprintf("cluster %s has delete_protection = true (the default): set delete_protection = false and apply, then destroy it; destroying deletes every node and its data", name))
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	unlock, err := r.c.lock(ctx, name)
	if err != nil {
		resp.Diagnostics.AddError("Cannot destroy cluster", err.Error())
		return
	}
	defer unlock()
	rec, sec, err := r.c.load(name)
	if errors.Is(err, errNoRecord) {
		resp.Diagnostics.AddWarning("Cluster already gone", err.Error())
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot destroy cluster "+name, err.Error())
		return
	}
	env, err := r.c.env(ctx, rec, sec, progress(ctx))
	if err != nil {
		resp.Diagnostics.AddError("Cannot destroy cluster "+name, err.Error())
		return
	}
	if err := env.Prov.Destroy(ctx, &rec.Spec); err != nil {
		resp.Diagnostics.AddError("Cannot destroy cluster "+name, err.Error()+"; destroy again to resume")
		return
	}
	if mg := rec.Spec.Managed; mg != nil {
		// After the nodes: none of them sends usage once the token stops.
		bc, err := r.c.needBilling()
		if err == nil {
			err = bc.DeregisterCluster(ctx, mg.ClusterID)
		}
		if err != nil && !billingclient.IsNotFound(err) {
			resp.Diagnostics.AddError("Cannot deregister cluster "+name, fmt.Sprintf("deregister %s from billing: %v; the nodes are gone, destroy again to retry", mg.ClusterID, err))
			return
		}
	}
	if err := r.c.store.Remove(name); err != nil {
		resp.Diagnostics.AddError("Cannot remove the files of cluster "+name, err.Error())
	}
}

func (r *clusterResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}
