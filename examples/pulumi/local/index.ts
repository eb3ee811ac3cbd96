// A tenant, a 3-node local cluster, a key and an index through the
// bridged Aerolith provider (TypeScript SDK, stacks/sdk/nodejs).
// The provider reads billing from the stack's configuration
// (aerolith:billingUrl, aerolith:billingKey as a secret, aerolith:caFile)
// or from AEROLITH_BILLING_URL / AEROLITH_BILLING_KEY.
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
    name: "pulumi-demo",
    cloud: "local",
    nodeCount: 3,
    agentUrl: cfg.require("agentUrl"), // file:///path/to/aerolith
    agentSha256: cfg.require("agentSha256"),
    tenantIds: [tenant.id],
    deleteProtection: false,
});

const key = new aerolith.ApiKey("app", {
    cluster: cluster.id,
    tenant: tenant.id,
    role: "readwrite",
    name: "app",
});

new aerolith.Index("by-customer", {
    cluster: cluster.id,
    tenant: tenant.id,
    collection: "orders",
    field: "customer",
});

export const endpoints = cluster.endpoints;
export const apiKey = key.secret; // a secret: pulumi stack output --show-secrets apiKey
