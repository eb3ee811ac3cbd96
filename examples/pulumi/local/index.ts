// A tenant, a 3-node local cluster, a key, a collection and an index
// through the bridged Aerolith provider (TypeScript SDK, stacks/sdk/nodejs).
// The provider reads billing from the stack's configuration
// (aerolith:billingUrl, aerolith:billingKey as a secret, aerolith:caFile,
// aerolith:stateDir) or from AEROLITH_BILLING_URL / AEROLITH_BILLING_KEY.
// `make demo-pulumi` runs it; see ../README.md.
import * as pulumi from "@pulumi/pulumi";
import * as aerolith from "@aerolithdb/aerolith";

const cfg = new pulumi.Config();

const tenant = new aerolith.Tenant("shop", {
    organization: "Shop",
    name: "shop",
    tier: "starter",
    email: "ops@shop.example",
    deleteProtection: false,
});

const cluster = new aerolith.Cluster("orders", {
    name: cfg.get("clusterName") ?? "pulumi-demo",
    cloud: "local",
    nodeCount: cfg.getNumber("nodeCount") ?? 3,
    agentUrl: cfg.require("agentUrl"), // file:///path/to/aerolith
    agentSha256: cfg.require("agentSha256"),
    tenantIds: [tenant.id],
    // A throwaway cluster on loopback may serve plain HTTP (when billing
    // does too); leave it false for real clusters, whose nodes then get
    // certificates from the cluster's CA (the caCertificate output).
    insecureHttp: cfg.getBoolean("insecureHttp") ?? false,
    deleteProtection: false,
});

const key = new aerolith.ApiKey("app", {
    cluster: cluster.id,
    tenant: tenant.id,
    role: "readwrite",
    name: "app",
});

const orders = new aerolith.Collection("orders", {
    cluster: cluster.id,
    tenant: tenant.id,
    name: "orders",
    deleteProtection: false,
});

new aerolith.Index("by-customer", {
    cluster: cluster.id,
    tenant: tenant.id,
    collection: orders.name,
    field: "customer",
});

export const tenantId = tenant.id;
export const billingClusterId = cluster.billingClusterId;
export const endpoints = cluster.endpoints;
// The CA the nodes' certificates chain to ("" for a plain-HTTP cluster).
export const caCertificate = cluster.caCertificate.apply(ca => ca ?? "");
export const adminKey = cluster.adminKey; // a secret, like the key below
export const apiKey = key.secret; // pulumi stack output --show-secrets apiKey
