package managed

import (
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/testwait"
)

// waitFor is testwait.For with its arguments in the old order.
//
// Deprecated: call testwait.For. Kept only so that tests written against
// it on concurrent branches still build when merged; remove it once
// nothing calls it.
func waitFor(t testing.TB, what string, limit time.Duration, f func() error) {
	t.Helper()
	testwait.For(t, limit, what, f)
}
