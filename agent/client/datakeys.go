package client

import (
	"context"
	"net/http"
)

// DataKeyRotation is one tenant's new data key version.
type DataKeyRotation struct {
	Tenant  string `json:"tenant"`
	Version uint32 `json:"version"`
}

// DataKeyStatus is a tenant's data keys and how its documents are sealed
// (GET /api/v1/admin/data-keys).
type DataKeyStatus struct {
	Tenant         string         `json:"tenant"`
	CurrentVersion uint32         `json:"current_version"`
	Versions       int            `json:"versions"`
	Documents      map[string]int `json:"documents_by_version"`
	Pending        int            `json:"pending"`
	Reencryption   *struct {
		Version  uint32 `json:"version"`
		Resealed int64  `json:"resealed"`
		Done     bool   `json:"done"`
	} `json:"reencryption,omitempty"`
}

// RotateDataKeys rotates the data key of tenant (every tenant with data
// keys when empty) on a cluster that encrypts at rest. Needs the cluster
// admin key. The leader re-encrypts older documents in the background.
func (c *Client) RotateDataKeys(ctx context.Context, tenant string) ([]DataKeyRotation, error) {
	body := struct {
		Tenant string `json:"tenant,omitempty"`
	}{tenant}
	r, err := c.newRequest(http.MethodPost, "/api/v1/admin/data-keys/rotate", body)
	if err != nil {
		return nil, err
	}
	var out struct {
		Rotated []DataKeyRotation `json:"rotated"`
	}
	if _, err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Rotated, nil
}

// DataKeys reports every tenant's data keys and re-encryption progress.
// Needs the cluster admin key.
func (c *Client) DataKeys(ctx context.Context) ([]DataKeyStatus, error) {
	r, err := c.newRequest(http.MethodGet, "/api/v1/admin/data-keys", nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		Tenants []DataKeyStatus `json:"tenants"`
	}
	if _, err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Tenants, nil
}
