// Package cloud runs clusters through the provisioner's cloud drivers
// against provisioner/cloudsim, which boots every instance from its user
// data: real agents, real billing, the clouds' official SDKs.
package cloud

import (
	"os"
	"testing"

	"github.com/aerolithdb/aerolith/tests/proctest"
)

// binary is the aerolith binary built once for the package.
var binary string

func TestMain(m *testing.M) { os.Exit(proctest.RunMain(m, &binary)) }
