// Package audit keeps an append-only, hash-chained audit log in JSON lines
// and verifies it.
//
// # Format
//
// Each line is one record, written by one write(2) and ended by '\n':
//
//	{"seq":7,"time":"2026-11-27T02:26:04.123456789Z",
//	 "actor":{"kind":"tenant_key","tenant":"t1","key_id":"k9"},
//	 "action":"key.revoke","target":"key:k3","outcome":"ok",
//	 "detail":{"role":"read"},"prev":"<64 hex>","hash":"<64 hex>"}
//
// (one line in the file). seq counts records from 1 across rotated files;
// time is RFC 3339 with nanoseconds in UTC; outcome is ok, denied or error;
// detail is a small string map. prev is the hex SHA-256 of the previous
// line's bytes (without its '\n'); the very first record of a log has 64
// zeros (GenesisPrev). hash is the hex SHA-256 — or HMAC-SHA256 in keyed
// mode — of the record's canonical encoding without the hash field. The
// canonical encoding is what encoding/json produces for Record: fields in
// the order above, detail keys sorted, Go's string escaping. A line is valid
// only if it is byte for byte the canonical encoding of what it decodes to,
// so any edit, even of white space or escaping, is detected.
//
// # Writer
//
// A Writer appends records to one active file. One writer owns a log: it
// holds an exclusive lock on <path>.lock while open (on Unix), so a second
// writer fails to open. It is safe for concurrent use; records get consecutive sequence numbers in the order their Append
// calls take the writer's lock. By default every Append returns only after
// an fsync covering its record (concurrent appends share one fsync); with
// Config.SyncInterval set, records are fsynced in the background at that
// interval and a crash may lose the last interval's records.
//
// Opening an existing file verifies it and continues its chain. A torn last
// line (bytes after the last '\n', left by a crash in the middle of a write)
// is not silently dropped: if those bytes are a complete, valid next record
// that only lacks its newline, the newline is added; otherwise they are cut
// off. Either way an "audit.recovered" record saying what was done (number
// of bytes, SHA-256 of the dropped bytes) is appended and a warning logged.
// Any other damage — an invalid complete line anywhere — makes Open fail
// with ErrCorrupt: that is evidence, and the writer never rewrites it; move
// the file aside to start a new chain.
//
// When the active file would grow past Config.MaxSize, it is fsynced and
// renamed to <stem>.<first seq, 20 digits><ext> (audit.jsonl becomes
// audit.00000000000000000001.jsonl), and a new active file starts with an
// "audit.rotated" record whose prev is the hash of the previous file's last
// line and whose detail names that file and hash. Sorted by name, rotated
// files come before the active file, so `audit verify audit.*jsonl` checks
// the whole chain in order. Files are created with mode 0600.
//
// # What the chain proves
//
// With plain SHA-256 chaining, Verify detects a line that was edited,
// removed, inserted, duplicated or moved, and a torn last line, by anyone
// who did not rewrite every later line too. It does not stop someone who can
// rewrite the file: they can recompute every hash after their change, or
// simply cut whole records off the end. Plain chaining therefore proves
// integrity against accidents and partial tampering only.
//
// Keyed mode (Config.HMACKey, VerifyOptions.HMACKey) makes each record's
// hash an HMAC-SHA256 under a secret the attacker does not hold, so they
// cannot forge, edit, insert or remove a record without the chain failing
// at the change — they can still delete the whole file or cut records off
// the end. Detecting that needs an anchor kept elsewhere: ship Writer.Last
// (a Link: seq and line hash) to another system from time to time and
// verify with VerifyOptions.Anchors. Keep the key away from the log's host
// disk if the threat is the host's own administrator.
//
// # Secrets
//
// Records never hold secrets or document contents. The writer enforces what
// it can: detail keys that name a secret (containing key, token, password,
// passwd, secret, credential, authorization, cookie — except identifiers
// ending in "id", such as key_id) are dropped and listed in detail
// "redacted"; values that look like an HTTP credential ("Bearer …",
// "Basic …") are dropped the same way; and any value of Config.Secrets is
// replaced by "[redacted]" wherever it appears in a record.
package audit
