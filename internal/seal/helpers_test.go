package seal

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"sync/atomic"
	"testing"
)

// newMaster returns a LocalMasterKey over a random key, and the key.
func newMaster(t testing.TB) (*LocalMasterKey, []byte) {
	t.Helper()
	key := make([]byte, KeySize)
	rand.Read(key)
	m, err := NewLocalMasterKey(key)
	if err != nil {
		t.Fatalf("NewLocalMasterKey: %v", err)
	}
	return m, key
}

// newKeyring returns a keyring under m with one key version for each scope.
func newKeyring(t testing.TB, m KeyWrapper, scopes ...string) *Keyring {
	t.Helper()
	k, err := New(Config{Wrapper: m})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, s := range scopes {
		if _, err := k.Rotate(context.Background(), s); err != nil {
			t.Fatalf("Rotate(%q): %v", s, err)
		}
	}
	return k
}

// mustSeal seals or fails the test.
func mustSeal(t testing.TB, k *Keyring, scope string, pt, aad []byte) []byte {
	t.Helper()
	ct, err := k.Seal(scope, pt, aad)
	if err != nil {
		t.Fatalf("Seal(%q): %v", scope, err)
	}
	return ct
}

// mustOpen opens and compares with want, or fails the test.
func mustOpen(t testing.TB, k *Keyring, scope string, ct, aad, want []byte) {
	t.Helper()
	pt, err := k.Open(scope, ct, aad)
	if err != nil {
		t.Fatalf("Open(%q): %v", scope, err)
	}
	if !bytes.Equal(pt, want) {
		t.Fatalf("Open(%q) = %q, want %q", scope, pt, want)
	}
}

// mustExport exports or fails the test.
func mustExport(t testing.TB, k *Keyring) []byte {
	t.Helper()
	b, err := k.Export()
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	return b
}

// flakyWrapper is a KeyWrapper test double whose Unwrap fails while down is
// set, standing in for an unreachable KMS.
type flakyWrapper struct {
	KeyWrapper
	down atomic.Bool
}

var errKMSDown = errors.New("kms unreachable")

func (f *flakyWrapper) Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
	if f.down.Load() {
		return nil, errKMSDown
	}
	return f.KeyWrapper.Unwrap(ctx, wrapped, aad)
}
