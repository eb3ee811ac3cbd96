package seal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestSealOpen(t *testing.T) {
	m, _ := newMaster(t)
	k := newKeyring(t, m, "t1", "t2")
	tests := []struct {
		name string
		pt   []byte
		aad  []byte
	}{
		{"empty", nil, nil},
		{"small", []byte(`{"name":"ada"}`), []byte("users/1")},
		{"large", bytes.Repeat([]byte("x"), 1<<20), []byte("blobs/9")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := mustSeal(t, k, "t1", tt.pt, tt.aad)
			if len(ct) != len(tt.pt)+Overhead {
				t.Fatalf("len = %d, want %d", len(ct), len(tt.pt)+Overhead)
			}
			if !IsSealed(ct) || ct[0] != 0xAE || ct[1] != 'V' || ct[2] != 1 {
				t.Fatalf("header = %x, want AE 56 01", ct[:3])
			}
			if v, err := KeyVersion(ct); err != nil || v != 1 {
				t.Fatalf("KeyVersion = %d, %v; want 1", v, err)
			}
			if len(tt.pt) > 0 && bytes.Contains(ct, tt.pt[:min(len(tt.pt), 8)]) {
				t.Fatal("ciphertext contains the plaintext")
			}
			mustOpen(t, k, "t1", ct, tt.aad, tt.pt)
			if again := mustSeal(t, k, "t1", tt.pt, tt.aad); bytes.Equal(again, ct) {
				t.Fatal("two seals are equal: nonce not random")
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	m, _ := newMaster(t)
	k := newKeyring(t, m, "t1", "t2")
	ct := mustSeal(t, k, "t1", []byte("value"), []byte("users/1"))
	tests := []struct {
		name  string
		scope string
		ct    []byte
		aad   []byte
		want  error
	}{
		{"other record", "t1", ct, []byte("users/2"), ErrDecrypt},
		{"no aad", "t1", ct, nil, ErrDecrypt},
		{"other tenant", "t2", ct, []byte("users/1"), ErrDecrypt},
		{"tenant without keys", "t3", ct, []byte("users/1"), ErrUnknownKeyVersion},
		{"future version", "t1", withVersion(ct, 2), []byte("users/1"), ErrUnknownKeyVersion},
		{"plaintext", "t1", []byte(`{"a":1}`), nil, ErrDecrypt},
		{"empty", "t1", nil, nil, ErrDecrypt},
		{"header only", "t1", ct[:Overhead-1], []byte("users/1"), ErrDecrypt},
		{"truncated", "t1", ct[:len(ct)-1], []byte("users/1"), ErrDecrypt},
		{"extended", "t1", append(bytes.Clone(ct), 0), []byte("users/1"), ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := k.Open(tt.scope, tt.ct, tt.aad)
			if !errors.Is(err, tt.want) || pt != nil {
				t.Fatalf("Open = %q, %v; want %v", pt, err, tt.want)
			}
		})
	}
	for i := range ct {
		for bit := range 8 {
			bad := bytes.Clone(ct)
			bad[i] ^= 1 << bit
			if _, err := k.Open("t1", bad, []byte("users/1")); !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrUnknownKeyVersion) {
				t.Fatalf("Open with bit %d of byte %d flipped = %v, want ErrDecrypt", bit, i, err)
			}
		}
	}
}

func withVersion(ct []byte, v byte) []byte {
	c := bytes.Clone(ct)
	c[6] = v
	return c
}

func TestSealWithoutKey(t *testing.T) {
	m, _ := newMaster(t)
	k := newKeyring(t, m)
	if _, err := k.Seal("t1", []byte("x"), nil); !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), `"t1"`) {
		t.Fatalf("Seal = %v, want ErrNoKey naming the scope", err)
	}
}

