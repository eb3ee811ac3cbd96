package managed

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// storageSample is one linearizable read of a tenant's stored bytes (GET
// /api/v1/stats?consistency=linearizable), sent at A and answered at B: the
// figure is the state at some instant in [A, B].
type storageSample struct {
	A, B  time.Time
	Bytes int64
}

// storageBounds bounds the integral, in byte-seconds, of a tenant's stored
// bytes m(t) as the agents' meter sees it, from the samples, for a store
// that only grows while sampled:
//
//   - m(t) changes when a write is stamped (the proposer's op time, before
//     the write commits), and every write the sample at [A, B] reflects was
//     stamped before B, so m(t) >= the sample's figure from B on: lo(t) is
//     the largest figure of the samples answered by t.
//   - a write stamped at t has committed by t+lag (lag: the longest time a
//     write took from request to answer), so a sample sent at A >= t+lag
//     reflects it: hi(t) is the smallest figure of the samples sent at
//     t+lag or later, and final (the settled figure, read after every write
//     ended) beyond the last one.
//
// lo is integrated over [from, loTo] and hi over [from, hiTo]: the caller
// passes the interval of the write that emptied the store as [loTo, hiTo].
// The gap hi-lo is the sampling error: at most the bytes written between
// two samples times the sampling period plus lag, summed.
func storageBounds(samples []storageSample, final int64, from, loTo, hiTo time.Time, lag time.Duration) (lo, hi float64) {
	// Lower: step up at each B to the running maximum.
	byB := append([]storageSample(nil), samples...)
	sort.Slice(byB, func(i, j int) bool { return byB[i].B.Before(byB[j].B) })
	var cur int64
	prev := from
	for _, s := range byB {
		if s.B.After(prev) {
			lo += float64(cur) * seconds(prev, minTime(s.B, loTo))
			prev = maxTime(prev, minTime(s.B, loTo))
		}
		cur = max(cur, s.Bytes)
	}
	lo += float64(cur) * seconds(prev, loTo)

	// Upper: hi(t) = min figure over samples with A >= t+lag.
	byA := append([]storageSample(nil), samples...)
	sort.Slice(byA, func(i, j int) bool { return byA[i].A.Before(byA[j].A) })
	suf := make([]int64, len(byA)+1)
	suf[len(byA)] = final
	for j := len(byA) - 1; j >= 0; j-- {
		suf[j] = min(suf[j+1], byA[j].Bytes)
	}
	start := from
	for j, s := range byA {
		end := s.A.Add(-lag) // hi(t) = suf[j] for t in (previous end, end]
		if end.After(start) {
			hi += float64(suf[j]) * seconds(start, minTime(end, hiTo))
			start = maxTime(start, minTime(end, hiTo))
		}
	}
	hi += float64(final) * seconds(start, hiTo)
	return lo, hi
}

// seconds returns b-a in seconds, or 0 when b is not after a.
func seconds(a, b time.Time) float64 {
	if !b.After(a) {
		return 0
	}
	return b.Sub(a).Seconds()
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// TestStorageBounds checks storageBounds against a store that grows at
// random instants, sampled at random with random latencies: the true
// integral always lies within [lo, hi], and exact samples give an exact
// answer.
func TestStorageBounds(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

	t.Run("exact samples", func(t *testing.T) {
		// 0 until 1s, 100 until 3s, 300 until 4s (emptied at 4s), read
		// without delay every 100ms: lo is exact, hi counts each step
		// one period early.
		var samples []storageSample
		for ms := 0; ms <= 4000; ms += 100 {
			v := int64(0)
			switch {
			case ms >= 3000:
				v = 300
			case ms >= 1000:
				v = 100
			}
			samples = append(samples, storageSample{at(ms), at(ms), v})
		}
		lo, hi := storageBounds(samples, 300, at(0), at(4000), at(4000), 0)
		if wantLo, wantHi := 100*2.0+300*1.0, 500+100*0.1+200*0.1; !near(lo, wantLo) || !near(hi, wantHi) {
			t.Errorf("storageBounds = [%v, %v], want [%v, %v]", lo, hi, wantLo, wantHi)
		}
	})

	t.Run("random", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for range 200 {
			// Writes stamped at random instants in [0, 10s), each committing
			// within lag of its stamp.
			lag := time.Duration(rng.IntN(300)) * time.Millisecond
			type write struct {
				stamp, commit time.Time
				delta         int64
			}
			var ws []write
			for range rng.IntN(40) {
				s := at(rng.IntN(10_000))
				ws = append(ws, write{s, s.Add(time.Duration(rng.Int64N(int64(lag) + 1))), rng.Int64N(1000)})
			}
			stamped := func(t time.Time) (n int64) {
				for _, w := range ws {
					if !w.stamp.After(t) {
						n += w.delta
					}
				}
				return n
			}
			committed := func(t time.Time) (n int64) {
				for _, w := range ws {
					if !w.commit.After(t) {
						n += w.delta
					}
				}
				return n
			}
			var samples []storageSample
			for range rng.IntN(50) {
				a := at(rng.IntN(11_000))
				b := a.Add(time.Duration(rng.IntN(200)) * time.Millisecond)
				p := a.Add(time.Duration(rng.Int64N(int64(b.Sub(a)) + 1)))
				samples = append(samples, storageSample{a, b, committed(p)})
			}
			end := at(11_000)
			final := committed(end.Add(time.Second))
			var truth float64 // integral of stamped(t) over [0, end], 1ms steps
			for ms := 0; ms < 11_000; ms++ {
				truth += float64(stamped(at(ms))) / 1000
			}
			lo, hi := storageBounds(samples, final, at(0), end, end, lag)
			// The 1ms discretisation of truth is exact for millisecond stamps.
			if truth < lo-1e-6 || truth > hi+1e-6 {
				t.Fatalf("truth %v outside [%v, %v] (lag %v, %d writes, %d samples)", truth, lo, hi, lag, len(ws), len(samples))
			}
		}
	})
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
