// Package meter counts what an agent serves, per tenant and window, and
// delivers it to billing exactly once, through crashes and billing outages.
//
// # Counting
//
// Record adds a Usage (reads, writes, queries, query compute ms, ingress
// and egress bytes) to the tenant's counters of the current window, after
// appending it to the journal (see Crash safety), so that it survives a
// crash of the process once Record returned. It is on every request's
// path: one mutex held for a copy of a record of about 20 bytes plus the
// tenant id into the journal's memory mapping, and a few additions — no
// system call, which would cost ten times as much (BenchmarkRecordParallel;
// figures in docs/benchmarks.md). It needs an open Meter: before
// Open and after Close it returns ErrClosed and counts nothing, as it
// does when the journal write fails.
//
// A full disk (or an I/O error) fails the journal write. For a request
// whose effect is already applied (a write that succeeded) that must not
// lose its usage, so the HTTP layer records it with RecordApplied: the
// usage is then held in memory and the call waits until it is recorded,
// journaled (retried with backoff, and after any successful write) or
// written to the outbox by a window close (alone, if the journal cannot
// even start a new file), and only then is the write answered. A failed
// write also makes the meter unready until a write succeeds again (Ready
// probes the journal with a record without usage, which replay skips),
// and the HTTP layer refuses writes before applying them while it is, so
// a full disk refuses writes instead of applying them unbilled; only the
// few admitted just before the disk filled are held. Held usage lives in
// memory: a crash loses it, like a request killed before its answer.
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
// windows tile time without gap or overlap. When a window closes, the
// journal moves to its next generation and the counters are taken out of
// the shards, the storage integral is cut at the window's end, and one
// record per tenant with non-zero usage is appended to the outbox: a
// bbolt file (meter.db) under Config.DataDir. Appending allocates the
// outbox's sequence numbers (1, 2, 3, ...) and writes the records, the
// next sequence number and the journal generation consumed in one
// fsynced transaction, so a number is never reused, even after a crash.
// If the append fails the taken counters are added back to the current
// window and their journal files kept: usage is never lost while the
// process lives, nor by a crash (see Crash safety).
//
// # Reporting
//
// The reporter ships outbox records, oldest first, in batches of up to
// Config.BatchSize, through a Sender (the billing client). It deletes a
// record only once billing answered it accepted or duplicate (billing
// deduplicates by (cluster, node, incarnation, seq) forever, so a resend
// after a crash is counted once). The incarnation is 128 random bits drawn
// when meter.db is created: a node restarted on a wiped data directory
// under the same node id numbers its records from 1 again, and they are
// new records to billing, not duplicates of the old file's. An outbox
// created before incarnations keeps none (its records keep the (cluster,
// node, seq) identity they were deduplicated by). A record rejected for good is moved, with the reason,
// to the dead-letter bucket (DeadLetters) and logged, never dropped; one
// rejected with Retry stays in the outbox. Failed sends back off
// exponentially, with jitter, between Config.MinBackoff and
// Config.MaxBackoff.
//
// # Crash safety
//
// Record appends each usage to a journal file under Config.DataDir,
// journal-<generation> (journal-000000000007), before it returns: a
// length-prefixed binary record (tenant and the six counters) ending with
// a CRC-32C, without fsync. On Linux the file is preallocated (fallocate,
// 1 MiB, then doubling up to 64 MiB steps) and mapped shared into memory,
// and a record is appended by copying it into the mapping: no system call
// per record. A store into a shared mapping is in the kernel's page cache
// at once, exactly as a write(2) would put it there. The blocks are
// allocated before they are mapped, so a full disk fails the growth (and
// Record) rather than raising SIGBUS on a store; a store that faults
// anyway (an I/O error behind the mapping) is turned into an error from
// Record. Where fallocate or shared mappings are unsupported (and on
// other platforms), each record is one write(2) instead. A generation's
// file is cut to its records when it is rotated away; a killed process
// leaves the preallocated zeros after its last record, which replay reads
// as the end of the file. One mutex serializes the appends and covers the
// counter addition, so the counters always hold exactly the journal
// records not yet in the outbox. Once Record returned, the record is in
// the page cache: killing the process (SIGKILL, a panic, the OOM killer)
// loses nothing.
//
// A window close (1) under the journal mutex starts generation G+1 and
// takes the counters, which then hold exactly the records of the
// generations <= G not yet consumed; (2) fsyncs those journal files and
// the directory; (3) writes the window's records and "journals consumed
// up to G" in one fsynced outbox transaction; (4) deletes the files <= G.
// If (2) or (3) fails, the usage goes back into the counters and the
// files stay, consumed by the next close. Open reads the consumed
// generation from the outbox, deletes the journal files at or below it,
// replays the others (and fsyncs them) into the current window's counters
// and starts a generation above every one seen: it never appends to a
// file of an earlier run. Whatever step a crash interrupts, every record
// is counted exactly once: before (3) its file is above the consumed
// generation and is replayed; from (3) on it is in the outbox and its
// file is ignored. Replayed usage is reported in the first window after
// the restart (that window's Start and End, not the time it was served).
// Close ends with a final close that consumes the current generation
// too, so a clean shutdown leaves no journal file.
//
// Replay does not stop at bytes that are not a record (bad length,
// checksum or body): records are framed and checksummed, so it skips to
// the next offset where a valid record starts and goes on. A damaged
// stretch in the middle of a file (a flipped bit, a bad block) loses the
// records it held, usually exactly one: replay logs it as an error and
// counts it (Stats.CorruptJournalRecords; the agent exports it as
// aerolith_meter_journal_corrupt_records_total and records
// meter.journal_damaged in its audit log). A stretch that runs to the end
// of the file, unless it is all zeros (a mapped file's unused end), is a
// tail, logged as a warning (Stats.SkippedJournalTails); the size of both
// is Stats.SkippedJournalBytes. A write cut short by a crash is such a
// tail; its Record never returned, so the request was never reported
// metered. A failed write fails Record (nothing is counted; the HTTP
// layer answers 503) and makes the next Record start a new generation, so
// torn bytes are always the last of their file.
//
// Power loss (or a kernel crash) is a weaker case, because the current
// generation is not fsynced until its window closes. Every other
// generation was fsynced, with the directory, before the outbox
// transaction that consumes it (a replayed one at Open). So a power loss
// can lose only records of the current generation: usage recorded since
// the start of the last window close (or the last failed write), which
// is at most one Config.Window (default 10 s) plus the duration of a
// close, and only the part the kernel had not yet written back. From a
// damaged current file (say, a block of zeros the disk never got) only
// the damaged records are skipped. A power loss never makes a
// record count twice: the consumed generation is committed in the same
// transaction as the records that hold it, and a consumed file that
// reappears is deleted unread.
//
// Storage byte-seconds are not journaled: a crash loses the integral of
// the current window (at most Window x the tenant's stored bytes).
//
// Open replays the journals and starts the window and reporter
// goroutines; Close stops them, writes the partial window to the outbox
// and closes the journal and the outbox file; Flush closes the current
// window and ships everything (graceful shutdown and tests).
package meter