func TestRotation(t *testing.T) {
	ctx := context.Background()
	m, _ := newMaster(t)
	k := newKeyring(t, m, "t1")
	aad := []byte("c/1")
	old := mustSeal(t, k, "t1", []byte("v1"), aad)
	if k.NeedsReencrypt("t1", old) {
		t.Fatal("NeedsReencrypt(current) = true")
	}
	v, err := k.Rotate(ctx, "t1")
	if err != nil || v != 2 {
		t.Fatalf("Rotate = %d, %v; want 2", v, err)
	}
	mustOpen(t, k, "t1", old, aad, []byte("v1"))
	if !k.NeedsReencrypt("t1", old) {
		t.Fatal("NeedsReencrypt(old version) = false")
	}
	if !k.NeedsReencrypt("t1", []byte(`{"plain":true}`)) {
		t.Fatal("NeedsReencrypt(plaintext) = false")
	}
	fresh, err := k.Reseal("t1", old, aad)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := KeyVersion(fresh); got != 2 || k.NeedsReencrypt("t1", fresh) {
		t.Fatalf("resealed version = %d, want 2", got)
	}
	mustOpen(t, k, "t1", fresh, aad, []byte("v1"))
	if _, err := k.Reseal("t1", old, []byte("c/2")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Reseal(other aad) = %v, want ErrDecrypt", err)
	}
	if _, err := k.Reseal("t1", []byte("plain"), aad); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Reseal(plaintext) = %v, want ErrDecrypt", err)
	}
	if cur, ok := k.Current("t1"); !ok || cur != 2 {
		t.Fatalf("Current = %d, %v; want 2", cur, ok)
	}
	if _, ok := k.Current("nope"); ok {
		t.Fatal("Current(unknown scope) ok")
	}
}

// replica applies a log of Install commands like a raft FSM would.
type replica struct{ k *Keyring }

func (r replica) apply(ctx context.Context, cmd []WrappedDEK) error { return r.k.Install(ctx, cmd...) }

func TestInstallIsDeterministicAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	m, _ := newMaster(t)
	var reps []replica
	for range 3 {
		reps = append(reps, replica{newKeyring(t, m)})
	}
	// Two nodes propose version 1 of t1 concurrently; both proposals
	// reach the log; a stale proposer proposes version 1 again later.
	p1, _ := reps[0].k.NewVersion(ctx, "t1")
	p2, _ := reps[1].k.NewVersion(ctx, "t1")
	if p1.Version != 1 || p2.Version != 1 {
		t.Fatalf("proposed versions %d, %d; want 1, 1", p1.Version, p2.Version)
	}
	p3, _ := reps[2].k.NewVersion(ctx, "t2")
	log := [][]WrappedDEK{{p1}, {p2}, {p3}, {p1}}
	wantErr := []error{nil, ErrVersionConflict, nil, nil}
	for _, r := range reps {
		for i, cmd := range log {
			if err := r.apply(ctx, cmd); !errors.Is(err, wantErr[i]) || (wantErr[i] == nil && err != nil) {
				t.Fatalf("entry %d: Install = %v, want %v", i, err, wantErr[i])
			}
		}
	}
	// A proposer that applied the log proposes version 2.
	p4, _ := reps[2].k.NewVersion(ctx, "t1")
	gap := p4
	gap.Version = 3
	for _, r := range reps {
		if err := r.apply(ctx, []WrappedDEK{gap}); !errors.Is(err, ErrVersionConflict) {
			t.Fatalf("Install(gap) = %v, want ErrVersionConflict", err)
		}
		if err := r.apply(ctx, []WrappedDEK{p4}); err != nil {
			t.Fatalf("Install(v2) = %v", err)
		}
	}
	want := mustExport(t, reps[0].k)
	for i, r := range reps[1:] {
		if got := mustExport(t, r.k); !bytes.Equal(got, want) {
			t.Fatalf("replica %d state differs:\n%s\nwant\n%s", i+1, got, want)
		}
	}
	// Data sealed on one replica opens on every other.
	ct := mustSeal(t, reps[1].k, "t1", []byte("doc"), []byte("c/1"))
	for _, r := range reps {
		mustOpen(t, r.k, "t1", ct, []byte("c/1"), []byte("doc"))
	}
}

func TestInstallIsAtomic(t *testing.T) {
	ctx := context.Background()
	m, _ := newMaster(t)
	k := newKeyring(t, m, "t1")
	before := mustExport(t, k)
	good, _ := k.NewVersion(ctx, "t1")
	other, _ := k.NewVersion(ctx, "t2")
	conflicting, _ := k.NewVersion(ctx, "t1") // also version 2, other key
	invalid := other
	invalid.Check = nil
	for _, batch := range [][]WrappedDEK{{other, good, conflicting}, {other, good, invalid}} {
		if err := k.Install(ctx, batch...); err == nil {
			t.Fatal("Install of a batch with a bad key succeeded")
		}
		if got := mustExport(t, k); !bytes.Equal(got, before) {
			t.Fatalf("failed Install changed the keyring:\n%s", got)
		}
	}
	// Several versions of one scope in one batch, in order.
	v2, _ := k.NewVersion(ctx, "t1")
	if err := k.Install(ctx, v2); err != nil {
		t.Fatal(err)
	}
	v3, _ := k.NewVersion(ctx, "t1")
	k2 := newKeyring(t, m)
	if err := k2.Install(ctx, append(k.Keys(), v3)...); err != nil {
		t.Fatalf("Install(v1, v2, v3) = %v", err)
	}
	if cur, _ := k2.Current("t1"); cur != 3 {
		t.Fatalf("Current = %d, want 3", cur)
	}
}

