package ledger

import (
	"encoding/binary"
	"errors"
	"sort"
)

// MaxSeqGaps bounds the sequence gaps remembered per (cluster, node): a
// record that would open one more is rejected with Retry set until earlier
// records fill gaps. With it the dedup state of a node is at most a few
// tens of kilobytes, and a single varint for an in-order stream.
const MaxSeqGaps = 4096

// seqSet is the set of sequence numbers seen from one node: every seq in
// [1, w] plus the disjoint, non-adjacent, ascending ranges above w+1.
type seqSet struct {
	w      uint64
	ranges []seqRange
}

type seqRange struct{ lo, hi uint64 } // inclusive

// seen reports whether q is in the set.
func (s *seqSet) seen(q uint64) bool {
	if q <= s.w {
		return true
	}
	i := sort.Search(len(s.ranges), func(i int) bool { return s.ranges[i].hi >= q })
	return i < len(s.ranges) && s.ranges[i].lo <= q
}

// add inserts q (not yet seen), advancing the watermark over filled gaps.
// It returns false, changing nothing, when q would open a gap beyond
// MaxSeqGaps.
func (s *seqSet) add(q uint64) bool {
	if q == s.w+1 {
		s.w = q
		if len(s.ranges) > 0 && s.ranges[0].lo == s.w+1 {
			s.w = s.ranges[0].hi
			s.ranges = s.ranges[1:]
		}
		return true
	}
	i := sort.Search(len(s.ranges), func(i int) bool { return s.ranges[i].hi >= q })
	// ranges[i-1].hi < q; i == len or ranges[i].hi >= q (and lo > q since unseen).
	joinPrev := i > 0 && s.ranges[i-1].hi+1 == q
	joinNext := i < len(s.ranges) && s.ranges[i].lo-1 == q
	switch {
	case joinPrev && joinNext:
		s.ranges[i-1].hi = s.ranges[i].hi
		s.ranges = append(s.ranges[:i], s.ranges[i+1:]...)
	case joinPrev:
		s.ranges[i-1].hi = q
	case joinNext:
		s.ranges[i].lo = q
	default:
		if len(s.ranges) >= MaxSeqGaps {
			return false
		}
		s.ranges = append(s.ranges, seqRange{})
		copy(s.ranges[i+1:], s.ranges[i:])
		s.ranges[i] = seqRange{q, q}
	}
	return true
}

// encode writes w, the range count, then each range as (lo - previous hi,
// hi - lo) varints.
func (s *seqSet) encode() []byte {
	b := make([]byte, 0, 10+4*len(s.ranges))
	b = binary.AppendUvarint(b, s.w)
	b = binary.AppendUvarint(b, uint64(len(s.ranges)))
	prev := s.w
	for _, r := range s.ranges {
		b = binary.AppendUvarint(b, r.lo-prev)
		b = binary.AppendUvarint(b, r.hi-r.lo)
		prev = r.hi
	}
	return b
}

var errBadSeqSet = errors.New("corrupt dedup state")

func decodeSeqSet(b []byte) (seqSet, error) {
	d := &decoder{b: b}
	s := seqSet{w: d.u64()}
	n := d.count(2)
	if n > 0 {
		s.ranges = make([]seqRange, n)
	}
	prev := s.w
	for i := range s.ranges {
		lo := prev + d.u64()
		hi := lo + d.u64()
		if d.err == nil && (lo < prev+2 || hi < lo) {
			return seqSet{}, errBadSeqSet
		}
		s.ranges[i] = seqRange{lo, hi}
		prev = hi
	}
	if err := d.done(); err != nil {
		return seqSet{}, errBadSeqSet
	}
	return s, nil
}
