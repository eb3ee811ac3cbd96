package seal

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// assertNoKeyMaterial fails if s contains key raw, in hex (any 6-byte
// window, either case), in base64 (any alphabet, padded or not), or as Go
// byte-slice syntax.
func assertNoKeyMaterial(t *testing.T, s string, key []byte) {
	t.Helper()
	if strings.Contains(s, string(key)) {
		t.Fatalf("output contains raw key bytes: %q", s)
	}
	lower := strings.ToLower(s)
	for i := 0; i+6 <= len(key); i++ {
		if h := hex.EncodeToString(key[i : i+6]); strings.Contains(lower, h) {
			t.Fatalf("output contains key bytes %d..%d in hex: %q", i, i+6, s)
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if e := enc.EncodeToString(key); strings.Contains(s, e[:len(e)-4]) {
			t.Fatalf("output contains the key in base64: %q", s)
		}
	}
	if strings.Contains(s, fmt.Sprintf("%#v", key)[:40]) || strings.Contains(s, fmt.Sprint(key)[:30]) {
		t.Fatalf("output contains the key as a byte slice: %q", s)
	}
}

// printAll formats v with every verb that could dump bytes, and logs it
// through slog's text and JSON handlers.
func printAll(v any) string {
	var b strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		fmt.Fprintf(&b, verb+"\n", v)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("k", "v", v)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("k", "v", v)
	return b.String() + logs.String()
}

func TestNoKeyMaterialInOutput(t *testing.T) {
	ctx := context.Background()
	m, mkey := newMaster(t)
	prev, pkey := newMaster(t)
	k, err := New(Config{Wrapper: m, Previous: []KeyWrapper{prev}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"t1", "t2"} {
		if _, err := k.Rotate(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	k.Rotate(ctx, "t1")
	var deks [][]byte
	for _, sk := range k.scopes {
		for _, dk := range sk.versions {
			deks = append(deks, dk.key)
		}
	}
	if len(deks) != 3 {
		t.Fatalf("%d data keys, want 3", len(deks))
	}
	var sink bytes.Buffer
	sw, err := k.NewSnapshotWriter(ctx, &sink)
	if err != nil {
		t.Fatal(err)
	}
	sw.Write([]byte("plaintext in the buffer"))
	streamKey := bytes.Repeat([]byte{0x5a, 0xc3}, KeySize/2)
	sr, _ := NewReader(&sink, streamKey)

	out := printAll(m) + printAll(*m) + printAll(prev) + printAll(k) +
		printAll(sw) + printAll(sr) + printAll(k.Keys()) + printAll([]any{m, k})
	for _, key := range append([][]byte{mkey, pkey, streamKey}, deks...) {
		assertNoKeyMaterial(t, out, key)
	}
	if strings.Contains(out, "plaintext in the buffer") {
		t.Fatal("a writer's buffered plaintext was printed")
	}
	if !strings.Contains(out, m.ID()) || !strings.Contains(out, "seal.Keyring(2 scopes, 3 keys") {
		t.Fatalf("printed forms lack the ids and summary:\n%s", out)
	}
}

func TestNoKeyMaterialInErrors(t *testing.T) {
	ctx := context.Background()
	m, mkey := newMaster(t)
	other, _ := newMaster(t)
	k := newKeyring(t, m, "t1")
	dek := k.scopes["t1"].versions[1].key
	ct := mustSeal(t, k, "t1", []byte("secret value"), []byte("doc-1"))

	var errs []error
	_, err := k.Open("t1", ct, []byte("doc-2"))
	errs = append(errs, err)
	_, err = k.Open("t2", ct, nil)
	errs = append(errs, err)
	bad := bytes.Clone(ct)
	bad[len(bad)-1] ^= 1
	_, err = k.Open("t1", bad, []byte("doc-1"))
	errs = append(errs, err)
	k2, _ := New(Config{Wrapper: other})
	errs = append(errs, k2.Load(ctx, mustExport(t, k)))
	_, err = k2.Seal("t1", nil, nil)
	errs = append(errs, err)
	_, err = ParseMasterKey([]byte(hex.EncodeToString(mkey)[:63]))
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Fatal("expected an error")
		}
		for _, key := range [][]byte{mkey, dek} {
			assertNoKeyMaterial(t, err.Error()+fmt.Sprintf("%+v %#v", err, err), key)
		}
		if strings.Contains(err.Error(), "secret value") {
			t.Fatalf("error %q contains plaintext", err)
		}
	}
}
