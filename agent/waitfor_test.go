package agent

import (
	"testing"

	"github.com/aerolithdb/aerolith/internal/testwait"
)

// waitFor is testwait.Until with the package's waitLimit.
//
// Deprecated: call testwait.Until. Kept only so that tests written against
// it on concurrent branches still build when merged; remove it once
// nothing calls it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, waitLimit, what, cond)
}
