package store

import (
	"testing"
	"time"
)

// FuzzDecodeAwaitApplied: any payload decodes or is refused without
// panicking; what decodes re-encodes to the same bytes (apart from a wait
// above the cap), and the wait never exceeds maxAwaitAppliedWait.
func FuzzDecodeAwaitApplied(f *testing.F) {
	f.Add(encodeAwaitApplied(0, 0))
	f.Add(encodeAwaitApplied(42, time.Second))
	f.Add(encodeAwaitApplied(1<<63, time.Hour))
	f.Add([]byte{})
	f.Add([]byte{0x80})
	f.Add(append(encodeAwaitApplied(7, time.Millisecond), 0))
	f.Fuzz(func(t *testing.T, payload []byte) {
		index, wait, err := decodeAwaitApplied(payload)
		if err != nil {
			return
		}
		if wait < 0 || wait > maxAwaitAppliedWait {
			t.Fatalf("decodeAwaitApplied(%x) wait = %v, want within [0, %v]", payload, wait, maxAwaitAppliedWait)
		}
		again := encodeAwaitApplied(index, wait)
		i2, w2, err := decodeAwaitApplied(again)
		if err != nil || i2 != index || w2 != wait {
			t.Fatalf("round trip of %d, %v = %d, %v, %v", index, wait, i2, w2, err)
		}
	})
}
