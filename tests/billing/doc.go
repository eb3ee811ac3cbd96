// Package billing holds process-level suites for `aerolith billing serve`:
// billing replicas run as real processes (built once by TestMain) and are
// SIGKILLed while usage is ingested and while invoices are generated; a
// three-replica set loses its leader under load; a short billing period
// drives dunning end to end; a replica with a low --snapshot-threshold is
// killed and restarts from its snapshot with the log compacted past most
// of the usage, and answers every resent batch duplicate. Every suite then checks the ledger's
// guarantees through the HTTP API: no usage lost or counted twice, exactly
// one invoice per tenant and period, invoice totals equal to the usage
// sent. The package has no non-test code; run it with go test (skipped
// with -short).
package billing
