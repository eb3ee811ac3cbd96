package client

import (
	"context"
	"net/http"
)

// Roles of a tenant's billing keys.
const (
	// RoleRead reads the tenant's own record, usage, invoices, payments,
	// audit trail and policy (CreateKey).
	RoleRead = "read"
	// RoleTenant acts for the tenant (CreateTenantKey): what a read key
	// reads, plus the tenant's profile and tier, its keys (it creates
	// read keys only) and the clusters it registers, which the tenant
	// then owns (Enrollment.Owner): scale its own tenant on them, read
	// their CA, deregister them. Nothing of another tenant: their
	// resources answer 404 (IsNotFound), operator calls 403
	// (IsPermissionDenied).
	RoleTenant = "tenant"
)

// CreateTenantKey creates a tenant key (RoleTenant) scoped to tenant:
// the credential a customer gives its own tools (the Terraform provider,
// for one) to manage its tenant and clusters. It needs the admin key. The
// secret is in the answer only (Key): billing keeps its SHA-256.
func (c *Client) CreateTenantKey(ctx context.Context, tenant, name string) (TenantKey, error) {
	return c.createKey(ctx, tenant, RoleTenant, name)
}

// createKey creates a billing key of role scoped to tenant.
func (c *Client) createKey(ctx context.Context, tenant, role, name string) (TenantKey, error) {
	var k TenantKey
	body := struct {
		Name string `json:"name,omitempty"`
		Role string `json:"role,omitempty"`
	}{name, role}
	err := c.send(ctx, http.MethodPost, "/api/v1/tenants/"+seg(tenant)+"/keys", nil, body, &k, false)
	return k, err
}

// RegisterTenantCluster registers a cluster that serves tenant alone and
// is tenant's own (Enrollment.Owner): the tenant's keys (RoleTenant) may
// then read, scale and deregister it. It works with the admin key (a
// dedicated cluster an operator provisions for a customer) and with a
// tenant key of tenant; clusterID "" lets the service choose one. The
// enrollment token is in the answer only.
func (c *Client) RegisterTenantCluster(ctx context.Context, clusterID, tenant string) (Enrollment, error) {
	body := struct {
		ClusterID   string   `json:"cluster_id,omitempty"`
		Tenants     []string `json:"tenants"`
		OwnerTenant string   `json:"owner_tenant"`
	}{clusterID, []string{tenant}, tenant}
	var e Enrollment
	err := c.send(ctx, http.MethodPost, "/api/v1/clusters", nil, body, &e, false)
	return e, err
}
