// Package meter counts what an agent serves, per tenant and window, and
// delivers it to billing exactly once, through crashes and billing outages.
//
// # Counting
//
// Record adds a Usage (reads, writes, queries, query compute ms, ingress
// and egress bytes) to the tenant's counters of the current window. It is
// the hot path: one shard lock (tenants are spread over 64 shards by hash)
// and a few additions, safe for concurrent use.
//
// ObserveStorage reports a tenant's stored bytes at an instant (the state
// machine's per-tenant storage counter). The meter integrates it into
// byte-seconds with the step method: the value observed at t holds until
// the next observation. The storage counter only changes when a raft entry
// is applied, so when the wiring observes every change the integral is
// exact; sampled every P instead, the error per tenant is at most P times
// the sum of the absolute changes over the window. Byte-nanoseconds are
// kept in 128 bits and the sub-byte-second remainder is carried to the next
// window, so rounding never accumulates.
//
// Storage is integrated only over the intervals this node held leadership,
// as told by SetLeader(leader, at): [gained at, lost at). The node that
// loses leadership integrates up to its "lost" instant and the node that
// gains it integrates from its "gained" instant; when the wiring passes
// both nodes the same instant (the time carried by the first raft entry of
// the new term, which every replica applies), the intervals tile the
// timeline: each instant, and so each window boundary at a handover, is
// attributed to exactly one node. The one residual overlap is a window the
// old leader closed after the new term began but before it learnt of it
// (it cannot be taken back once in the outbox); hashicorp/raft makes a
// leader step down within LeaderLeaseTimeout without quorum contact, so
// the overlap is at most bytes x (lease timeout + clock skew) per
// handover. Stats.StorageOverlap reports it.
//
// # Windows and the outbox
//
// A window closes at each multiple of Config.Window (default 10 s) by the
// clock, at Flush and at Close; it covers [previous close, this close), so
// windows tile time without gap or overlap. When a window closes, its counters are taken out of the shards, the storage
// integral is cut at the window's end, and one record per tenant with
// non-zero usage is appended to the outbox: a bbolt file (meter.db) under
// Config.DataDir. Appending allocates the per-node sequence numbers (1, 2,
// 3, ...) and writes the records and the next sequence number in one
// fsynced transaction, so a number is never reused, even after a crash.
// If the append fails the taken counters are added back to the current
// window: usage is never lost while the process lives.
//
// # Reporting
//
// The reporter ships outbox records, oldest first, in batches of up to
// Config.BatchSize, through a Sender (the billing client). It deletes a
// record only once billing answered it accepted or duplicate (billing
// deduplicates by (cluster, node, seq) forever, so a resend after a crash
// is counted once). A record rejected for good is moved, with the reason,
// to the dead-letter bucket (DeadLetters) and logged, never dropped; one
// rejected with Retry stays in the outbox. Failed sends back off
// exponentially, with jitter, between Config.MinBackoff and
// Config.MaxBackoff.
//
// Open starts the window and reporter goroutines; Close stops them, writes
// the partial window to the outbox and closes the file; Flush closes the
// current window and ships everything (graceful shutdown and tests).
package meter
