// Package security holds process-level tests of the transport security of
// agent clusters: TLS on the data API, mutual TLS with node certificates
// of the cluster's CA on the raft port (raft and the internal RPC), nodes
// with a foreign or expired certificate kept out, plain-text clients
// refused, and certificate rotation (SIGHUP and file polling) under a
// write load; and encryption at rest (encryption_test.go). Run with `go test ./tests/security` (skipped with -short).
package security

import (
	"os"
	"testing"

	"github.com/aerolithdb/aerolith/tests/proctest"
)

// binary is the aerolith binary built once by TestMain.
var binary string

func TestMain(m *testing.M) { os.Exit(proctest.RunMain(m, &binary)) }
