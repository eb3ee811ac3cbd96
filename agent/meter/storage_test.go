package meter

import (
	"testing"
	"time"
)

const sec = int64(time.Second)

func TestStorageIntegration(t *testing.T) {
	type step struct {
		op     string // "obs", "lead", "lose", "take"
		tenant string
		bytes  uint64
		at     int64 // seconds
		want   map[string]uint64
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"not leader counts nothing", []step{
			{op: "obs", tenant: "a", bytes: 100, at: 1},
			{op: "take", at: 11, want: map[string]uint64{}},
		}},
		{"step method", []step{
			{op: "lead", at: 0},
			{op: "obs", tenant: "a", bytes: 100, at: 1},
			{op: "obs", tenant: "a", bytes: 300, at: 3},
			{op: "obs", tenant: "b", bytes: 7, at: 5},
			{op: "take", at: 10, want: map[string]uint64{"a": 100*2 + 300*7, "b": 7 * 5}},
			{op: "take", at: 12, want: map[string]uint64{"a": 600, "b": 14}},
		}},
		{"only while leader", []step{
			{op: "obs", tenant: "a", bytes: 10, at: 0},
			{op: "lead", at: 2},
			{op: "lose", at: 5},
			{op: "lead", at: 8},
			{op: "take", at: 10, want: map[string]uint64{"a": 10 * (3 + 2)}},
		}},
		{"observation before lead counts from lead", []step{
			{op: "obs", tenant: "a", bytes: 4, at: 0},
			{op: "take", at: 1, want: map[string]uint64{}},
			{op: "lead", at: 3},
			{op: "take", at: 4, want: map[string]uint64{"a": 4}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStorage()
			for i, st := range tt.steps {
				at := st.at * sec
				switch st.op {
				case "obs":
					s.observe(st.tenant, st.bytes, at)
				case "lead":
					s.setLeader(true, at)
				case "lose":
					s.setLeader(false, at)
				case "take":
					got := s.take(at)
					if len(got) != len(st.want) {
						t.Fatalf("step %d: take = %v, want %v", i, got, st.want)
					}
					for k, v := range st.want {
						if got[k] != v {
							t.Fatalf("step %d: take = %v, want %v", i, got, st.want)
						}
					}
				}
			}
		})
	}
}

// TestStorageRemainderCarried: sub-second byte-nanoseconds are carried
// across windows, so many short windows sum to the exact integral.
func TestStorageRemainderCarried(t *testing.T) {
	s := newStorage()
	s.setLeader(true, 0)
	s.observe("a", 3, 0)
	var sum uint64
	for i := int64(1); i <= 1000; i++ {
		sum += s.take(i * 7 * int64(time.Millisecond))["a"]
	}
	// 3 bytes for 7 s = 21 byte-seconds, taken in 1000 windows of 7ms.
	if sum != 21 {
		t.Fatalf("sum of windows = %d, want 21", sum)
	}
}

// TestStorageHandover: two nodes told the same handover instant tile the
// timeline: their sum equals one node leading throughout.
func TestStorageHandover(t *testing.T) {
	old, nw := newStorage(), newStorage()
	for _, s := range []*storage{old, nw} {
		s.observe("a", 1000, 0) // every replica applies the same counter
	}
	old.setLeader(true, 0)
	handover := 7*sec + 250*int64(time.Millisecond) // inside a window
	w1 := old.take(5 * sec)["a"]
	old.setLeader(false, handover)
	nw.setLeader(true, handover)
	w2 := old.take(10 * sec)["a"] + nw.take(10 * sec)["a"]
	w3 := nw.take(20 * sec)["a"]
	if got, want := w1+w2+w3, uint64(1000*20); got != want {
		t.Fatalf("handover total = %d, want %d", got, want)
	}
	if old.overlapTotal() != 0 {
		t.Fatalf("overlap = %s, want 0", old.overlapTotal())
	}
	// A loss reported after a window closed past it is an overlap.
	late := newStorage()
	late.setLeader(true, 0)
	late.take(10 * sec)
	late.setLeader(false, 9*sec)
	if got := late.overlapTotal(); got != time.Second {
		t.Fatalf("overlap = %s, want 1s", got)
	}
}

func TestStorageGiveBack(t *testing.T) {
	s := newStorage()
	s.setLeader(true, 0)
	s.observe("a", 2, 0)
	got := s.take(5 * sec)
	s.giveBack(got)
	if v := s.take(6 * sec)["a"]; v != 12 {
		t.Fatalf("after give back = %d, want 12", v)
	}
}
