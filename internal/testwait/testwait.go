// Package testwait is the one polling wait of Aerolith's tests: wait until
// a condition holds, and on timeout fail with what was waited for and the
// condition's last error. It is imported only by tests (and test-support
// packages such as storetest), by convention.
//
// A wait polls often at first (1ms) and backs off to every 50ms, so a
// condition that is already true, or soon true, costs little, and a
// process-level condition is not hammered.
package testwait

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/backoff"
)

// interval is the schedule of the polls.
var interval = backoff.Policy{Min: time.Millisecond, Max: 50 * time.Millisecond}

// GiveUp returns an error with err's message that ends a wait at once
// (waiting cannot help: a process the condition depends on has exited).
// errors.Is and errors.As see err through it.
func GiveUp(err error) error { return giveUpError{err} }

type giveUpError struct{ error }

func (e giveUpError) Unwrap() error { return e.error }

// Poll calls f until it returns nil (Poll returns nil), timeout passes or
// f returns an error made by GiveUp. The error names what was waited for
// and wraps f's last error.
func Poll(timeout time.Duration, what string, f func() error) error {
	deadline := time.Now().Add(timeout)
	for n := 1; ; n++ {
		err := f()
		if err == nil {
			return nil
		}
		if errors.As(err, new(giveUpError)) {
			return fmt.Errorf("gave up waiting for %s: %w", what, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s: last error: %w", timeout, what, err)
		}
		time.Sleep(interval.Cap(n))
	}
}

// For is Poll failing t with Poll's error.
func For(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	if err := Poll(timeout, what, f); err != nil {
		t.Fatal(err)
	}
}

// errNotYet is the last error of a boolean condition that does not hold.
var errNotYet = errors.New("condition false")

// Until is For with a boolean condition.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	For(t, timeout, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}
