package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/tests/proctest"
)

// TestCLIDotDotIDKeepsCollection reproduces issue 10's data loss end to
// end: against a real three-node cluster, `aerolith doc delete scratch ..`
// printed "deleted scratch/.." and dropped the whole collection (the agent
// answered 307 to /api/v1/collections/scratch and the CLI followed with
// DELETE). Now every command naming the id . or .. exits 1 with the
// server's error naming the id, and every node still holds every document.
func TestCLIDotDotIDKeepsCollection(t *testing.T) {
	proctest.SkipIfShort(t)
	c := proctest.StartCluster(t, proctest.Config{Binary: binary})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	urls := strings.Join(c.URLs(), ",")
	run := func(args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.CommandContext(ctx, binary, append(args, "--url", urls, "--key", c.AdminKey())...)
		cmd.Env = cliEnv()
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			t.Fatalf("aerolith %s: %v", strings.Join(args, " "), err)
		}
		return out.String(), errOut.String(), code
	}
	for _, id := range []string{"a", "b"} {
		if out, errOut, code := run("doc", "put", "scratch", id, "--data", `{"n":1}`); code != 0 {
			t.Fatalf("doc put scratch %s: exit %d, stdout %q, stderr %q", id, code, out, errOut)
		}
	}
	file := filepath.Join(t.TempDir(), "dots.jsonl")
	if err := os.WriteFile(file, []byte(`{"id":"c","n":3}`+"\n"+`{"id":"..","n":4}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	refused := []struct {
		args []string
		want string // substring of stderr
	}{
		{[]string{"doc", "delete", "scratch", ".."}, `id: ".." cannot be used`},
		{[]string{"doc", "delete", "scratch", "."}, `id: "." cannot be used`},
		{[]string{"doc", "delete", "scratch", "..", "--if-version", "1"}, `id: ".." cannot be used`},
		{[]string{"doc", "get", "scratch", ".."}, `id: ".." cannot be used`},
		{[]string{"doc", "put", "scratch", "..", "--data", `{"n":9}`}, `id: ".." cannot be used`},
		{[]string{"doc", "list", ".."}, `collection: ".." cannot be used`},
		{[]string{"batch", "import", "scratch", "--file", file}, `line 2: document id ".." cannot be used`},
	}
	for _, r := range refused {
		out, errOut, code := run(r.args...)
		if code != 1 || !strings.Contains(errOut, r.want) || strings.Contains(out, "deleted") {
			t.Errorf("aerolith %s: exit %d, stdout %q, stderr %q; want exit 1 and %q", strings.Join(r.args, " "), code, out, errOut, r.want)
		}
	}

	out, errOut, code := run("doc", "list", "scratch", "-o", "json")
	if code != 0 || !strings.Contains(out, `"total": 2`) {
		t.Fatalf("doc list scratch after the refused commands: exit %d, stdout %q, stderr %q; want both documents", code, out, errOut)
	}
	for i := range c.N() {
		for _, id := range []string{"a", "b"} {
			if _, err := c.API().Get(ctx, c.URL(i), "scratch", id, proctest.Linearizable); err != nil {
				t.Errorf("%s: document scratch/%s: %v", c.NodeID(i), id, err)
			}
		}
	}
}

// cliEnv is the test process's environment without AEROLITH_ variables, so
// only the flags configure the CLI.
func cliEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AEROLITH_") {
			env = append(env, kv)
		}
	}
	return env
}
