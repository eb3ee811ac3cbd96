// A tenant, a managed 3-node cluster on Azure, a key and a collection
// through the bridged Aerolith provider (TypeScript SDK, stacks/sdk/nodejs).
// The provider creates the cluster's resource group (aerolith-<cluster
// name>; or, with resourceGroup set, uses that existing group and never
// deletes it), virtual network, network security group, public IPs, NICs and
// VMs itself, each booting the agent from its custom data (as
// aerolith_cluster does in Terraform); credentials come from the standard
// Azure environment (azidentity: a service principal's AZURE_CLIENT_ID,
// AZURE_TENANT_ID and AZURE_CLIENT_SECRET, a managed identity or the az
// CLI). Configuration: see Pulumi.dev.yaml. `make demo-pulumi
// EXAMPLE=azure` runs it against the offline cloud simulator; see
// ../README.md.
import * as pulumi from "@pulumi/pulumi";
import * as aerolith from "@aerolithdb/aerolith";

const cfg = new pulumi.Config();

const provider = new aerolith.Provider("aerolith", {
    billingUrl: cfg.require("billingUrl"),
    billingKey: cfg.requireSecret("billingKey"),
    caFile: cfg.get("billingCaFile"), // billing's CA, when not a public one
    stateDir: cfg.get("stateDir"),
    // endpoint: only to reach another Resource Manager, such as the simulator.
    azure: { subscriptionId: cfg.require("subscriptionId"), endpoint: cfg.get("endpoint") },
});
const opts = { provider };

const tenant = new aerolith.Tenant("acme", {
    organization: "Acme Corp",
    name: cfg.get("tenantName") ?? "acme",
    tier: "starter",
    email: "ops@acme.example",
    deleteProtection: false,
}, opts);

const cluster = new aerolith.Cluster("orders", {
    name: cfg.get("clusterName") ?? "orders-azure",
    cloud: "azure",
    region: cfg.get("location") ?? "westeurope",
    zone: cfg.get("zone"), // availability zone 1, 2 or 3; default none
    nodeCount: cfg.getNumber("nodeCount") ?? 3,
    instanceType: cfg.get("vmSize") ?? "Standard_D2s_v5",
    agentUrl: cfg.require("agentUrl"),
    agentSha256: cfg.require("agentSha256"),
    // Who may reach the data API; raft stays open only between the nodes.
    allowedCidrs: cfg.requireObject<string[]>("allowedCidrs"),
    tenantIds: [tenant.id],
    tags: { app: "orders" }, // on every resource of the cluster
    // An existing resource group you own (its policies, its RBAC); unset:
    // a group of the cluster's own, deleted with it. Fixed at creation.
    resourceGroup: cfg.get("resourceGroup"),
    // Only for a throwaway cluster with a plain-HTTP billing (the
    // simulator); otherwise the nodes get certificates through enrollment.
    insecureHttp: cfg.getBoolean("insecureHttp") ?? false,
    deleteProtection: cfg.getBoolean("deleteProtection") ?? false,
}, opts);

const key = new aerolith.ApiKey("app", {
    cluster: cluster.id,
    tenant: tenant.id,
    role: "readwrite",
    name: "app",
}, opts);

new aerolith.Collection("orders", {
    cluster: cluster.id,
    tenant: tenant.id,
    name: "orders",
    deleteProtection: false,
}, opts);

export const tenantId = tenant.id;
export const billingClusterId = cluster.billingClusterId;
export const endpoints = cluster.endpoints;
export const resourceGroup = cluster.resourceGroup; // the group it is in
export const nodes = cluster.nodes; // node id, instance id, address, state
export const nodeAddresses = cluster.nodes.apply(ns => ns.map(n => n.address));
// The CA the nodes' certificates chain to ("" for a plain-HTTP cluster).
export const caCertificate = cluster.caCertificate.apply(ca => ca ?? "");
export const adminKey = cluster.adminKey; // a secret, like the key below
export const apiKey = key.secret; // pulumi stack output --show-secrets apiKey
