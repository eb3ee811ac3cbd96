// Package e2e holds end-to-end suites that run real `aerolith agent`
// processes (see tests/proctest): the leader is SIGKILLed under a write load
// and every acknowledged write must survive on every node; all nodes are
// stopped gracefully and restarted and the cluster must re-form with its
// data intact; the aerolith CLI binary, run against the cluster, must
// refuse the ids . and .. without touching the collection they name. The
// package has no non-test code; run it with go test.
package e2e
