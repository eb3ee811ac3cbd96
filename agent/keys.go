package agent

import (
	"context"

	"github.com/aerolithdb/aerolith/agent/docs"
	"github.com/aerolithdb/aerolith/agent/httpapi"
	"github.com/aerolithdb/aerolith/agent/tenancy"
)

// keyManager backs the API's key routes with tenancy.Keys (keys created and
// revoked through raft), refusing to create keys for tenants the cluster
// does not serve.
type keyManager struct {
	*tenancy.Keys
	serves func(tenant string) (ok, known bool)
}

var _ httpapi.Keys = (*keyManager)(nil)

// Create makes a key for one of the cluster's tenants. Other tenants, and
// any tenant before the node knows the cluster's (enrollment), get an
// error matching docs.ErrInvalid.
func (k *keyManager) Create(ctx context.Context, tenant, role, name string) (tenancy.APIKey, string, error) {
	switch ok, known := k.serves(tenant); {
	case !known:
		return tenancy.APIKey{}, "", &docs.Error{Code: docs.CodeInvalid, Message: "tenant: this node has not enrolled with billing yet, so it cannot check that the tenant is served by this cluster; retry once /readyz answers 200"}
	case !ok:
		return tenancy.APIKey{}, "", &docs.Error{Code: docs.CodeInvalid, Message: "tenant: " + tenant + " is not served by this cluster (billing registered the cluster for other tenants)"}
	}
	return k.Keys.Create(ctx, tenant, role, name)
}
