package raft

import (
	"os/exec"
	"testing"
)

// TestRebaseReproducesTree: this directory must be exactly the upstream
// version named in patches/UPSTREAM with patches/*.patch applied (plus
// Aerolith's own files), so that `make rebase-raft` onto a newer upstream
// loses nothing. An edit made here without updating its patch fails this
// test. It rebuilds the tree in a temporary directory from the Go module
// cache (offline once the version is cached) and diffs it against this one.
func TestRebaseReproducesTree(t *testing.T) {
	for _, tool := range []string{"go", "git", "diff"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("rebase.sh needs %s: %v", tool, err)
		}
	}
	out, err := exec.Command("sh", "rebase.sh", "--check").CombinedOutput()
	if err != nil {
		t.Fatalf("rebase.sh --check: %v\n%s", err, out)
	}
}
