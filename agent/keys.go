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

// Create makes a key for one of the cluster's tenants. Other tenants get an
// error matching docs.ErrInvalid; any tenant before the node knows the
// cluster's (enrollment) gets httpapi.ErrNotEnrolled (503 not_ready).
func (k *keyManager) Create(ctx context.Context, tenant, role, name string) (tenancy.APIKey, string, error) {
	switch ok, known := k.serves(tenant); {
	case !known:
		return tenancy.APIKey{}, "", httpapi.ErrNotEnrolled
	case !ok:
		return tenancy.APIKey{}, "", &docs.Error{Code: docs.CodeInvalid, Message: "tenant: " + tenant + " is not served by this cluster (billing registered the cluster for other tenants)"}
	}
	return k.Keys.Create(ctx, tenant, role, name)
}
