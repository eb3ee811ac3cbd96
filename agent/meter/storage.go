package meter

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// storage integrates per-tenant stored bytes into byte-seconds over the
// intervals this node is leader (see the package comment).
type storage struct {
	mu      sync.Mutex
	leader  bool
	since   int64 // unix ns: start of the current leadership interval
	cut     int64 // unix ns: everything before it has been integrated (or skipped)
	tenants map[string]*tenantStorage
	overlap time.Duration // leadership lost before an already-closed window's end
}

type tenantStorage struct {
	bytes   uint64 // last observed value
	hi, lo  uint64 // accumulated byte-nanoseconds (128 bits), not yet reported
	carried bool   // the tenant has an accumulated value
}

func newStorage() *storage {
	return &storage{tenants: make(map[string]*tenantStorage)}
}

// advance integrates every tenant from the last cut to t (unix ns) when
// leader, and moves the cut to t. Caller holds mu.
func (s *storage) advance(t int64) {
	if t <= s.cut {
		return
	}
	if s.leader {
		from := max(s.cut, s.since)
		if t > from {
			dt := uint64(t - from)
			for _, ts := range s.tenants {
				if ts.bytes == 0 {
					continue
				}
				hi, lo := bits.Mul64(ts.bytes, dt)
				var c uint64
				ts.lo, c = bits.Add64(ts.lo, lo, 0)
				ts.hi, _ = bits.Add64(ts.hi, hi, c)
				ts.carried = true
			}
		}
	}
	s.cut = t
}

// observe records tenant's stored bytes at t.
func (s *storage) observe(tenant string, b uint64, t int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(t)
	ts := s.tenants[tenant]
	if ts == nil {
		ts = new(tenantStorage)
		s.tenants[tenant] = ts
	}
	ts.bytes = b
}

// setLeader starts or ends a leadership interval at t.
func (s *storage) setLeader(leader bool, t int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if leader == s.leader {
		return
	}
	if leader {
		s.advance(t)
		s.since = max(t, s.cut)
		s.leader = true
		return
	}
	if t < s.cut {
		// A window already closed past t counted [t, cut) as ours.
		s.overlap += time.Duration(s.cut - t)
	}
	s.advance(t)
	s.leader = false
}

// take integrates up to t and returns each tenant's whole byte-seconds,
// keeping the sub-second remainder for the next window. A tenant whose
// byte-seconds exceed 2^64-1 in one window gets MaxUint64 (impossible in
// practice: 580 years of an exabyte).
func (s *storage) take(t int64) map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(t)
	out := make(map[string]uint64)
	for name, ts := range s.tenants {
		if !ts.carried {
			continue
		}
		var q, r uint64
		if ts.hi >= 1e9 {
			q, r = math.MaxUint64, 0
		} else {
			q, r = bits.Div64(ts.hi, ts.lo, 1e9)
		}
		ts.hi, ts.lo = 0, r
		ts.carried = r != 0
		if q > 0 {
			out[name] = q
		}
	}
	return out
}

// giveBack returns byte-seconds taken for a window that could not be
// written, so the next window carries them.
func (s *storage) giveBack(m map[string]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, q := range m {
		ts := s.tenants[name]
		if ts == nil {
			ts = new(tenantStorage)
			s.tenants[name] = ts
		}
		hi, lo := bits.Mul64(q, 1e9)
		var c uint64
		ts.lo, c = bits.Add64(ts.lo, lo, 0)
		ts.hi, _ = bits.Add64(ts.hi, hi, c)
		ts.carried = true
	}
}

func (s *storage) overlapTotal() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overlap
}
