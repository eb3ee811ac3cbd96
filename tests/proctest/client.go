package proctest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Consistency is a read consistency level as the HTTP API spells it.
type Consistency string

// The read consistency levels of the data API.
const (
	Linearizable Consistency = "linearizable"
	LeaderRead   Consistency = "leader"
	Stale        Consistency = "stale"
)

// Document is a stored document as the data API returns it.
type Document struct {
	ID        string          `json:"id"`
	Data      json.RawMessage `json:"data"`
	Version   uint64          `json:"version"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// ClusterInfo is the body of GET /api/v1/cluster.
type ClusterInfo struct {
	NodeID       string   `json:"node_id"`
	LeaderID     string   `json:"leader_id"`
	Leader       Member   `json:"leader"`
	State        string   `json:"state"`
	Term         uint64   `json:"term"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	Members      []Member `json:"members"`
}

// Member is one cluster member in ClusterInfo.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	Voter    bool   `json:"voter"`
	Leader   bool   `json:"leader"`
}

// APIError is a non-2xx answer from an agent.
type APIError struct {
	Status  int    // HTTP status code
	Code    string // error.code from the body ("" when the body was not the API's error shape)
	Message string // error.message, or the raw body
}

func (e *APIError) Error() string {
	return fmt.Sprintf("http %d %s: %s", e.Status, e.Code, e.Message)
}

// StatusOf returns the HTTP status of an *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// NotSent reports whether err proves the request never reached a server:
// the connection could not be established (e.g. refused because the process
// is down). Any other transport error leaves the outcome of a write unknown.
func NotSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Client is a minimal data-API client. It never retries: every call is
// exactly one HTTP request, so callers can classify outcomes precisely
// (linearizability checks depend on that). Safe for concurrent use.
type Client struct {
	hc  *http.Client
	key string
}

// NewClient returns a client that authenticates with key. A nil hc means a
// client with a pooled transport and no timeout (bound calls with ctx).
func NewClient(key string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}}
	}
	return &Client{hc: hc, key: key}
}

// HTTPClient returns the underlying *http.Client.
func (c *Client) HTTPClient() *http.Client { return c.hc }

func docPath(coll, id string) string {
	return "/api/v1/collections/" + url.PathEscape(coll) + "/documents/" + url.PathEscape(id)
}

// Put upserts document id in coll with data via PUT on the node at base.
// ifVersion > 0 makes it conditional (If-Match); a mismatch is an *APIError
// with Status 412.
func (c *Client) Put(ctx context.Context, base, coll, id string, data any, ifVersion uint64) (Document, error) {
	body, err := json.Marshal(struct {
		Data any `json:"data"`
	}{data})
	if err != nil {
		return Document{}, fmt.Errorf("encode document: %w", err)
	}
	h := http.Header{}
	if ifVersion > 0 {
		h.Set("If-Match", strconv.FormatUint(ifVersion, 10))
	}
	var d Document
	err = c.do(ctx, http.MethodPut, base+docPath(coll, id), h, body, &d)
	return d, err
}

// Create creates a document in coll via POST; id "" lets the agent pick one.
func (c *Client) Create(ctx context.Context, base, coll, id string, data any) (Document, error) {
	body, err := json.Marshal(struct {
		ID   string `json:"id,omitempty"`
		Data any    `json:"data"`
	}{id, data})
	if err != nil {
		return Document{}, fmt.Errorf("encode document: %w", err)
	}
	var d Document
	err = c.do(ctx, http.MethodPost, base+"/api/v1/collections/"+url.PathEscape(coll)+"/documents", nil, body, &d)
	return d, err
}

// Get reads document id from coll on the node at base with the given
// consistency ("" = the agent's default). A missing document is an
// *APIError with Status 404.
func (c *Client) Get(ctx context.Context, base, coll, id string, cons Consistency) (Document, error) {
	u := base + docPath(coll, id)
	if cons != "" {
		u += "?consistency=" + url.QueryEscape(string(cons))
	}
	var d Document
	err := c.do(ctx, http.MethodGet, u, nil, nil, &d)
	return d, err
}

// Delete deletes document id from coll.
func (c *Client) Delete(ctx context.Context, base, coll, id string) error {
	return c.do(ctx, http.MethodDelete, base+docPath(coll, id), nil, nil, nil)
}

// Cluster returns GET /api/v1/cluster of the node at base.
func (c *Client) Cluster(ctx context.Context, base string) (ClusterInfo, error) {
	var info ClusterInfo
	err := c.do(ctx, http.MethodGet, base+"/api/v1/cluster", nil, nil, &info)
	return info, err
}

// Ready returns nil when GET /readyz answers 200.
func (c *Client) Ready(ctx context.Context, base string) error {
	return c.do(ctx, http.MethodGet, base+"/readyz", nil, nil, nil)
}

func (c *Client) do(ctx context.Context, method, u string, h http.Header, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", method, u, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &APIError{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
		var eb struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
			ae.Code, ae.Message = eb.Error.Code, eb.Error.Message
		}
		return ae
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode %d response: %w", method, u, resp.StatusCode, err)
	}
	return nil
}
