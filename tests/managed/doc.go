// Package managed holds process-level suites for the managed node agent:
// a real `aerolith billing serve` process and three real `aerolith agent`
// processes enrolled with it (--billing-url, --enrollment-token, short
// --meter-window and --policy-refresh), driven only through their HTTP
// APIs, the billing client and the CLI.
//
//   - TestExactlyOnceMetering: a known workload of two tenants on one shared
//     cluster while an agent is SIGKILLed, billing is down for a while, the
//     leader is paused past the election timeout and the next leader is
//     partitioned away from its peers (Isolate); afterwards the reads,
//     writes and queries billed per tenant equal the operations served
//     (bounded by the outcomes the client could not know), and storage
//     byte-seconds lie within a stated bound of the test's own integral.
//   - TestMeteringUnderInFlightFaults: the same bound, served <= billed <=
//     served + unanswered, when the faults land on requests in flight:
//     clients keep sending to every node, the victim included, while the
//     leader and a follower are SIGKILLed, SIGSTOPped past the client's
//     timeout and partitioned; the log shows served, billed, unanswered,
//     refused and dead-lettered figures.
//   - TestQuotasOnCluster: every tier limit under the block action, and the
//     throttle, allow_with_overage and warn actions, hit through different
//     nodes, with the status, error code and message a client sees.
//   - TestRevocationAndSuspension: key revocation through raft and through
//     billing's policy, tenant suspension and resumption, on every node.
//   - TestEnrollAndDiscover: three agents started with only billing's URL
//     and CA, the enrollment token, --tls-bootstrap, --discover billing and
//     --bootstrap-expect 3 obtain their certificates from billing, find
//     each other, form a healthy cluster over mutual TLS, serve a tenant's
//     writes and renew their certificates without a restart; billing
//     refuses another cluster's token and another cluster's identity.
//   - TestCrossTenant: a tenant's keys reach nothing of another tenant by
//     any path, and no answer names the other tenant's data.
//   - TestWipedNodeMeter: a follower restarted on a wiped data directory
//     under the same node id is billed for what it serves afterwards
//     (billed writes equal served writes); its dead letters through the CLI.
//
// The package has no non-test code; run it with go test (skipped with
// -short). The binary is built once by TestMain.
package managed
