package quota_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/quota"
	"github.com/aerolithdb/aerolith/billing/contract"
)

// TestBucketNeverExceedsRatePlusBurst drives the rate limit with random
// arrivals and checks, over every interval between two admissions, that
// admitted ≤ rate×t + burst, for block (admitted at arrival) and throttle
// (admitted at arrival + Delay), on one or several nodes.
func TestBucketNeverExceedsRatePlusBurst(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 7))
		action := contract.Block
		if seed%2 == 1 {
			action = contract.Throttle
		}
		limit := 1 + r.Int64N(50)
		nodes := 1 + r.IntN(4)
		p := roomy(action)
		p.Limits.RequestsPerSecond = limit
		e, clk := newEnforcer(t, p, nodes)
		// The node's sustained rate is limit/nodes per second; its burst
		// is ceil(limit/nodes).
		burst := (limit + int64(nodes) - 1) / int64(nodes)
		var admitted []int64 // ns since epoch
		var now int64
		for range 400 {
			step := time.Duration(r.Int64N(int64(3 * time.Second / time.Duration(limit))))
			if r.IntN(10) == 0 {
				step = time.Duration(r.Int64N(int64(2 * time.Second)))
			}
			clk.Advance(step)
			now += int64(step)
			if d := e.Request(false); d.Allow {
				admitted = append(admitted, now+int64(d.Delay))
			}
		}
		if len(admitted) < 10 {
			t.Fatalf("seed %d: only %d admitted; the test exercises nothing", seed, len(admitted))
		}
		// Admission times are non-decreasing (a throttled request waits
		// for the token after the previous one).
		for i := 1; i < len(admitted); i++ {
			if admitted[i] < admitted[i-1] {
				t.Fatalf("seed %d: admission %d at %d before %d", seed, i, admitted[i], admitted[i-1])
			}
		}
		for i := range admitted {
			for j := i; j < len(admitted); j++ {
				n := int64(j - i + 1)
				span := admitted[j] - admitted[i]
				// n ≤ span×limit/(nodes×1s) + burst, in integers.
				if (n-burst)*int64(nodes)*int64(time.Second) > span*limit {
					t.Fatalf("seed %d (%s, limit %d, nodes %d): %d admitted within %s, more than rate×t + burst %d",
						seed, action, limit, nodes, n, time.Duration(span), burst)
				}
			}
		}
	}
}

func BenchmarkRequest(b *testing.B) {
	e, err := quota.New(quota.Config{Policy: roomy(contract.Block), Nodes: 3})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d := e.Request(true); !d.Allow {
			b.Fatal(d)
		}
	}
}

func BenchmarkRequestParallel(b *testing.B) {
	e, err := quota.New(quota.Config{Policy: roomy(contract.Block), Nodes: 3})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if d := e.Request(false); !d.Allow {
				b.Error(d)
				return
			}
		}
	})
}

func BenchmarkAcquire(b *testing.B) {
	e, err := quota.New(quota.Config{Policy: roomy(contract.Block)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, release := e.Acquire(ctx)
		if !d.Allow {
			b.Fatal(d)
		}
		release()
	}
}

func BenchmarkCheckStorage(b *testing.B) {
	e, err := quota.New(quota.Config{Policy: roomy(contract.Block)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d := e.CheckStorage(1<<20, 512); !d.Allow {
			b.Fatal(d)
		}
	}
}
