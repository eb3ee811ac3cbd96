package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// APIKey is a tenant API key of a managed cluster. Key, the secret, is set
// only in the answer of CreateKey: it is shown once and never again.
type APIKey struct {
	ID        string     `json:"id"`
	Tenant    string     `json:"tenant"`
	Role      string     `json:"role"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	Revoked   bool       `json:"revoked,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Key       string     `json:"key,omitempty"`
}

// CreateKey creates a key of tenant with role (read, readwrite or admin)
// and an optional name. Needs the cluster admin key (or the tenant's admin
// key); it is not retried on another node once sent, so a failure after
// sending may have created a key (list to see).
func (c *Client) CreateKey(ctx context.Context, tenant, role, name string) (*APIKey, error) {
	r, err := c.newRequest(http.MethodPost, "/api/v1/keys", map[string]string{"tenant": tenant, "role": role, "name": name})
	if err != nil {
		return nil, err
	}
	var k APIKey
	if _, err := c.call(ctx, r, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// Keys lists tenant's keys (secrets omitted), revoked ones included.
func (c *Client) Keys(ctx context.Context, tenant string) ([]APIKey, error) {
	r, err := c.newRequest(http.MethodGet, "/api/v1/keys", nil)
	if err != nil {
		return nil, err
	}
	r.query = url.Values{"tenant": {tenant}}
	resp, err := c.call(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		Keys []APIKey `json:"keys"`
	}
	if err := json.Unmarshal(resp.body, &out); err != nil {
		return nil, fmt.Errorf("decode keys: %w", err)
	}
	return out.Keys, nil
}

// RevokeKey revokes key id; when it returns, no node of the cluster accepts
// the key.
func (c *Client) RevokeKey(ctx context.Context, id string) (*APIKey, error) {
	if err := checkName("key id", id); err != nil {
		return nil, err
	}
	r, err := c.newRequest(http.MethodDelete, "/api/v1/keys/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, err
	}
	var k APIKey
	if _, err := c.call(ctx, r, &k); err != nil {
		return nil, err
	}
	return &k, nil
}
