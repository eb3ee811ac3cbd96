package seal

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// snapshot writes data through k's snapshot writer.
func snapshot(t testing.TB, k *Keyring, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := k.NewSnapshotWriter(context.Background(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func restore(k *Keyring, snap []byte) ([]byte, error) {
	r, err := k.NewSnapshotReader(context.Background(), bytes.NewReader(snap))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestSnapshotEnvelope(t *testing.T) {
	m1, _ := newMaster(t)
	m2, _ := newMaster(t)
	k := newKeyring(t, m1, "t1")
	data := bytes.Repeat([]byte("marker-value "), 20000)
	snap := snapshot(t, k, data)
	if bytes.Contains(snap, []byte("marker-value")) {
		t.Fatal("snapshot contains plaintext")
	}
	if snap[0] != 0xAE || snap[1] != 'E' {
		t.Fatalf("header %x, want AE 45", snap[:2])
	}
	// A fresh node with the master key and no keyring state reads it.
	fresh := newKeyring(t, m1)
	if got, err := restore(fresh, snap); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("restore = %d bytes, %v", len(got), err)
	}
	// After a master key rotation the old snapshot reads while m1 is
	// configured as previous, and not once it is removed.
	rotated, _ := New(Config{Wrapper: m2, Previous: []KeyWrapper{m1}})
	if got, err := restore(rotated, snap); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("restore after rotation = %d bytes, %v", len(got), err)
	}
	if _, err := restore(newKeyring(t, m2), snap); !errors.Is(err, ErrKeyUnavailable) {
		t.Fatalf("restore without m1 = %v, want ErrKeyUnavailable", err)
	}
	// Empty snapshot.
	if got, err := restore(fresh, snapshot(t, k, nil)); err != nil || len(got) != 0 {
		t.Fatalf("empty restore = %q, %v", got, err)
	}
	// Every header byte and a sample of the body are authenticated.
	for _, i := range append(seq(0, 120), len(snap)/2, len(snap)-1) {
		bad := bytes.Clone(snap)
		bad[i] ^= 0x10
		if _, err := restore(fresh, bad); err == nil {
			t.Fatalf("flipped byte %d: restore succeeded", i)
		} else if !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrKeyUnavailable) && !errors.Is(err, ErrWrongMasterKey) {
			t.Fatalf("flipped byte %d: %v, want ErrDecrypt", i, err)
		}
	}
	for _, n := range []int{0, 3, 10, 60, 100, len(snap) - 1} {
		if _, err := restore(fresh, snap[:n]); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("cut to %d bytes: %v, want ErrDecrypt", n, err)
		}
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}
