package ledger

import (
	"math/rand/v2"
	"testing"
)

func TestSeqSetModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		var s seqSet
		model := map[uint64]bool{}
		n := uint64(1 + rng.IntN(300))
		perm := rng.Perm(int(n))
		for _, p := range perm {
			q := uint64(p + 1)
			for _, probe := range []uint64{q, uint64(rng.IntN(int(n)+5) + 1)} {
				if got := s.seen(probe); got != model[probe] {
					t.Fatalf("round %d: seen(%d) = %v, want %v (set %+v)", round, probe, got, model[probe], s)
				}
			}
			if !s.add(q) {
				t.Fatalf("add(%d) refused with %d ranges", q, len(s.ranges))
			}
			model[q] = true
			checkInvariants(t, &s)
			back, err := decodeSeqSet(s.encode())
			if err != nil || back.w != s.w || len(back.ranges) != len(s.ranges) {
				t.Fatalf("round trip of %+v = %+v, %v", s, back, err)
			}
			for i := range back.ranges {
				if back.ranges[i] != s.ranges[i] {
					t.Fatalf("round trip ranges = %v, want %v", back.ranges, s.ranges)
				}
			}
		}
		// Every seq delivered: the watermark covers them all, no ranges left.
		if s.w != n || len(s.ranges) != 0 {
			t.Fatalf("round %d: after all %d seqs, set = %+v", round, n, s)
		}
	}
}

func checkInvariants(t *testing.T, s *seqSet) {
	t.Helper()
	prev := s.w
	for _, r := range s.ranges {
		if r.lo < prev+2 || r.hi < r.lo {
			t.Fatalf("bad ranges: w=%d ranges=%v", s.w, s.ranges)
		}
		prev = r.hi
	}
}

func TestSeqSetGapLimit(t *testing.T) {
	var s seqSet
	for i := 0; i < MaxSeqGaps; i++ {
		if !s.add(uint64(3 + 2*i)) {
			t.Fatalf("add refused at gap %d", i)
		}
	}
	next := uint64(3 + 2*MaxSeqGaps + 1)
	if s.add(next) {
		t.Fatal("a gap beyond MaxSeqGaps was accepted")
	}
	if s.seen(next) {
		t.Fatal("a refused seq counts as seen")
	}
	// Extending an existing range needs no new gap.
	if !s.add(4) {
		t.Fatal("extending a range was refused")
	}
	if !s.add(1) || !s.add(2) || s.w != 5 {
		t.Fatalf("filling the first gap: w = %d, want 5", s.w)
	}
}

func TestDecodeSeqSetCorrupt(t *testing.T) {
	for _, b := range [][]byte{{}, {1}, {1, 1, 0, 0}, {1, 2, 5, 0}, {0, 0, 7}} {
		if _, err := decodeSeqSet(b); err == nil {
			t.Errorf("decodeSeqSet(%v) succeeded", b)
		}
	}
}
