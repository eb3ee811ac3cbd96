package testwait

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	errBusy := errors.New("node busy")
	errExited := GiveUp(errors.New("process exited"))
	for _, tc := range []struct {
		name      string
		fails     int   // calls of f that fail before it succeeds; -1: never succeeds
		err       error // what the failing calls return
		timeout   time.Duration
		wantErr   error
		wantMsg   string
		wantCalls int // 0: don't check
	}{
		{name: "at once", fails: 0, err: errBusy, timeout: time.Minute, wantCalls: 1},
		{name: "after failures", fails: 3, err: errBusy, timeout: time.Minute, wantCalls: 4},
		{name: "timeout names what and the last error", fails: -1, err: errBusy, timeout: 20 * time.Millisecond,
			wantErr: errBusy, wantMsg: "timed out after 20ms waiting for the answer: last error: node busy"},
		{name: "give up at once", fails: -1, err: errExited, timeout: time.Minute,
			wantErr: errExited, wantMsg: "gave up waiting for the answer: process exited", wantCalls: 1},
		{name: "give up wrapped", fails: -1, err: errors.Join(errBusy, errExited), timeout: time.Minute,
			wantErr: errExited, wantCalls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := Poll(tc.timeout, "the answer", func() error {
				calls++
				if tc.fails >= 0 && calls > tc.fails {
					return nil
				}
				return tc.err
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Poll() = %v, want %v", err, tc.wantErr)
			}
			if tc.wantMsg != "" && !strings.HasPrefix(err.Error(), tc.wantMsg) {
				t.Fatalf("Poll() = %q, want %q", err, tc.wantMsg)
			}
			if tc.wantCalls != 0 && calls != tc.wantCalls {
				t.Fatalf("Poll() called f %d times, want %d", calls, tc.wantCalls)
			}
		})
	}
}

// recorder is a testing.TB that records a Fatal instead of ending the test.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatal(args ...any) {
	r.failed = args[0].(error).Error()
}

func TestUntil(t *testing.T) {
	r := &recorder{TB: t}
	n := 0
	Until(r, time.Minute, "three calls", func() bool { n++; return n == 3 })
	if r.failed != "" || n != 3 {
		t.Fatalf("Until(three calls): failed %q after %d calls, want success after 3", r.failed, n)
	}
	Until(r, 10*time.Millisecond, "never", func() bool { return false })
	if want := "timed out after 10ms waiting for never: last error: condition false"; r.failed != want {
		t.Fatalf("Until(never) failed with %q, want %q", r.failed, want)
	}
}
