package managed

import (
	"math"
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

// writeSpan is one write request as the client saw it: sent at Send and
// answered at Answer; Unknown when no answer came (it may commit at any
// time).
type writeSpan struct {
	Send, Answer time.Time
	Unknown      bool
}

// storageBounds bounds the integral, in byte-seconds, of a tenant's stored
// bytes m(t) as the agents' meter sees it, for a store that only grows
// while sampled, from the samples and the spans of every write:
//
//   - m(t) steps when a write is stamped (the proposer's op time, after
//     the request was sent and before the write commits), and every write
//     the sample [A, B] reflects was stamped before B, so m(t) >= its
//     figure from B on: lo(t) is the largest figure of the samples
//     answered by t.
//   - every write stamped by t was sent by t, so it has committed by R(t),
//     the latest answer of the writes sent by t (never, when one of them
//     got no answer), and a sample sent at R(t) or later reflects it:
//     hi(t) is the smallest figure of those samples, and final (the
//     settled figure, read after every write ended) when there is none.
//
// lo is integrated over [from, loTo] and hi over [from, hiTo]: the caller
// passes the interval of the writes that emptied the store as [loTo,
// hiTo]. hi-lo is the sampling error: about the bytes written during a
// sampling period plus the latency of the writes, summed over the run.
func storageBounds(samples []storageSample, final int64, writes []writeSpan, from, loTo, hiTo time.Time) (lo, hi float64) {
	byB := append([]storageSample(nil), samples...)
	sort.Slice(byB, func(i, j int) bool { return byB[i].B.Before(byB[j].B) })
	var cur int64
	prev := from
	for _, s := range byB {
		if end := minTime(s.B, loTo); end.After(prev) {
			lo += float64(cur) * seconds(prev, end)
			prev = end
		}
		cur = max(cur, s.Bytes)
	}
	lo += float64(cur) * seconds(prev, loTo)

	h := newUpper(samples, final, writes)
	// hi is constant between consecutive write sends.
	start := from
	for _, s := range h.sends {
		if end := minTime(s, hiTo); end.After(start) {
			hi += float64(h.at(start)) * seconds(start, end)
			start = end
		}
	}
	hi += float64(h.at(start)) * seconds(start, hiTo)
	return lo, hi
}

// upper evaluates hi(t) of storageBounds.
type upper struct {
	final    int64
	sends    []time.Time // write sends, sorted
	latest   []float64   // latest[i]: the latest answer (unix ns) of the writes sends[0..i]; +Inf when one has none
	byA      []storageSample
	minAfter []int64 // minAfter[j]: the smallest figure of byA[j:], final at the end
}

func newUpper(samples []storageSample, final int64, writes []writeSpan) *upper {
	ws := append([]writeSpan(nil), writes...)
	sort.Slice(ws, func(i, j int) bool { return ws[i].Send.Before(ws[j].Send) })
	u := &upper{final: final}
	r := math.Inf(-1)
	for _, w := range ws {
		a := float64(w.Answer.UnixNano())
		if w.Unknown {
			a = math.Inf(1)
		}
		r = math.Max(r, a)
		u.sends = append(u.sends, w.Send)
		u.latest = append(u.latest, r)
	}
	u.byA = append([]storageSample(nil), samples...)
	sort.Slice(u.byA, func(i, j int) bool { return u.byA[i].A.Before(u.byA[j].A) })
	u.minAfter = make([]int64, len(u.byA)+1)
	u.minAfter[len(u.byA)] = final
	for j := len(u.byA) - 1; j >= 0; j-- {
		u.minAfter[j] = min(u.minAfter[j+1], u.byA[j].Bytes)
	}
	return u
}

// at returns hi(t).
func (u *upper) at(t time.Time) int64 {
	// R(t): the latest answer of the writes sent at or before t.
	i := sort.Search(len(u.sends), func(i int) bool { return u.sends[i].After(t) }) - 1
	if i < 0 {
		return u.minAfter[0] // nothing written yet: every sample bounds m(t)
	}
	r := u.latest[i]
	if math.IsInf(r, 1) {
		return u.final
	}
	j := sort.Search(len(u.byA), func(j int) bool { return float64(u.byA[j].A.UnixNano()) >= r })
	return u.minAfter[j]
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
// integral always lies within [lo, hi], and prompt samples of prompt
// writes give a tight answer.
func TestStorageBounds(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

	t.Run("prompt", func(t *testing.T) {
		// +100 at 1s, +200 at 3s, emptied at 4s; each write answered
		// 10ms after it was sent; read without delay every 100ms.
		writes := []writeSpan{{Send: at(1000), Answer: at(1010)}, {Send: at(3000), Answer: at(3010)}}
		var samples []storageSample
		for ms := 0; ms <= 4000; ms += 100 {
			v := int64(0)
			switch {
			case ms >= 3010:
				v = 300
			case ms >= 1010:
				v = 100
			}
			samples = append(samples, storageSample{at(ms), at(ms), v})
		}
		lo, hi := storageBounds(samples, 300, writes, at(0), at(4000), at(4000))
		// lo steps at the first samples showing the writes (1.1s, 3.1s),
		// hi at the sends (1s, 3s).
		if wantLo, wantHi := 100*2.0+300*0.9, 100*2.0+300*1.0; !near(lo, wantLo) || !near(hi, wantHi) {
			t.Errorf("storageBounds = [%v, %v], want [%v, %v]", lo, hi, wantLo, wantHi)
		}
	})

	t.Run("unanswered write", func(t *testing.T) {
		writes := []writeSpan{{Send: at(1000), Unknown: true}}
		samples := []storageSample{{at(0), at(0), 0}, {at(2000), at(2000), 0}}
		// The write may commit any time: hi counts the final figure from
		// its send on, lo what the samples showed.
		lo, hi := storageBounds(samples, 50, writes, at(0), at(4000), at(4000))
		if !near(lo, 0) || !near(hi, 50*3.0) {
			t.Errorf("storageBounds = [%v, %v], want [0, 150]", lo, hi)
		}
	})

	t.Run("random", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for range 200 {
			type write struct {
				span          writeSpan
				stamp, commit time.Time
				delta         int64
			}
			var ws []write
			for range rng.IntN(40) {
				send := at(rng.IntN(10_000))
				stamp := send.Add(time.Duration(rng.IntN(50)) * time.Millisecond)
				commit := stamp.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
				answer := commit.Add(time.Duration(rng.IntN(50)) * time.Millisecond)
				ws = append(ws, write{writeSpan{send, answer, rng.IntN(10) == 0}, stamp, commit, rng.Int64N(1000)})
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
			for range rng.IntN(80) {
				a := at(rng.IntN(14_000))
				b := a.Add(time.Duration(rng.IntN(200)) * time.Millisecond)
				p := a.Add(time.Duration(rng.Int64N(int64(b.Sub(a)) + 1)))
				samples = append(samples, storageSample{a, b, committed(p)})
			}
			var spans []writeSpan
			for _, w := range ws {
				spans = append(spans, w.span)
			}
			end := at(14_000)
			final := committed(end.Add(time.Minute))
			var truth float64 // integral of stamped(t) over [0, end]
			for _, w := range ws {
				truth += float64(w.delta) * seconds(w.stamp, end)
			}
			lo, hi := storageBounds(samples, final, spans, at(0), end, end)
			if truth < lo-1e-6 || truth > hi+1e-6 {
				t.Fatalf("truth %v outside [%v, %v] (%d writes, %d samples)", truth, lo, hi, len(ws), len(samples))
			}
		}
	})
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
