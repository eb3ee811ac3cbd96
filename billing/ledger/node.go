package ledger

import (
	"bytes"
	"encoding/json"
	"net"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MaxClusterNodes bounds the nodes one cluster may register.
const MaxClusterNodes = 256

// maxAddrLen bounds a node address (host:port).
const maxAddrLen = 255

// Node is a node of a registered cluster as it last registered. Times are
// UTC.
type Node struct {
	ID string `json:"id"`
	// HTTPAddr and RaftAddr are the addresses the node advertises
	// (host:port).
	HTTPAddr string `json:"http_addr"`
	RaftAddr string `json:"raft_addr"`
	// RegisteredAt is when the node first registered; LastSeen the latest
	// registration's At (it never moves backwards).
	RegisteredAt time.Time `json:"registered_at"`
	LastSeen     time.Time `json:"last_seen"`
}

// registerNode records or refreshes a node of a cluster.
func (a *applier) registerNode(c RegisterNode) Result {
	if e := checkID("cluster_id", c.ClusterID); e != nil {
		return Result{Err: e}
	}
	if e := checkID("node_id", c.NodeID); e != nil {
		return Result{Err: e}
	}
	if e := checkAddr("http_addr", c.HTTPAddr); e != nil {
		return Result{Err: e}
	}
	if e := checkAddr("raft_addr", c.RaftAddr); e != nil {
		return Result{Err: e}
	}
	if c.At <= 0 {
		return Result{Err: invalidf("at: required (Unix nanoseconds the node was seen)")}
	}
	var cl Cluster
	found, e := getJSON(a.tx, bClusters, []byte(c.ClusterID), &cl)
	if e != nil {
		return Result{Err: e}
	}
	if !found {
		return Result{Err: notFoundf("cluster %q not found", c.ClusterID)}
	}
	key := nodeKey(c.ClusterID, c.NodeID)
	at := unixTime(c.At)
	var n Node
	exists, e := getJSON(a.tx, bNodes, key, &n)
	if e != nil {
		return Result{Err: e}
	}
	moved := !exists || n.HTTPAddr != c.HTTPAddr || n.RaftAddr != c.RaftAddr
	if exists && !moved && !at.After(n.LastSeen) {
		return Result{Unchanged: true, Node: &n}
	}
	if !exists {
		if count := countPrefix(a.tx, bNodes, tprefix(c.ClusterID)); count >= MaxClusterNodes {
			return Result{Err: statef("cluster %q already has %d nodes (the limit)", c.ClusterID, count)}
		}
		n = Node{ID: c.NodeID, RegisteredAt: at}
	}
	n.HTTPAddr, n.RaftAddr = c.HTTPAddr, c.RaftAddr
	if at.After(n.LastSeen) {
		n.LastSeen = at
	}
	putJSON(a.tx, bNodes, key, &n)
	if moved {
		action := "cluster.node_registered"
		if exists {
			action = "cluster.node_moved"
		}
		for _, t := range cl.Tenants {
			a.audit(t, "cluster", cl.ID, action, map[string]string{"node_id": n.ID, "http_addr": n.HTTPAddr, "raft_addr": n.RaftAddr})
		}
	}
	return Result{Node: &n}
}

// checkAddr validates a host:port address with a non-empty host and a port
// between 1 and 65535.
func checkAddr(field, s string) *Error {
	if s == "" {
		return invalidf("%s: required (host:port)", field)
	}
	if len(s) > maxAddrLen {
		return invalidf("%s: longer than %d bytes", field, maxAddrLen)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return invalidf("%s: %q is not host:port", field, clip(s))
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return invalidf("%s: %q has no valid port (1-65535)", field, clip(s))
	}
	if e := checkText(field, s, maxAddrLen, true); e != nil {
		return e
	}
	return nil
}

// nodeKey is cluster \0 node.
func nodeKey(cluster, node string) []byte {
	return append(tprefix(cluster), node...)
}

// countPrefix counts the keys of bucket name starting with prefix.
func countPrefix(tx *bolt.Tx, name, prefix []byte) int {
	b := tx.Bucket(name)
	if b == nil {
		return 0
	}
	n := 0
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n
}

// ClusterNodes returns the nodes a cluster registered, by node id. A
// cluster without nodes (or an unknown one) has none.
func ClusterNodes(tx *bolt.Tx, clusterID string) ([]Node, error) {
	b := tx.Bucket(bNodes)
	if b == nil {
		return nil, nil
	}
	prefix := tprefix(clusterID)
	var nodes []Node
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var n Node
		if err := json.Unmarshal(v, &n); err != nil {
			return nil, internalf("corrupt record %s/%q: %v", bNodes, k, err)
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}
