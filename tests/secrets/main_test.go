package secrets

import (
	"os"
	"testing"

	"github.com/aerolithdb/aerolith/tests/proctest"
)

// binary is the aerolith binary built once by TestMain.
var binary string

func TestMain(m *testing.M) { os.Exit(proctest.RunMain(m, &binary)) }
