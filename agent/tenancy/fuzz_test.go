package tenancy

import (
	"bytes"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/contract"
)

// FuzzDecodeCommand checks that DecodeCommand never panics, and that what
// it accepts re-encodes to a command that decodes to the same encoding.
func FuzzDecodeCommand(f *testing.F) {
	key, _ := newTestKey(f, "acme", "readwrite")
	seeds := []Command{
		setPolicyCmd(f, testPolicy("acme", 4, contract.Throttle)),
		CreateKey{Key: key},
		RevokeKey{ID: key.ID, At: baseTime.Add(time.Second)},
	}
	for _, c := range seeds {
		b, err := EncodeCommand(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{CommandTag})
	f.Add([]byte{1, 0, 0})
	f.Add([]byte("T\x01{\"op\":\"revoke_key\",\"id\":\"0011\",\"at\":\"2025-01-01T00:00:00+02:00\"}"))
	f.Add([]byte("T\x01{\"op\":\"set_policy\",\"payload\":\"e30=\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommand(b)
		if err != nil {
			if c != nil {
				t.Fatalf("DecodeCommand returned %+v with error %v", c, err)
			}
			return
		}
		e1, err := EncodeCommand(c)
		if err != nil {
			// A decoded time may be outside what JSON can encode back
			// (years past 9999 cannot be decoded, so this is unexpected).
			t.Fatalf("EncodeCommand(DecodeCommand(%q)) = %v", b, err)
		}
		c2, err := DecodeCommand(e1)
		if err != nil {
			t.Fatalf("DecodeCommand(EncodeCommand(...)) = %v", err)
		}
		e2, err := EncodeCommand(c2)
		if err != nil || !bytes.Equal(e1, e2) {
			t.Fatalf("re-encoding differs:\n%q\n%q (%v)", e1, e2, err)
		}
	})
}
