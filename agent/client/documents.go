package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Document is a stored document as the API returns it.
type Document struct {
	ID        string          `json:"id"`
	Data      json.RawMessage `json:"data"`
	Version   uint64          `json:"version"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// PutResult is the answer to Put: the stored document and whether the call
// created it (201) rather than replacing an existing one (200).
type PutResult struct {
	Document
	Created bool
}

// Page is one page of a List or Query answer.
type Page struct {
	Documents []Document `json:"documents"`
	// Total is the number of matching documents, across all pages.
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
	// Explain is the query plan, present when Query.Explain was set.
	Explain json.RawMessage `json:"explain,omitempty"`
}

// Query is the body of a query: a MongoDB-style filter, a sort and paging.
type Query struct {
	// Filter is marshalled as JSON: a map, a struct or a json.RawMessage
	// such as `{"age":{"$gte":30}}`. Nil matches every document.
	Filter any `json:"filter,omitempty"`
	// Sort maps fields to 1 (ascending) or -1 (descending). Key order is
	// the sort priority, so pass a json.RawMessage such as `{"a":1,"b":-1}`
	// when sorting by more than one field (Go maps do not keep order).
	Sort    any  `json:"sort,omitempty"`
	Limit   int  `json:"limit,omitempty"`
	Offset  int  `json:"offset,omitempty"`
	Explain bool `json:"explain,omitempty"`
}

// Create stores a new document in collection and returns it with the id the
// server assigned. data is marshalled with encoding/json (pass a
// json.RawMessage for pre-encoded JSON); it must encode to a JSON object.
func (c *Client) Create(ctx context.Context, collection string, data any) (*Document, error) {
	return c.create(ctx, collection, "", data)
}

// CreateWithID stores a new document under id; it fails with a conflict
// (IsConflict) when the id exists. Unlike Put it never replaces a document.
func (c *Client) CreateWithID(ctx context.Context, collection, id string, data any) (*Document, error) {
	if err := checkName("id", id); err != nil {
		return nil, err
	}
	return c.create(ctx, collection, id, data)
}

func (c *Client) create(ctx context.Context, collection, id string, data any) (*Document, error) {
	if err := checkName("collection", collection); err != nil {
		return nil, err
	}
	body := struct {
		ID   string `json:"id,omitempty"`
		Data any    `json:"data"`
	}{id, data}
	r, err := c.newRequest(http.MethodPost, collectionPath(collection, "documents"), body)
	if err != nil {
		return nil, err
	}
	var d Document
	if _, err := c.call(ctx, r, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Put stores data under id, creating or replacing the document (an upsert).
// With IfMatch it replaces only the given version and fails with
// IsPreconditionFailed otherwise.
func (c *Client) Put(ctx context.Context, collection, id string, data any, opts ...Option) (*PutResult, error) {
	if err := checkName("collection", collection); err != nil {
		return nil, err
	}
	if err := checkName("id", id); err != nil {
		return nil, err
	}
	body := struct {
		Data any `json:"data"`
	}{data}
	r, err := c.newRequest(http.MethodPut, collectionPath(collection, "documents", url.PathEscape(id)), body)
	if err != nil {
		return nil, err
	}
	applyIfMatch(r, collectOptions(opts))
	var res PutResult
	resp, err := c.call(ctx, r, &res.Document)
	if err != nil {
		return nil, err
	}
	res.Created = resp.status == http.StatusCreated
	return &res, nil
}

// Get returns one document; IsNotFound(err) when it does not exist.
func (c *Client) Get(ctx context.Context, collection, id string, opts ...Option) (*Document, error) {
	if err := checkName("collection", collection); err != nil {
		return nil, err
	}
	if err := checkName("id", id); err != nil {
		return nil, err
	}
	r, err := c.newRequest(http.MethodGet, collectionPath(collection, "documents", url.PathEscape(id)), nil)
	if err != nil {
		return nil, err
	}
	o := collectOptions(opts)
	applyConsistency(r, o)
	var d Document
	resp, err := c.call(ctx, r, &d)
	if err != nil {
		return nil, err
	}
	if d.Version == 0 {
		d.Version = parseETag(resp.header.Get("ETag"))
	}
	return &d, nil
}

// Delete removes one document; IsNotFound(err) when it does not exist. With
// IfMatch it deletes only the given version.
func (c *Client) Delete(ctx context.Context, collection, id string, opts ...Option) error {
	if err := checkName("collection", collection); err != nil {
		return err
	}
	if err := checkName("id", id); err != nil {
		return err
	}
	r, err := c.newRequest(http.MethodDelete, collectionPath(collection, "documents", url.PathEscape(id)), nil)
	if err != nil {
		return err
	}
	// Like a delete in a Batch, not resent once sent: if the first attempt
	// was applied, the retry would answer 404 for a successful delete.
	r.idempotent = false
	applyIfMatch(r, collectOptions(opts))
	_, err = c.call(ctx, r, nil)
	return err
}

// List returns documents of collection in id order, limit at a time from
// offset (limit 0 lets the server pick its default page size).
func (c *Client) List(ctx context.Context, collection string, limit, offset int, opts ...Option) (*Page, error) {
	if err := checkName("collection", collection); err != nil {
		return nil, err
	}
	if limit < 0 || offset < 0 {
		return nil, errors.New("limit and offset must not be negative")
	}
	r, err := c.newRequest(http.MethodGet, collectionPath(collection, "documents"), nil)
	if err != nil {
		return nil, err
	}
	r.query = url.Values{}
	if limit > 0 {
		r.query.Set("limit", strconv.Itoa(limit))
	}
	if offset > 0 {
		r.query.Set("offset", strconv.Itoa(offset))
	}
	applyConsistency(r, collectOptions(opts))
	var p Page
	if _, err := c.call(ctx, r, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Query runs q against collection. It only reads, so it is retried like the
// other reads.
func (c *Client) Query(ctx context.Context, collection string, q Query, opts ...Option) (*Page, error) {
	if err := checkName("collection", collection); err != nil {
		return nil, err
	}
	if q.Limit < 0 || q.Offset < 0 {
		return nil, errors.New("limit and offset must not be negative")
	}
	r, err := c.newRequest(http.MethodPost, collectionPath(collection, "query"), q)
	if err != nil {
		return nil, err
	}
	r.idempotent = true
	applyConsistency(r, collectOptions(opts))
	var p Page
	if _, err := c.call(ctx, r, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func applyConsistency(r *request, o callOptions) {
	if o.consistency == "" {
		return
	}
	if r.query == nil {
		r.query = url.Values{}
	}
	r.query.Set("consistency", string(o.consistency))
}

// applyIfMatch makes r conditional. A conditional write is not idempotent:
// resent after it was applied (a broken connection, a 503 whose outcome is
// unknown) it would fail with 412 although it succeeded, so it is not
// retried once sent.
func applyIfMatch(r *request, o callOptions) {
	if o.ifMatch != nil {
		r.header.Set("If-Match", strconv.FormatUint(*o.ifMatch, 10))
		r.idempotent = false
	}
}

// parseETag reads a version from an ETag such as `"3"` or `W/"3"`.
func parseETag(v string) uint64 {
	v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
	n, err := strconv.ParseUint(strings.Trim(v, `"`), 10, 64)
	if err != nil {
		return 0
	}
	return n
}
