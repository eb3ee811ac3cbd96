package ledger

import (
	bolt "go.etcd.io/bbolt"
)

// GetTenant returns a tenant (deleted ones too: deletion is soft), or
// ErrNotFound.
func GetTenant(tx *bolt.Tx, id string) (Tenant, error) {
	t, e := loadTenant(tx, id)
	if e != nil {
		return Tenant{}, e
	}
	return *t, nil
}

// Paging defaults of ListTenants.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// TenantQuery selects a page of tenants.
type TenantQuery struct {
	// Limit is the page size (DefaultPageLimit when 0, at most
	// MaxPageLimit); Offset skips that many matching tenants.
	Limit, Offset int
	// IncludeDeleted lists deleted tenants too.
	IncludeDeleted bool
}

// TenantPage is a page of tenants in id order; Total counts every match.
type TenantPage struct {
	Tenants []Tenant `json:"tenants"`
	Total   int      `json:"total"`
	Limit   int      `json:"limit"`
	Offset  int      `json:"offset"`
}

// ListTenants returns a page of tenants in id order. A negative limit or
// offset, or a limit above MaxPageLimit, is ErrInvalid.
func ListTenants(tx *bolt.Tx, q TenantQuery) (TenantPage, error) {
	switch {
	case q.Limit < 0 || q.Limit > MaxPageLimit:
		return TenantPage{}, invalidf("limit: must be between 0 and %d (got %d)", MaxPageLimit, q.Limit)
	case q.Offset < 0:
		return TenantPage{}, invalidf("offset: must not be negative (got %d)", q.Offset)
	}
	if q.Limit == 0 {
		q.Limit = DefaultPageLimit
	}
	page := TenantPage{Tenants: []Tenant{}, Limit: q.Limit, Offset: q.Offset}
	err := eachTenant(tx, func(t *Tenant) error {
		if t.Status == StatusDeleted && !q.IncludeDeleted {
			return nil
		}
		if page.Total >= q.Offset && len(page.Tenants) < q.Limit {
			page.Tenants = append(page.Tenants, *t)
		}
		page.Total++
		return nil
	})
	if err != nil {
		return TenantPage{}, err
	}
	return page, nil
}
