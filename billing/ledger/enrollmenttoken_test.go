package ledger

import (
	"errors"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// clusterOf is the cluster a token authenticates as ("" when none).
func (f *fixture) clusterOf(tok [32]byte) string {
	f.t.Helper()
	var id string
	f.view(func(tx *bolt.Tx) error {
		cl, err := ClusterByToken(tx, tok)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		id = cl.ID
		return err
	})
	return id
}

func TestIssueEnrollmentToken(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "free")
	f.registerCluster("c1", "t1")
	f.registerCluster("c2", "t1")

	// A further token authenticates as the cluster, and so does the first.
	cmd := IssueEnrollmentToken{Header: f.h(), ClusterID: "c1", TokenHash: token("c1-b")}
	if r := f.ok(cmd); r.Unchanged || len(r.Cluster.ExtraTokenSHA256) != 1 {
		t.Fatalf("issue = %+v, want a second token", r.Cluster)
	}
	if a, b := f.clusterOf(token("c1")), f.clusterOf(token("c1-b")); a != "c1" || b != "c1" {
		t.Fatalf("tokens authenticate as %q and %q, want c1 both", a, b)
	}
	if e := f.lastAudit("t1"); e.Action != "cluster.token_issued" || e.Details["revoked_previous"] != "false" {
		t.Fatalf("audit = %+v, want cluster.token_issued keeping the previous tokens", e)
	}
	if r := f.ok(cmd); !r.Unchanged {
		t.Fatalf("retry = %+v, want unchanged", r)
	}

	// Revoking the previous ones leaves only the new token.
	rev := IssueEnrollmentToken{Header: f.h(), ClusterID: "c1", TokenHash: token("c1-c"), RevokePrevious: true}
	if r := f.ok(rev); r.Cluster.TokenSHA256 == "" || len(r.Cluster.ExtraTokenSHA256) != 0 {
		t.Fatalf("issue revoking = %+v, want one token", r.Cluster)
	}
	if a, b, c := f.clusterOf(token("c1")), f.clusterOf(token("c1-b")), f.clusterOf(token("c1-c")); a != "" || b != "" || c != "c1" {
		t.Fatalf("tokens authenticate as %q, %q, %q; want none, none, c1", a, b, c)
	}
	if r := f.ok(rev); !r.Unchanged {
		t.Fatalf("retry of the revoking issue = %+v, want unchanged", r)
	}

	// Up to the limit without revoking, then refused.
	for i := 1; i < MaxClusterTokens; i++ {
		f.ok(IssueEnrollmentToken{Header: f.h(), ClusterID: "c1", TokenHash: token(fmt.Sprintf("c1-%d", i))})
	}
	f.fail(IssueEnrollmentToken{Header: f.h(), ClusterID: "c1", TokenHash: token("c1-x")}, ErrState, "the limit")

	// Deregistration ends every token.
	f.ok(DeregisterCluster{Header: f.h(), ClusterID: "c1"})
	for i := 1; i < MaxClusterTokens; i++ {
		if id := f.clusterOf(token(fmt.Sprintf("c1-%d", i))); id != "" {
			t.Fatalf("token %d of a deregistered cluster authenticates as %q", i, id)
		}
	}
	if id := f.clusterOf(token("c1-c")); id != "" {
		t.Fatalf("first token of a deregistered cluster authenticates as %q", id)
	}

	tests := []struct {
		name string
		cmd  IssueEnrollmentToken
		want error
		msg  string
	}{
		{"deregistered", IssueEnrollmentToken{f.h(), "c1", token("c1-y"), false}, ErrState, "deregistered"},
		{"unknown cluster", IssueEnrollmentToken{f.h(), "c9", token("c9"), false}, ErrNotFound, `"c9"`},
		{"a freed hash, revoking the previous ones", IssueEnrollmentToken{f.h(), "c2", token("c1-c"), true}, nil, ""},
		{"no hash", IssueEnrollmentToken{f.h(), "c2", [32]byte{}, false}, ErrInvalid, "token_hash"},
		{"bad id", IssueEnrollmentToken{f.h(), "c 2", token("z"), false}, ErrInvalid, "cluster_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == nil {
				f.ok(tt.cmd)
				return
			}
			f.fail(tt.cmd, tt.want, tt.msg)
		})
	}
	// A hash in use by another live cluster is a conflict.
	f.registerCluster("c3", "t1")
	f.fail(IssueEnrollmentToken{Header: f.h(), ClusterID: "c2", TokenHash: token("c3")}, ErrConflict, `already used by cluster "c3"`)
}
