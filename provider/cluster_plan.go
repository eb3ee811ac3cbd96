package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/azure"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
)

// immutableAttrs are the cluster's arguments the provisioner cannot change
// on a running cluster: a change is refused at plan time, since replacing
// the cluster would delete its data.
var immutableAttrs = []string{"name", "cloud", "region", "zone", "instance_type", "disk_gb", "image", "agent_url", "agent_sha256", "allowed_cidrs", "tags", "insecure_http"}

// specAttr maps a provisioner.FieldError's field to the attribute.
func specAttr(field string) path.Path {
	switch {
	case field == "nodes":
		return path.Root("node_count")
	case field == "agent.url":
		return path.Root("agent_url")
	case field == "agent.sha256":
		return path.Root("agent_sha256")
	case strings.HasPrefix(field, "allowed_cidrs"):
		return path.Root("allowed_cidrs")
	case strings.HasPrefix(field, "managed"):
		return path.Root("tenant_ids")
	}
	return path.Root(field)
}

// ModifyPlan validates everything about the cluster at plan time (with
// provisioner.ClusterSpec.Validate's messages), refuses changes the
// cluster cannot make in place, plans the defaults of computed arguments
// and marks what an update will change.
func (r *clusterResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy: Delete checks delete_protection
	}
	var plan clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var state *clusterModel
	if !req.State.Raw.IsNull() {
		state = &clusterModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if c := plan.Cloud; !c.IsUnknown() && !deployment.Supported(provisioner.Cloud(c.ValueString())) && isCloud(c.ValueString()) {
		resp.Diagnostics.AddAttributeError(path.Root("cloud"), "Cloud not available yet", deployment.UnsupportedCloudError{Cloud: provisioner.Cloud(c.ValueString())}.Error())
		return
	}
	if state != nil {
		for _, a := range immutableAttrs {
			var was, will attr.Value
			resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root(a), &was)...)
			resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root(a), &will)...)
			if will == nil || will.IsUnknown() || was.Equal(will) {
				continue
			}
			resp.Diagnostics.AddAttributeError(path.Root(a), "Cannot change "+a+" of an existing cluster",
				fmt.Sprintf("%s of cluster %s cannot change (from %s to %s): the nodes cannot be changed in place and replacing the cluster would delete its data. "+
					"Revert the change, or, to start over, set delete_protection = false, apply, destroy the cluster and create it again.", a, state.ID.ValueString(), was, will))
		}
		// ARM's names are case-insensitive: the same group in another case
		// is an update of the attribute alone (sameGroup).
		if was, will := state.ResourceGroup, plan.ResourceGroup; !will.IsUnknown() && !was.IsNull() && !was.Equal(will) {
			if !sameGroup(was, will) {
				resp.Diagnostics.AddAttributeError(path.Root("resource_group"), "Cannot change resource_group of an existing cluster",
					fmt.Sprintf("resource_group of cluster %s cannot change (from %s to %s): its VMs, disks and network stay in the group they were made in, and replacing the cluster would delete its data. "+
						"Revert the change, or, to start over in the new group, set delete_protection = false, apply, destroy the cluster and create it again.", state.ID.ValueString(), was, will))
			}
		}
		wasManaged, willManaged := !state.TenantIDs.IsNull() && len(state.TenantIDs.Elements()) > 0, !plan.TenantIDs.IsNull()
		if !plan.TenantIDs.IsUnknown() && willManaged && len(plan.TenantIDs.Elements()) == 0 {
			willManaged = false
		}
		if !plan.TenantIDs.IsUnknown() && wasManaged != willManaged {
			resp.Diagnostics.AddAttributeError(path.Root("tenant_ids"), "Cannot change whether the cluster is managed",
				"a cluster made without tenant_ids runs unenrolled and cannot gain tenants, and a managed cluster must keep at least one tenant (its nodes enroll with billing at boot); change the tenants, not their presence")
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	// Computed arguments left unset are unknown in a new plan: unset for
	// the spec, which applies its defaults.
	var cfg clusterModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	eff := plan
	if eff.Region.IsUnknown() && cfg.Region.IsNull() {
		eff.Region = types.StringNull()
	}
	if eff.Zone.IsUnknown() && cfg.Zone.IsNull() {
		eff.Zone = types.StringNull()
	}
	if eff.InstanceType.IsUnknown() && cfg.InstanceType.IsNull() {
		eff.InstanceType = types.StringNull()
	}
	if eff.DiskGB.IsUnknown() && cfg.DiskGB.IsNull() {
		eff.DiskGB = types.Int64Null()
	}
	if g := plan.ResourceGroup; !g.IsUnknown() && !g.IsNull() {
		if c := plan.Cloud; !c.IsUnknown() && c.ValueString() != string(provisioner.Azure) {
			resp.Diagnostics.AddAttributeError(path.Root("resource_group"), "Invalid cluster",
				fmt.Sprintf("resource_group: the resource group of an azure cluster's resources, not used by the %s cloud; remove it", c.ValueString()))
		} else if err := azure.ValidateResourceGroup(g.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("resource_group"), "Invalid cluster", "resource_group: "+err.Error())
		}
	}
	if resp.Diagnostics.HasError() || !specKnown(&eff) {
		return
	}
	spec := eff.spec(ctx, r.c, &resp.Diagnostics)
	if !plan.TenantIDs.IsNull() && (plan.TenantIDs.IsUnknown() || len(plan.TenantIDs.Elements()) > 0) {
		if r.c != nil && r.c.billing == nil {
			resp.Diagnostics.AddAttributeError(path.Root("tenant_ids"), "No billing service", "tenant_ids registers the cluster in billing: set billing_url and billing_key in the provider block (or "+EnvBillingURL+" and "+EnvBillingKey+")")
			return
		}
		url := "https://billing.invalid"
		if r.c != nil {
			url = r.c.billingURL
		}
		// Validated with placeholders; the real id and token come from billing.
		spec.Managed = &provisioner.Managed{BillingURL: url, ClusterID: "pending", EnrollmentToken: "pending"}
	}
	if err := spec.Validate(); err != nil {
		var fe *provisioner.FieldError
		if errors.As(err, &fe) {
			resp.Diagnostics.AddAttributeError(specAttr(fe.Field), "Invalid cluster", err.Error())
		} else {
			resp.Diagnostics.AddError("Invalid cluster", err.Error())
		}
		return
	}
	if spec.Cloud == provisioner.Local {
		if _, err := localBinary(spec.Agent.URL); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("agent_url"), "Invalid cluster", "agent_url: "+err.Error())
			return
		}
	}
	if spec.Cloud != provisioner.Local && !plan.InsecureHTTP.IsUnknown() && !plan.InsecureHTTP.ValueBool() && spec.Managed == nil {
		resp.Diagnostics.AddAttributeError(path.Root("tenant_ids"), "Invalid cluster",
			fmt.Sprintf("a %s cluster's nodes get their certificates from billing: set tenant_ids (with billing configured), or insecure_http = true explicitly", spec.Cloud))
		return
	}
	if state == nil {
		plan.Region, plan.Zone, plan.InstanceType, plan.DiskGB = optString(spec.Region), optString(spec.Zone), optString(spec.InstanceType), optInt(spec.DiskGB)
		switch g := r.c.givenGroup(cfg.ResourceGroup); {
		case spec.Cloud != provisioner.Azure:
			plan.ResourceGroup = types.StringNull()
		case cfg.ResourceGroup.IsUnknown():
			// From another resource (an azurerm_resource_group's name):
			// known, and checked, at apply.
		case g == "":
			plan.ResourceGroup = types.StringValue(ownGroup(spec.Name))
		default:
			if err := azure.ValidateResourceGroup(g); err != nil {
				resp.Diagnostics.AddAttributeError(path.Root("resource_group"), "Invalid cluster", "resource_group (the provider block's azure default): "+err.Error())
				return
			}
			plan.ResourceGroup = types.StringValue(g)
		}
	} else if !plan.NodeCount.Equal(state.NodeCount) {
		plan.Endpoints = types.ListUnknown(types.StringType)
		plan.Nodes = types.ListUnknown(nodeType)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// sameGroup reports whether a and b name one resource group (ARM
// compares names case-insensitively).
func sameGroup(a, b types.String) bool {
	return !a.IsNull() && !b.IsNull() && !a.IsUnknown() && !b.IsUnknown() && strings.EqualFold(a.ValueString(), b.ValueString())
}

func isCloud(s string) bool {
	for _, c := range provisioner.Clouds {
		if string(c) == s {
			return true
		}
	}
	return false
}

// specKnown reports whether every argument of the spec is known at plan
// time (arguments from other resources may not be yet).
func specKnown(m *clusterModel) bool {
	for _, v := range []attr.Value{m.Name, m.Cloud, m.Region, m.Zone, m.NodeCount, m.InstanceType, m.DiskGB, m.Image, m.AgentURL, m.AgentSHA256, m.AllowedCIDRs, m.Tags, m.InsecureHTTP} {
		if v.IsUnknown() {
			return false
		}
	}
	return true
}
