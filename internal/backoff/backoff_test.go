package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPolicyCap(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name string
		p    Policy
		n    int
		want time.Duration
	}{
		{"first", Policy{10 * ms, 80 * ms}, 1, 10 * ms},
		{"below one counts as one", Policy{10 * ms, 80 * ms}, 0, 10 * ms},
		{"doubles", Policy{10 * ms, 80 * ms}, 3, 40 * ms},
		{"reaches cap", Policy{10 * ms, 80 * ms}, 4, 80 * ms},
		{"capped", Policy{10 * ms, 80 * ms}, 5, 80 * ms},
		{"not a power of two apart", Policy{10 * ms, 50 * ms}, 4, 50 * ms},
		{"huge n does not overflow", Policy{10 * ms, 80 * ms}, 1 << 20, 80 * ms},
		{"max below min", Policy{10 * ms, 5 * ms}, 3, 10 * ms},
		{"zero max", Policy{10 * ms, 0}, 3, 10 * ms},
	} {
		if got := tc.p.Cap(tc.n); got != tc.want {
			t.Errorf("%s: %+v.Cap(%d) = %s, want %s", tc.name, tc.p, tc.n, got, tc.want)
		}
	}
}

func TestPolicyDelay(t *testing.T) {
	const ms = time.Millisecond
	p := Policy{100 * ms, 3 * time.Second}
	for _, tc := range []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{1, 0, 50 * ms},
		{1, 0.5, 75 * ms},
		{2, 0, 100 * ms},
		{3, 0.5, 300 * ms},
		{200, 0, 1500 * ms},
	} {
		if got := p.Delay(tc.n, tc.r); got != tc.want {
			t.Errorf("Delay(%d, %v) = %s, want %s", tc.n, tc.r, got, tc.want)
		}
	}
	// Every draw stays in [Cap/2, Cap], and the longest wait never shrinks.
	prev := time.Duration(0)
	for n := 1; n <= 200; n++ {
		for _, r := range []float64{0, 0.5, 0.999999} {
			if d, c := p.Delay(n, r), p.Cap(n); d < c/2 || d > c {
				t.Fatalf("Delay(%d, %v) = %s, outside [%s, %s]", n, r, d, c/2, c)
			}
		}
		m := p.Delay(n, 0.999999)
		if m < prev {
			t.Fatalf("Delay(%d) max %s shrank from %s", n, m, prev)
		}
		prev = m
	}
	for range 100 {
		if d := p.Jittered(3); d < 200*ms || d > 400*ms {
			t.Fatalf("Jittered(3) = %s, want in [200ms, 400ms]", d)
		}
	}
}

func TestBackoffNextReset(t *testing.T) {
	const ms = time.Millisecond
	b := New(10*ms, 40*ms)
	b.Rand = func() float64 { return 0 } // the lower bound: Cap/2
	for i, want := range []time.Duration{5 * ms, 10 * ms, 20 * ms, 20 * ms} {
		if got := b.Next(); got != want {
			t.Fatalf("Next() #%d = %s, want %s", i+1, got, want)
		}
	}
	if got := b.Attempt(); got != 4 {
		t.Fatalf("Attempt() = %d, want 4", got)
	}
	b.Reset()
	if got := b.Attempt(); got != 0 {
		t.Fatalf("Attempt() after Reset = %d, want 0", got)
	}
	if got := b.Next(); got != 5*ms {
		t.Fatalf("Next() after Reset = %s, want 5ms", got)
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep(cancelled, 0) = %v, want context.Canceled", err)
	}
	// A long wait is cut short by the context: the test would time out
	// otherwise.
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(time.Hour, time.Hour).Wait(ctx) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait(cancelled) = %v, want context.Canceled", err)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep(1ms) = %v, want nil", err)
	}
}