func TestWrappedDEKValidation(t *testing.T) {
	ctx := context.Background()
	m, _ := newMaster(t)
	k := newKeyring(t, m)
	good, err := k.NewVersion(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		edit  func(*WrappedDEK)
		field string
	}{
		{"no scope", func(w *WrappedDEK) { w.Scope = "" }, "scope"},
		{"long scope", func(w *WrappedDEK) { w.Scope = strings.Repeat("s", maxScope+1) }, "scope"},
		{"version 0", func(w *WrappedDEK) { w.Version = 0 }, "version"},
		{"no master id", func(w *WrappedDEK) { w.MasterKeyID = "" }, "master_key_id"},
		{"no wrapped", func(w *WrappedDEK) { w.Wrapped = nil }, "wrapped"},
		{"short check", func(w *WrappedDEK) { w.Check = w.Check[:8] }, "check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := good
			tt.edit(&w)
			err := k.Install(ctx, w)
			if err == nil || !strings.Contains(err.Error(), tt.field+":") {
				t.Fatalf("Install = %v, want error naming %s", err, tt.field)
			}
		})
	}
	if _, err := k.NewVersion(ctx, ""); err == nil {
		t.Fatal("NewVersion(\"\") succeeded")
	}
}

func TestExportLoad(t *testing.T) {
	ctx := context.Background()
	m, _ := newMaster(t)
	k := newKeyring(t, m, "t2", "t1")
	k.Rotate(ctx, "t1")
	ct := mustSeal(t, k, "t1", []byte("doc"), nil)
	old := mustSeal(t, k, "t2", []byte("older"), nil)
	data := mustExport(t, k)
	if bytes.Contains(data, k.scopes["t1"].versions[1].key) {
		t.Fatal("export contains a raw data key")
	}
	// A new node holding only the master key.
	n := newKeyring(t, m, "stale")
	if err := n.Load(ctx, data); err != nil {
		t.Fatalf("Load: %v", err)
	}
	mustOpen(t, n, "t1", ct, nil, []byte("doc"))
	mustOpen(t, n, "t2", old, nil, []byte("older"))
	if cur, _ := n.Current("t1"); cur != 2 {
		t.Fatalf("Current(t1) = %d, want 2", cur)
	}
	if _, ok := n.Current("stale"); ok {
		t.Fatal("Load kept a scope that is not in the loaded state")
	}
	if got := mustExport(t, n); !bytes.Equal(got, data) {
		t.Fatalf("re-export differs:\n%s\nwant\n%s", got, data)
	}
	if keys := n.Keys(); len(keys) != 3 || keys[0].Scope != "t1" || keys[1].Version != 2 || keys[2].Scope != "t2" {
		t.Fatalf("Keys() = %v, want t1/1 t1/2 t2/1", keys)
	}
}

func TestParseKeysRejects(t *testing.T) {
	m, _ := newMaster(t)
	k := newKeyring(t, m, "t1")
	good := string(mustExport(t, k))
	one := strings.TrimSuffix(strings.TrimPrefix(good, `{"format":1,"keys":[`), "]}")
	tests := []struct {
		name, data, want string
	}{
		{"not json", "nope", "invalid character"},
		{"unknown field", `{"format":1,"keys":[],"extra":1}`, "unknown field"},
		{"trailing data", good + `{}`, "trailing data"},
		{"format", `{"format":2,"keys":[]}`, "format: 2"},
		{"duplicate", `{"format":1,"keys":[` + one + "," + one + `]}`, "given twice"},
		{"bad key", `{"format":1,"keys":[{"scope":"t1","version":1}]}`, "keys[0]"},
		{"bad base64", `{"format":1,"keys":[{"scope":"t1","version":1,"wrapped":"!!"}]}`, "illegal base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeys([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseKeys = %v, want error containing %q", err, tt.want)
			}
			before := mustExport(t, k)
			if err := k.Load(context.Background(), []byte(tt.data)); err == nil {
				t.Fatal("Load succeeded")
			}
			if !bytes.Equal(mustExport(t, k), before) {
				t.Fatal("failed Load changed the keyring")
			}
		})
	}
	if keys, err := ParseKeys([]byte(`{"format":1,"keys":[]}`)); err != nil || len(keys) != 0 {
		t.Fatalf("ParseKeys(empty) = %v, %v", keys, err)
	}
}

