package seal

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"testing"
)

// fuzzKey is a fixed master key so seeds stay valid between runs.
var fuzzKey = bytes.Repeat([]byte{0x17, 0x2b}, KeySize/2)

func fuzzMaster(t testing.TB) *LocalMasterKey {
	m, err := NewLocalMasterKey(fuzzKey)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fuzzKeyring has fixed data keys for scopes "t1" (versions 1, 2) and "t2".
func fuzzKeyring(t testing.TB) (*Keyring, []byte) {
	ctx := context.Background()
	k := newKeyring(t, fuzzMaster(t), "t1", "t2")
	k.Rotate(ctx, "t1")
	state := mustExport(t, k)
	return k, state
}

func FuzzOpen(f *testing.F) {
	k, _ := fuzzKeyring(f)
	for _, pt := range []string{"", "x", `{"a":1}`} {
		ct := mustSeal(f, k, "t1", []byte(pt), []byte("c/1"))
		f.Add(ct, "t1", []byte("c/1"))
		f.Add(ct[:len(ct)-1], "t1", []byte("c/1"))
		f.Add(withVersion(ct, 1), "t1", []byte("c/1"))
	}
	f.Add([]byte{0xAE, 'V', 1}, "t2", []byte(nil))
	f.Fuzz(func(t *testing.T, ct []byte, scope string, aad []byte) {
		pt, err := k.Open(scope, ct, aad)
		if err == nil {
			// Only a genuine seal opens; re-sealing must round-trip.
			again := mustSeal(t, k, scope, pt, aad)
			mustOpen(t, k, scope, again, aad, pt)
			return
		}
		if pt != nil || (!errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrUnknownKeyVersion)) {
			t.Fatalf("Open = %q, %v; want nil and ErrDecrypt or ErrUnknownKeyVersion", pt, err)
		}
		k.NeedsReencrypt(scope, ct)
	})
}

func FuzzUnwrap(f *testing.F) {
	ctx := context.Background()
	m := fuzzMaster(f)
	w, _ := m.Wrap(ctx, bytes.Repeat([]byte{9}, KeySize), []byte("aad"))
	f.Add(w, []byte("aad"))
	f.Add(w[:20], []byte("aad"))
	f.Add([]byte{0xAE, 'K', 1, 255}, []byte(nil))
	f.Fuzz(func(t *testing.T, wrapped, aad []byte) {
		key, err := m.Unwrap(ctx, wrapped, aad)
		if err != nil {
			if key != nil || (!errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrWrongMasterKey)) {
				t.Fatalf("Unwrap = %x, %v; want ErrDecrypt or ErrWrongMasterKey", key, err)
			}
			return
		}
		if id, err := WrappedKeyMasterID(wrapped); err != nil || id != m.ID() {
			t.Fatalf("unwrapped a key whose id is %q, %v", id, err)
		}
	})
}

func FuzzLoad(f *testing.F) {
	ctx := context.Background()
	_, state := fuzzKeyring(f)
	f.Add(state)
	f.Add([]byte(`{"format":1,"keys":[]}`))
	f.Add([]byte(`{"format":1,"keys":[{"scope":"t","version":1,"master_key_id":"x","wrapped":"AA==","check":"AAAAAAAAAAAAAAAAAAAAAA=="}]}`))
	f.Add(bytes.Replace(state, []byte(`"version":2`), []byte(`"version":1`), 1))
	m := fuzzMaster(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		k := newKeyring(t, m)
		keys, perr := ParseKeys(data)
		err := k.Load(ctx, data)
		if (perr == nil) != (err == nil || errors.Is(err, ErrKeyUnavailable)) {
			t.Fatalf("ParseKeys = %v but Load = %v", perr, err)
		}
		if perr != nil {
			if len(k.Keys()) != 0 {
				t.Fatal("failed Load changed the keyring")
			}
			return
		}
		// Loaded state re-exports to the same set of keys.
		again, err := ParseKeys(mustExport(t, k))
		if err != nil || len(again) != len(keys) {
			t.Fatalf("re-export parses to %d keys, %v; want %d", len(again), err, len(keys))
		}
		for _, w := range keys {
			if cur, ok := k.Current(w.Scope); !ok || cur < w.Version {
				t.Fatalf("scope %q current %d < loaded version %d", w.Scope, cur, w.Version)
			}
		}
	})
}

func FuzzStreamReader(f *testing.F) {
	for _, n := range []int{0, 1, MinChunkSize, 2*MinChunkSize + 3} {
		f.Add(sealStream(f, streamKey, bytes.Repeat([]byte{'a'}, n), MinChunkSize, 17))
	}
	f.Add([]byte{0xAE, 'S', 1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, stream []byte) {
		got, err := openStream(streamKey, stream)
		if err != nil && !errors.Is(err, ErrDecrypt) {
			t.Fatalf("read = %v, want ErrDecrypt", err)
		}
		if err == nil && bytes.ContainsFunc(got, func(r rune) bool { return r != 'a' }) {
			t.Fatalf("accepted a stream that no seed wrote: %q", got)
		}
	})
}

func FuzzEnvelopeReader(f *testing.F) {
	k, _ := fuzzKeyring(f)
	f.Add(snapshot(f, k, nil))
	f.Add(snapshot(f, k, bytes.Repeat([]byte{'a'}, 100)))
	f.Add([]byte{0xAE, 'E', 1, 1, 'x', 0xff, 0xff})
	f.Fuzz(func(t *testing.T, snap []byte) {
		r, err := k.NewSnapshotReader(context.Background(), bytes.NewReader(snap))
		if err == nil {
			var got []byte
			got, err = io.ReadAll(r)
			if err == nil && bytes.ContainsFunc(got, func(r rune) bool { return r != 'a' }) {
				t.Fatalf("accepted a snapshot that no seed wrote: %q", got)
			}
		}
		if err != nil && !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrKeyUnavailable) && !errors.Is(err, ErrWrongMasterKey) {
			t.Fatalf("read = %v, want ErrDecrypt or ErrKeyUnavailable", err)
		}
	})
}

func FuzzParseMasterKey(f *testing.F) {
	f.Add([]byte(hex.EncodeToString(fuzzKey)))
	f.Add([]byte("Fysr" + "\n"))
	f.Add(fuzzKey)
	f.Fuzz(func(t *testing.T, text []byte) {
		m, err := ParseMasterKey(text)
		if err == nil && len(m.ID()) != len("local:")+16 {
			t.Fatalf("ID() = %q", m.ID())
		}
	})
}
