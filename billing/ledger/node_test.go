package ledger

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func (f *fixture) registerNode(cluster, node, httpAddr, raftAddr string, at time.Time) Result {
	f.t.Helper()
	return f.apply(RegisterNode{Header: f.h(), ClusterID: cluster, NodeID: node, HTTPAddr: httpAddr, RaftAddr: raftAddr, At: at.UnixNano()})
}

func (f *fixture) nodes(cluster string) []Node {
	f.t.Helper()
	var ns []Node
	f.view(func(tx *bolt.Tx) (err error) { ns, err = ClusterNodes(tx, cluster); return })
	return ns
}

func TestRegisterNode(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "free")
	f.createTenant("t2", "free")
	f.registerCluster("c1", "t1", "t2")
	f.registerCluster("c2", "t2")

	r := f.registerNode("c1", "n2", "10.0.0.2:7070", "10.0.0.2:7071", f.now)
	if r.Err != nil || r.Unchanged || r.Node == nil {
		t.Fatalf("first registration = %+v", r)
	}
	if n := *r.Node; n.ID != "n2" || n.HTTPAddr != "10.0.0.2:7070" || !n.RegisteredAt.Equal(f.now) || !n.LastSeen.Equal(f.now) {
		t.Fatalf("node = %+v", n)
	}
	first := f.now
	if e := f.lastAudit("t1"); e.Action != "cluster.node_registered" || e.Details["node_id"] != "n2" {
		t.Fatalf("audit = %+v", e)
	}
	auditLen := len(f.audit("t1"))

	// The same registration again (a retry) changes nothing.
	if r := f.registerNode("c1", "n2", "10.0.0.2:7070", "10.0.0.2:7071", f.now); r.Err != nil || !r.Unchanged {
		t.Fatalf("identical registration = %+v", r)
	}
	// A later one moves LastSeen only, without an audit entry.
	f.advance(time.Minute)
	r = f.registerNode("c1", "n2", "10.0.0.2:7070", "10.0.0.2:7071", f.now)
	if r.Err != nil || r.Unchanged || !r.Node.LastSeen.Equal(f.now) || !r.Node.RegisteredAt.Equal(first) {
		t.Fatalf("later registration = %+v", r)
	}
	if n := len(f.audit("t1")); n != auditLen {
		t.Fatalf("audit grew to %d entries on a refresh", n)
	}
	// An older At with the same addresses is a no-op: LastSeen never
	// moves back.
	if r := f.registerNode("c1", "n2", "10.0.0.2:7070", "10.0.0.2:7071", first); !r.Unchanged {
		t.Fatalf("stale registration = %+v", r)
	}
	// New addresses are taken even from an older At (a restarted node
	// with a skewed clock), keeping LastSeen.
	r = f.registerNode("c1", "n2", "10.0.0.9:7070", "10.0.0.9:7071", first)
	if r.Err != nil || r.Node.HTTPAddr != "10.0.0.9:7070" || !r.Node.LastSeen.Equal(f.now) {
		t.Fatalf("moved node = %+v", r)
	}
	if e := f.lastAudit("t2"); e.Action != "cluster.node_moved" || e.Details["http_addr"] != "10.0.0.9:7070" {
		t.Fatalf("audit = %+v", e)
	}
	f.registerNode("c1", "n1", "h1:7070", "h1:7071", f.now)
	f.registerNode("c2", "n1", "other:7070", "other:7071", f.now)

	got := f.nodes("c1")
	if len(got) != 2 || got[0].ID != "n1" || got[1].ID != "n2" || got[0].HTTPAddr != "h1:7070" {
		t.Fatalf("ClusterNodes(c1) = %+v", got)
	}
	if got := f.nodes("c2"); len(got) != 1 || got[0].HTTPAddr != "other:7070" {
		t.Fatalf("ClusterNodes(c2) = %+v", got)
	}
	if got := f.nodes("c"); len(got) != 0 {
		t.Fatalf("ClusterNodes(c) = %+v, want none (prefix of another cluster)", got)
	}

	at := f.now.UnixNano()
	tests := []struct {
		name string
		cmd  RegisterNode
		want error
		msg  string
	}{
		{"unknown cluster", RegisterNode{f.h(), "c9", "n1", "h:1", "h:2", at}, ErrNotFound, `cluster "c9" not found`},
		{"no cluster", RegisterNode{f.h(), "", "n1", "h:1", "h:2", at}, ErrInvalid, "cluster_id: required"},
		{"bad node", RegisterNode{f.h(), "c1", "n 1", "h:1", "h:2", at}, ErrInvalid, "node_id: invalid id"},
		{"no http", RegisterNode{f.h(), "c1", "n1", "", "h:2", at}, ErrInvalid, "http_addr: required"},
		{"http without port", RegisterNode{f.h(), "c1", "n1", "h", "h:2", at}, ErrInvalid, `http_addr: "h" is not host:port`},
		{"raft port 0", RegisterNode{f.h(), "c1", "n1", "h:1", "h:0", at}, ErrInvalid, "raft_addr: \"h:0\" has no valid port"},
		{"raft no host", RegisterNode{f.h(), "c1", "n1", "h:1", ":7071", at}, ErrInvalid, "raft_addr"},
		{"control char", RegisterNode{f.h(), "c1", "n1", "h\x01:1", "h:2", at}, ErrInvalid, "http_addr: contains a control character"},
		{"no at", RegisterNode{f.h(), "c1", "n1", "h:1", "h:2", 0}, ErrInvalid, "at: required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.fail(tc.cmd, tc.want, tc.msg)
		})
	}
}

func TestRegisterNodeLimit(t *testing.T) {
	f := newFixture(t)
	f.fast = true
	f.createTenant("t1", "free")
	f.registerCluster("c1", "t1")
	for i := range MaxClusterNodes {
		if r := f.registerNode("c1", "n"+itoa(i), "h:1", "h:2", f.now); r.Err != nil {
			t.Fatalf("node %d: %v", i, r.Err)
		}
	}
	f.fast = false
	f.fail(RegisterNode{f.h(), "c1", "one-more", "h:1", "h:2", f.now.UnixNano()}, ErrState, "already has 256 nodes")
	// An existing node still refreshes.
	f.advance(time.Second)
	if r := f.registerNode("c1", "n0", "h:1", "h:2", f.now); r.Err != nil || r.Unchanged {
		t.Fatalf("refresh at the limit = %+v", r)
	}
}
