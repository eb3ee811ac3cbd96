package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/internal/audit"
)

// writeAuditLog writes n records through the real writer and returns the
// log's files, oldest first.
func writeAuditLog(t *testing.T, n int, cfg audit.Config) []string {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "audit.jsonl")
	}
	w, err := audit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		e := audit.Event{Actor: audit.Actor{Kind: "admin", KeyID: "admin"}, Action: "key.create",
			Target: fmt.Sprintf("key:k%d", i), Outcome: audit.OutcomeOK, Detail: map[string]string{"role": "read"}}
		if err := w.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(strings.TrimSuffix(cfg.Path, ".jsonl") + ".*jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// editLines rewrites a log file's lines (newlines kept on each).
func editLines(t *testing.T, path string, change func(l [][]byte) [][]byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	lines = lines[:len(lines)-1]
	if err := os.WriteFile(path, bytes.Join(change(lines), nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAuditVerify(t *testing.T) {
	files := writeAuditLog(t, 5, audit.Config{})
	r := runCLI(t, "", append([]string{"audit", "verify"}, files...)...)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{"5 records, chain intact, first seq 1 at 20", "last seq 5 at ", "last link: 5:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}

	tests := []struct {
		name   string
		change func(l [][]byte) [][]byte
		want   string
	}{
		{"edited", func(l [][]byte) [][]byte {
			l[1] = bytes.Replace(l[1], []byte("key:k1"), []byte("key:k9"), 1)
			return l
		}, "line 2: edited"},
		{"removed", func(l [][]byte) [][]byte { return append(l[:2:2], l[3:]...) }, "line 3: removed: seq 4 follows seq 2: seq 3 missing"},
		{"reordered", func(l [][]byte) [][]byte {
			l[1], l[2] = l[2], l[1]
			return l
		}, "line 2: reordered"},
		{"inserted", func(l [][]byte) [][]byte { return append(l[:2:2], append([][]byte{l[0]}, l[2:]...)...) }, "line 3: inserted"},
		{"truncated", func(l [][]byte) [][]byte {
			l[4] = l[4][:10]
			return l
		}, "line 5: truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := writeAuditLog(t, 5, audit.Config{})
			editLines(t, files[0], tt.change)
			r := runCLI(t, "", "audit", "verify", files[0])
			if r.code != 1 || !strings.Contains(r.stderr, files[0]+": "+tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

func TestAuditVerifyRotatedFiles(t *testing.T) {
	files := writeAuditLog(t, 30, audit.Config{MaxSize: 2000})
	if len(files) < 3 {
		t.Fatalf("files %v, want rotation", files)
	}
	r := runCLI(t, "", append([]string{"audit", "verify"}, files...)...)
	want := fmt.Sprintf("%d records, chain intact", 30+len(files)-1)
	if r.code != 0 || !strings.Contains(r.stdout, want) || strings.Contains(r.stdout, "note:") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	// A later file alone: verified, with a note on what was not checked.
	r = runCLI(t, "", "audit", "verify", files[len(files)-1])
	if r.code != 0 || !strings.Contains(r.stdout, "note: "+files[len(files)-1]+" continues ") {
		t.Errorf("last file alone: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// A file left out of the middle, or files out of order.
	for name, args := range map[string][]string{
		"gap":          {files[0], files[2]},
		"out of order": {files[1], files[0]},
	} {
		r = runCLI(t, "", append([]string{"audit", "verify"}, args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, args[1]+": line 1: start") {
			t.Errorf("%s: exit %d, stderr %q", name, r.code, r.stderr)
		}
	}
}

func TestAuditVerifyKeyedAndAnchors(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "audit.key")
	if err := os.WriteFile(keyFile, []byte("k3y-material-for-tests\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files := writeAuditLog(t, 4, audit.Config{Path: filepath.Join(dir, "log", "audit.jsonl"), HMACKey: []byte("k3y-material-for-tests")})
	r := runCLI(t, "", "audit", "verify", "--hmac-key-file", keyFile, files[0])
	if r.code != 0 || !strings.Contains(r.stdout, "4 records, chain intact") {
		t.Fatalf("keyed: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	lastLink := strings.TrimPrefix(strings.Split(r.stdout[strings.Index(r.stdout, "last link: "):], "\n")[0], "last link: ")

	r = runCLI(t, "", "audit", "verify", files[0])
	if r.code != 1 || !strings.Contains(r.stderr, "line 1: edited") || !strings.Contains(r.stderr, "give its HMAC key") {
		t.Errorf("keyed log without key: exit %d, stderr %q", r.code, r.stderr)
	}

	// Cutting the last record leaves an intact chain; the anchor catches it.
	editLines(t, files[0], func(l [][]byte) [][]byte { return l[:3] })
	r = runCLI(t, "", "audit", "verify", "--hmac-key-file", keyFile, "--anchor", lastLink, files[0])
	if r.code != 1 || !strings.Contains(r.stderr, "truncated: anchor seq 4 is past the last record (seq 3)") {
		t.Errorf("cut tail with anchor: exit %d, stderr %q", r.code, r.stderr)
	}

	usage := []struct {
		name string
		args []string
		want string
	}{
		{"no files", []string{"audit", "verify"}, "want arguments FILE..."},
		{"missing key file", []string{"audit", "verify", "--hmac-key-file", filepath.Join(dir, "nope"), files[0]}, "--hmac-key-file"},
		{"bad anchor", []string{"audit", "verify", "--anchor", "x", files[0]}, "--anchor"},
	}
	for _, tt := range usage {
		r := runCLI(t, "", tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 naming %s", tt.name, r.code, r.stderr, tt.want)
		}
	}
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o600)
	if r := runCLI(t, "", "audit", "verify", empty); r.code != 1 || !strings.Contains(r.stderr, "no records") {
		t.Errorf("empty file: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, "", "audit", "verify", filepath.Join(dir, "missing.jsonl")); r.code != 1 {
		t.Errorf("missing file: exit %d", r.code)
	}
}
