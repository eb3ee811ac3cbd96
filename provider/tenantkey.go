package provider

import (
	"context"
	"fmt"
	"sync"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
)

// whoami is who billing_key is, asked once (billing's GET /api/v1/whoami):
// a customer runs the provider with its tenant's own key (RoleTenant), and
// the provider then explains billing's refusals in its terms.
type whoami struct {
	once sync.Once
	who  billingclient.WhoAmI
	err  error
}

// tenantKey returns the tenant billing_key belongs to, or "" when it is
// not a tenant key (the admin key, no billing, or billing unreachable).
func (c *clients) tenantKey(ctx context.Context) string {
	if c.billing == nil {
		return ""
	}
	c.who.once.Do(func() { c.who.who, c.who.err = c.billing.WhoAmI(ctx) })
	if c.who.err != nil || c.who.who.Kind != "tenant" {
		return ""
	}
	return c.who.who.TenantID
}

// explainTenantKey adds to a billing refusal (permission denied, or the
// not found billing answers for another tenant's cluster) what a tenant
// key may do, when billing_key is one; other errors pass unchanged.
func (c *clients) explainTenantKey(ctx context.Context, err error, what string) error {
	if err == nil || !(billingclient.IsPermissionDenied(err) || billingclient.IsNotFound(err)) {
		return err
	}
	tenant := c.tenantKey(ctx)
	if tenant == "" {
		return err
	}
	return fmt.Errorf("%s: billing_key is a tenant key of tenant %s, which manages only that tenant and the clusters it owns (%w)", what, tenant, err)
}
