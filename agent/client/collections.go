package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// CollectionInfo describes one collection of the caller's tenant.
type CollectionInfo struct {
	Name      string   `json:"name"`
	Documents int64    `json:"documents"`
	Bytes     int64    `json:"bytes"`
	Indexes   []string `json:"indexes"`
}

// Collections lists the collections the caller's key can see.
func (c *Client) Collections(ctx context.Context, opts ...Option) ([]CollectionInfo, error) {
	r, err := c.newRequest(http.MethodGet, "/api/v1/collections", nil)
	if err != nil {
		return nil, err
	}
	applyConsistency(r, collectOptions(opts))
	resp, err := c.call(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	return decodeList[CollectionInfo](resp.body, "collections")
}

// CreateCollection creates an empty collection; created is false when it
// already existed (the call is idempotent).
func (c *Client) CreateCollection(ctx context.Context, collection string) (created bool, err error) {
	if err := checkName("collection", collection); err != nil {
		return false, err
	}
	r, err := c.newRequest(http.MethodPut, collectionPath(collection), nil)
	if err != nil {
		return false, err
	}
	resp, err := c.call(ctx, r, nil)
	if err != nil {
		return false, err
	}
	return resp.status == http.StatusCreated, nil
}

// DropCollection deletes collection with all its documents and indexes.
func (c *Client) DropCollection(ctx context.Context, collection string) error {
	if err := checkName("collection", collection); err != nil {
		return err
	}
	r, err := c.newRequest(http.MethodDelete, collectionPath(collection), nil)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, r, nil)
	return err
}

// CreateIndex creates a secondary index on a (dot path) field of collection;
// IsConflict(err) when it exists.
func (c *Client) CreateIndex(ctx context.Context, collection, field string) error {
	if err := checkName("collection", collection); err != nil {
		return err
	}
	if err := checkName("field", field); err != nil {
		return err
	}
	r, err := c.newRequest(http.MethodPost, collectionPath(collection, "indexes"), map[string]string{"field": field})
	if err != nil {
		return err
	}
	_, err = c.call(ctx, r, nil)
	return err
}

// Indexes lists the indexed fields of collection.
func (c *Client) Indexes(ctx context.Context, collection string, opts ...Option) ([]string, error) {
	if err := checkName("collection", collection); err != nil {
		return nil, err
	}
	r, err := c.newRequest(http.MethodGet, collectionPath(collection, "indexes"), nil)
	if err != nil {
		return nil, err
	}
	applyConsistency(r, collectOptions(opts))
	resp, err := c.call(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	return decodeList[string](resp.body, "indexes")
}

// DropIndex deletes the index on field of collection.
func (c *Client) DropIndex(ctx context.Context, collection, field string) error {
	if err := checkName("collection", collection); err != nil {
		return err
	}
	if err := checkName("field", field); err != nil {
		return err
	}
	r, err := c.newRequest(http.MethodDelete, collectionPath(collection, "indexes", url.PathEscape(field)), nil)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, r, nil)
	return err
}

// decodeList decodes either a bare JSON array or an object holding the
// array under key.
func decodeList[T any](body []byte, key string) ([]T, error) {
	var list []T
	if err := json.Unmarshal(body, &list); err == nil {
		return list, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	raw, ok := obj[key]
	if !ok {
		return nil, fmt.Errorf("decode %s: response has no %q field", key, key)
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return list, nil
}