func TestLoadWithoutMasterKey(t *testing.T) {
	ctx := context.Background()
	m, _ := newMaster(t)
	other, _ := newMaster(t)
	k := newKeyring(t, m, "t1")
	ct := mustSeal(t, k, "t1", []byte("doc"), nil)
	n := newKeyring(t, other)
	err := n.Load(ctx, mustExport(t, k))
	if !errors.Is(err, ErrKeyUnavailable) || !strings.Contains(err.Error(), m.ID()) {
		t.Fatalf("Load = %v, want ErrKeyUnavailable naming %s", err, m.ID())
	}
	if cur, ok := n.Current("t1"); !ok || cur != 1 {
		t.Fatal("state not recorded after ErrKeyUnavailable")
	}
	if _, err := n.Open("t1", ct, nil); !errors.Is(err, ErrKeyUnavailable) {
		t.Fatalf("Open = %v, want ErrKeyUnavailable", err)
	}
	if _, err := n.Seal("t1", nil, nil); !errors.Is(err, ErrKeyUnavailable) {
		t.Fatalf("Seal = %v, want ErrKeyUnavailable", err)
	}
	if _, err := n.Rewrap(ctx); !errors.Is(err, ErrKeyUnavailable) {
		t.Fatalf("Rewrap = %v, want ErrKeyUnavailable", err)
	}
}

func TestUnlockAfterKMSOutage(t *testing.T) {
	ctx := context.Background()
	m, _ := newMaster(t)
	k := newKeyring(t, m, "t1", "t2")
	ct := mustSeal(t, k, "t1", []byte("doc"), nil)
	kms := &flakyWrapper{KeyWrapper: m}
	kms.down.Store(true)
	n := newKeyring(t, kms)
	err := n.Load(ctx, mustExport(t, k))
	if !errors.Is(err, ErrKeyUnavailable) || !errors.Is(err, errKMSDown) || !strings.Contains(err.Error(), "and 1 more") {
		t.Fatalf("Load = %v, want ErrKeyUnavailable from the KMS for 2 keys", err)
	}
	// A replica applying a new version during the outage records it.
	v2, _ := k.NewVersion(ctx, "t1")
	if err := n.Install(ctx, v2); !errors.Is(err, ErrKeyUnavailable) {
		t.Fatalf("Install = %v, want ErrKeyUnavailable (recorded, not rejected)", err)
	}
	if cur, _ := n.Current("t1"); cur != 2 {
		t.Fatalf("Current = %d, want 2", cur)
	}
	if err := n.Unlock(ctx); !errors.Is(err, ErrKeyUnavailable) {
		t.Fatalf("Unlock while down = %v", err)
	}
	kms.down.Store(false)
	if err := n.Unlock(ctx); err != nil {
		t.Fatalf("Unlock = %v", err)
	}
	mustOpen(t, n, "t1", ct, nil, []byte("doc"))
	if err := k.Install(ctx, v2); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, n, "t1", mustSeal(t, k, "t1", []byte("new"), nil), nil, []byte("new"))
}

