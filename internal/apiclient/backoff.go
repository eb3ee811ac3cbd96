package apiclient

import (
	"time"

	"github.com/aerolithdb/aerolith/internal/backoff"
)

// Backoff returns the delay before retry number n (1-based): exponential
// from lo, capped at hi, drawn from its upper half.
//
// Deprecated: use backoff.Policy{Min: lo, Max: hi}.Jittered(n). Kept only
// so that code written against it on concurrent branches still builds when
// merged; remove it once nothing calls it.
func Backoff(n int, lo, hi time.Duration) time.Duration {
	return backoff.Policy{Min: lo, Max: hi}.Jittered(n)
}
