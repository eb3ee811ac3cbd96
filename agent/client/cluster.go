package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Node identifies a cluster member and its addresses.
type Node struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// Member is one entry of the cluster's membership.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	Voter    bool   `json:"voter"`
	Leader   bool   `json:"leader"`
}

// ClusterStatus is the answering node's view of the cluster.
type ClusterStatus struct {
	NodeID       string   `json:"node_id"`
	LeaderID     string   `json:"leader_id"`
	Leader       *Node    `json:"leader"`
	State        string   `json:"state"`
	Term         uint64   `json:"term"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	Members      []Member `json:"members"`
	// Ready and Endpoints are what a tenant key gets instead of the
	// fields above: whether the node serves, and every node's client
	// address with the leader marked. Endpoints is nil in the cluster
	// admin's view.
	Ready     *bool      `json:"ready,omitempty"`
	Endpoints []Endpoint `json:"endpoints,omitempty"`
}

// Endpoint is one node's client address in a tenant's view of the
// cluster.
type Endpoint struct {
	HTTPAddr string `json:"http_addr"`
	Leader   bool   `json:"leader"`
}

// Stats are the figures of GET /api/v1/stats, decoded as generic JSON with
// numbers kept as json.Number so no precision is lost.
type Stats map[string]any

// Cluster returns the answering node's view of the cluster.
func (c *Client) Cluster(ctx context.Context) (*ClusterStatus, error) {
	r, err := c.newRequest(http.MethodGet, "/api/v1/cluster", nil)
	if err != nil {
		return nil, err
	}
	var s ClusterStatus
	if _, err := c.call(ctx, r, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Join adds node id, reachable for raft at raftAddr (and for the API at
// httpAddr, which may be empty), to the cluster as a voter. Needs an admin key.
func (c *Client) Join(ctx context.Context, id, raftAddr, httpAddr string) error {
	if err := checkName("node id", id); err != nil {
		return err
	}
	if err := checkName("raft address", raftAddr); err != nil {
		return err
	}
	body := struct {
		NodeID   string `json:"node_id"`
		RaftAddr string `json:"raft_addr"`
		HTTPAddr string `json:"http_addr,omitempty"`
	}{id, raftAddr, httpAddr}
	r, err := c.newRequest(http.MethodPost, "/api/v1/cluster/members", body)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, r, nil)
	return err
}

// Remove removes node id from the cluster. Needs an admin key.
func (c *Client) Remove(ctx context.Context, id string) error {
	if err := checkName("node id", id); err != nil {
		return err
	}
	r, err := c.newRequest(http.MethodDelete, "/api/v1/cluster/members/"+url.PathEscape(id), nil)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, r, nil)
	return err
}

// Stats returns the answering node's statistics.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	r, err := c.newRequest(http.MethodGet, "/api/v1/stats", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.call(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(resp.body))
	dec.UseNumber()
	var s Stats
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode stats: %w", err)
	}
	return s, nil
}

// Health checks that the agent process answers (GET /health). It is not
// retried on 503 so it reports the node's state as it is.
func (c *Client) Health(ctx context.Context) error {
	return c.probe(ctx, "/health")
}

// Ready checks that the node can serve requests (GET /readyz); when it
// cannot, the *Error (status 503) carries the reason. Not retried on 503.
func (c *Client) Ready(ctx context.Context) error {
	return c.probe(ctx, "/readyz")
}

func (c *Client) probe(ctx context.Context, path string) error {
	r, err := c.newRequest(http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	r.noRetry = true
	_, err = c.call(ctx, r, nil)
	return err
}
