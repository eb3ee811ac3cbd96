package seal

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLoadMasterKeyFile(t *testing.T) {
	want, key := newMaster(t)
	hexKey := hex.EncodeToString(key)
	tests := []struct {
		name    string
		content []byte
		mode    os.FileMode
		wantErr string // substring; "" means success
	}{
		{"raw bytes", key, 0o600, ""},
		{"hex", []byte(hexKey), 0o600, ""},
		{"upper hex with newline", []byte(strings.ToUpper(hexKey) + "\n"), 0o400, ""},
		{"base64 std", []byte(base64.StdEncoding.EncodeToString(key) + "\n"), 0o600, ""},
		{"base64 raw std", []byte(base64.RawStdEncoding.EncodeToString(key)), 0o600, ""},
		{"base64 url", []byte("  " + base64.URLEncoding.EncodeToString(key) + "\r\n"), 0o600, ""},
		{"group readable", []byte(hexKey), 0o640, "chmod 600"},
		{"world readable", []byte(hexKey), 0o644, "mode 0644 gives group or others access"},
		{"group writable", []byte(hexKey), 0o620, "chmod 600"},
		{"short hex", []byte(hexKey[:62]), 0o600, "want 64 hex digits or base64 of 32 bytes"},
		{"16-byte base64", []byte(base64.StdEncoding.EncodeToString(key[:16])), 0o600, "want 64 hex digits"},
		{"31 raw bytes", key[:31], 0o600, "or exactly 32 raw bytes"},
		{"empty", nil, 0o600, "(0 characters of text)"},
		{"too large", bytes.Repeat([]byte("a"), 5000), 0o600, "larger than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if runtime.GOOS == "windows" && tt.mode&0o077 != 0 {
				t.Skip("no Unix permissions")
			}
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			got, err := LoadMasterKeyFile(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("LoadMasterKeyFile = %v, want success", err)
				}
				if got.ID() != want.ID() {
					t.Fatalf("ID() = %s, want %s (same key)", got.ID(), want.ID())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LoadMasterKeyFile error = %v, want one containing %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			assertNoKeyMaterial(t, err.Error(), key)
		})
	}
}

func TestLoadMasterKeyFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadMasterKeyFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("LoadMasterKeyFile(dir) = %v, want not a regular file", err)
	}
	if _, err := LoadMasterKeyFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("LoadMasterKeyFile(missing) = %v, want ErrNotExist", err)
	}
}

func TestMasterKeyFromEnv(t *testing.T) {
	want, key := newMaster(t)
	t.Setenv("SEAL_TEST_KEY", base64.StdEncoding.EncodeToString(key))
	got, err := MasterKeyFromEnv("SEAL_TEST_KEY")
	if err != nil || got.ID() != want.ID() {
		t.Fatalf("MasterKeyFromEnv = %v, %v; want id %s", got, err, want.ID())
	}
	t.Setenv("SEAL_TEST_KEY", hex.EncodeToString(key)[:40])
	_, err = MasterKeyFromEnv("SEAL_TEST_KEY")
	if err == nil || !strings.Contains(err.Error(), "SEAL_TEST_KEY") {
		t.Fatalf("MasterKeyFromEnv(short) = %v, want error naming the variable", err)
	}
	assertNoKeyMaterial(t, err.Error(), key)
	_, err = MasterKeyFromEnv("SEAL_TEST_UNSET_VARIABLE")
	if err == nil || !strings.Contains(err.Error(), "SEAL_TEST_UNSET_VARIABLE is not set") {
		t.Fatalf("MasterKeyFromEnv(unset) = %v, want not set", err)
	}
}

func TestNewLocalMasterKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		_, err := NewLocalMasterKey(make([]byte, n))
		if err == nil || !strings.Contains(err.Error(), "want 32") {
			t.Errorf("NewLocalMasterKey(%d bytes) = %v, want length error", n, err)
		}
	}
}

func TestGenerateMasterKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	m, err := GenerateMasterKey(path)
	if err != nil {
		t.Fatalf("GenerateMasterKey: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %04o, want 0600", fi.Mode().Perm())
	}
	loaded, err := LoadMasterKeyFile(path)
	if err != nil || loaded.ID() != m.ID() {
		t.Fatalf("LoadMasterKeyFile = %v, %v; want id %s", loaded, err, m.ID())
	}
	_, err = GenerateMasterKey(path)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second GenerateMasterKey = %v, want already exists", err)
	}
	again, _ := LoadMasterKeyFile(path)
	if again.ID() != m.ID() {
		t.Fatalf("key file changed by the refused GenerateMasterKey")
	}
}

func TestWrapUnwrap(t *testing.T) {
	ctx := context.Background()
	m, _ := newMaster(t)
	other, _ := newMaster(t)
	dek := bytes.Repeat([]byte{7}, KeySize)
	aad := []byte("tenant-1/v1")
	w, err := m.Wrap(ctx, dek, aad)
	if err != nil {
		t.Fatal(err)
	}
	if w[0] != 0xAE || w[1] != 'K' || w[2] != 1 || int(w[3]) != len(m.ID()) || string(w[4:4+len(m.ID())]) != m.ID() {
		t.Fatalf("wrapped header = %x, want AE 4B 01 len id", w[:4+len(m.ID())])
	}
	if id, err := WrappedKeyMasterID(w); err != nil || id != m.ID() {
		t.Fatalf("WrappedKeyMasterID = %q, %v; want %q", id, err, m.ID())
	}
	got, err := m.Unwrap(ctx, w, aad)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("Unwrap = %x, %v; want the key", got, err)
	}
	w2, _ := m.Wrap(ctx, dek, aad)
	if bytes.Equal(w, w2) {
		t.Fatal("two wraps of one key are equal: nonce not random")
	}
	if _, err := m.Unwrap(ctx, w, []byte("tenant-2/v1")); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Unwrap(other aad) = %v, want ErrDecrypt", err)
	}
	if _, err := other.Unwrap(ctx, w, aad); !errors.Is(err, ErrWrongMasterKey) || !strings.Contains(err.Error(), m.ID()) {
		t.Errorf("other.Unwrap = %v, want ErrWrongMasterKey naming %s", err, m.ID())
	}
	for i := range w {
		bad := bytes.Clone(w)
		bad[i] ^= 0x01
		if _, err := m.Unwrap(ctx, bad, aad); !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrWrongMasterKey) {
			t.Fatalf("Unwrap with byte %d flipped = %v, want ErrDecrypt", i, err)
		}
	}
	for n := range len(w) {
		if _, err := m.Unwrap(ctx, w[:n], aad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("Unwrap of %d-byte prefix = %v, want ErrDecrypt", n, err)
		}
	}
	for _, n := range []int{0, maxWrapKey + 1} {
		if _, err := m.Wrap(ctx, make([]byte, n), nil); err == nil {
			t.Errorf("Wrap(%d bytes) succeeded, want length error", n)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Wrap(cctx, dek, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Wrap(cancelled) = %v, want context.Canceled", err)
	}
}
