package agent

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/agent/httpapi"
	"github.com/aerolithdb/aerolith/agent/tenancy"
)

// keyManager backs the API's key routes with tenancy.Keys (keys created and
// revoked through raft), refusing to create keys for tenants the cluster
// does not serve.
type keyManager struct {
	*tenancy.Keys
	serves func(tenant string) (ok, known bool)
	// refresh asks billing for the cluster's tenants now (a tenant just
	// added to the cluster in billing); nil never asks.
	refresh func(ctx context.Context, wait bool)
}

var _ httpapi.Keys = (*keyManager)(nil)

// Create makes a key for one of the cluster's tenants. A tenant this node
// does not know as served is looked up in billing first (it may have just
// been added to the cluster); other tenants get an error matching
// document.ErrInvalid; any tenant before the node knows the cluster's
// (enrollment) gets httpapi.ErrNotEnrolled (503 not_ready).
func (k *keyManager) Create(ctx context.Context, tenant, role, name string) (tenancy.APIKey, string, error) {
	ok, known := k.serves(tenant)
	if known && !ok && k.refresh != nil {
		k.refresh(ctx, true)
		ok, known = k.serves(tenant)
	}
	switch {
	case !known:
		return tenancy.APIKey{}, "", httpapi.ErrNotEnrolled
	case !ok:
		return tenancy.APIKey{}, "", &document.Error{Code: document.CodeInvalid, Message: "tenant: " + tenant +
			" is not served by this cluster (billing registered the cluster for other tenants; add it with: aerolith cluster tenants add <cluster> " + tenant + ")"}
	}
	return k.Keys.Create(ctx, tenant, role, name)
}

// List lists tenant's keys. A tenant the cluster does not serve and has no
// key for is "not found" rather than an empty list, so a mistyped tenant
// id is not mistaken for a tenant without keys; a tenant removed from the
// cluster still lists the keys it had.
func (k *keyManager) List(ctx context.Context, tenant string) ([]tenancy.APIKey, error) {
	keys, err := k.Keys.List(ctx, tenant)
	if err != nil || len(keys) > 0 {
		return keys, err
	}
	ok, known := k.serves(tenant)
	if known && !ok && k.refresh != nil {
		k.refresh(ctx, true)
		ok, known = k.serves(tenant)
	}
	if known && !ok {
		return nil, &document.Error{Code: document.CodeNotFound, Message: "tenant: " + tenant + " is not served by this cluster and has no keys here"}
	}
	return keys, nil
}

// servedOnly refuses the keys of a tenant the cluster does not serve (any
// more): billing removed the tenant from the cluster. The tenant's data
// stays on the cluster; its keys work again once it is added back. A
// tenant this node does not know as served is looked up in billing first,
// without waiting for a lookup already under way, so a tenant just added
// is served on every node at its first request.
type servedOnly struct {
	auth.Authenticator
	serves  func(tenant string) (ok, known bool)
	refresh func(ctx context.Context, wait bool)
}

// Authenticate implements auth.Authenticator.
func (s servedOnly) Authenticate(r *http.Request) (auth.Principal, error) {
	p, err := s.Authenticator.Authenticate(r)
	if err != nil {
		return p, err
	}
	ok, known := s.serves(p.Tenant)
	if known && !ok {
		s.refresh(r.Context(), false)
		ok, known = s.serves(p.Tenant)
	}
	if known && !ok {
		return auth.Principal{}, fmt.Errorf("%w: tenant %s is not served by this cluster: billing removed it from the cluster; "+
			"its data is kept here and its keys work again once it is added back", auth.ErrPermissionDenied, p.Tenant)
	}
	return p, nil
}