func TestMasterKeyRotation(t *testing.T) {
	ctx := context.Background()
	m1, _ := newMaster(t)
	m2, _ := newMaster(t)
	k := newKeyring(t, m1, "t1", "t2")
	k.Rotate(ctx, "t1")
	values := map[string][]byte{}
	for _, s := range []string{"t1", "t2"} {
		values[s] = mustSeal(t, k, s, []byte("data of "+s), []byte(s))
	}
	state := mustExport(t, k)

	// Every replica is restarted with m2 current and m1 previous.
	var reps []*Keyring
	for range 2 {
		r, err := New(Config{Wrapper: m2, Previous: []KeyWrapper{m1}})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Load(ctx, state); err != nil {
			t.Fatal(err)
		}
		reps = append(reps, r)
	}
	rewrapped, err := reps[0].Rewrap(ctx)
	if err != nil || len(rewrapped) != 3 {
		t.Fatalf("Rewrap = %d keys, %v; want 3", len(rewrapped), err)
	}
	for _, r := range reps {
		if err := r.Install(ctx, rewrapped...); err != nil {
			t.Fatalf("Install(rewrapped) = %v", err)
		}
		if ids := r.MasterKeyIDs(); len(ids) != 1 || ids[m2.ID()] != 3 {
			t.Fatalf("MasterKeyIDs = %v, want only %s", ids, m2.ID())
		}
		if cur, _ := r.Current("t1"); cur != 2 {
			t.Fatalf("Current(t1) = %d after re-wrap, want 2", cur)
		}
	}
	if again, _ := reps[0].Rewrap(ctx); len(again) != 0 {
		t.Fatalf("second Rewrap = %d keys, want 0", len(again))
	}
	// m1 retired: a node with only m2 reads the unchanged data.
	only2 := newKeyring(t, m2)
	if err := only2.Load(ctx, mustExport(t, reps[1])); err != nil {
		t.Fatalf("Load under m2 only: %v", err)
	}
	for s, ct := range values {
		mustOpen(t, only2, s, ct, []byte(s), []byte("data of "+s))
	}
	// A key under an existing version with another check value is refused.
	forged := rewrapped[0]
	forged.Check = bytes.Repeat([]byte{1}, checkSize)
	if err := only2.Install(ctx, forged); !errors.Is(err, ErrVersionConflict) {
		t.Fatalf("Install(forged rewrap) = %v, want ErrVersionConflict", err)
	}
	// The local convenience does the same in one call.
	local, _ := New(Config{Wrapper: m2, Previous: []KeyWrapper{m1}})
	local.Load(ctx, state)
	if n, err := local.RewrapAll(ctx); err != nil || n != 3 {
		t.Fatalf("RewrapAll = %d, %v; want 3", n, err)
	}
	if ids := local.MasterKeyIDs(); ids[m1.ID()] != 0 {
		t.Fatalf("MasterKeyIDs = %v after RewrapAll", ids)
	}
}

func TestNewConfig(t *testing.T) {
	m, _ := newMaster(t)
	for _, cfg := range []Config{{}, {Wrapper: m, Previous: []KeyWrapper{m}}, {Wrapper: m, Previous: []KeyWrapper{nil}}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestConcurrentSealOpenRotate(t *testing.T) {
	ctx := context.Background()
	m, _ := newMaster(t)
	k := newKeyring(t, m, "t0", "t1", "t2", "t3")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Go(func() {
			scope := fmt.Sprintf("t%d", g%4)
			for i := range 200 {
				aad := fmt.Appendf(nil, "c/%d", i)
				ct, err := k.Seal(scope, aad, aad)
				if err != nil {
					errs <- err
					return
				}
				if pt, err := k.Open(scope, ct, aad); err != nil || !bytes.Equal(pt, aad) {
					errs <- fmt.Errorf("Open = %q, %v", pt, err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			if _, err := k.Rotate(ctx, fmt.Sprintf("t%d", i%4)); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestLoadReusesUnwrappedKeys(t *testing.T) {
	ctx := context.Background()
	m, _ := newMaster(t)
	kms := &flakyWrapper{KeyWrapper: m}
	k := newKeyring(t, kms, "t1", "t2")
	state := mustExport(t, k)
	kms.down.Store(true) // reloading the same state needs no key service
	if err := k.Load(ctx, state); err != nil {
		t.Fatalf("Load of already unwrapped keys = %v", err)
	}
	mustOpen(t, k, "t1", mustSeal(t, k, "t1", []byte("x"), nil), nil, []byte("x"))
}

// TestBlind: equal values blind equally across rotations, differently per
// scope and value; a scope without keys fails with ErrNoKey.
func TestBlind(t *testing.T) {
	m, _ := newMaster(t)
	k := newKeyring(t, m)
	ctx := context.Background()
	if _, err := k.Blind("t1", []byte("v")); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Blind without a key = %v, want ErrNoKey", err)
	}
	for _, s := range []string{"t1", "t2"} {
		if _, err := k.Rotate(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	a, err := k.Blind("t1", []byte("v"))
	if err != nil || len(a) != BlindSize {
		t.Fatalf("Blind = %x, %v", a, err)
	}
	if _, err := k.Rotate(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	b, _ := k.Blind("t1", []byte("v"))
	c, _ := k.Blind("t2", []byte("v"))
	d, _ := k.Blind("t1", []byte("w"))
	if !bytes.Equal(a, b) || bytes.Equal(a, c) || bytes.Equal(a, d) {
		t.Fatalf("Blind: same after rotation %v, differs per scope %v, per value %v", bytes.Equal(a, b), !bytes.Equal(a, c), !bytes.Equal(a, d))
	}
}
