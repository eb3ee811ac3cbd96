package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/store/storetest"
)

// startLocalAgent runs a one-node agent in process (plain HTTP on
// loopback, unmanaged: the admin key reads and writes data as tenant
// default) and returns its URL and admin key.
func startLocalAgent(t *testing.T) (string, string) {
	t.Helper()
	const key = "local-agent-admin-key-0123456789"
	httpAddr := freeAddr(t)
	stderr := &syncBuffer{}
	m := &Main{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: stderr}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, []string{"agent", "--data-dir", t.TempDir(), "--http-addr", httpAddr,
			"--raft-addr", freeAddr(t), "--admin-key", key, "--insecure-http", "--log-format", "json"})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Error("agent did not stop")
		}
	})
	url := "http://" + httpAddr
	storetest.Eventually(t, time.Minute, func() error {
		select {
		case err := <-done:
			t.Fatalf("agent exited: %v\n%s", err, stderr)
		default:
		}
		if r := runCLI(t, "", "cluster", "status", "--url", url, "--admin-key", key); r.code != 0 || !strings.Contains(r.stdout, "Leader") {
			return fmt.Errorf("cluster status: exit %d %s", r.code, r.stderr)
		}
		return nil
	})
	return url, key
}

// TestCollectionAndIndexCommands runs the collection and index verbs and
// doc query --explain against a real agent and its query planner.
func TestCollectionAndIndexCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	t.Setenv("AEROLITH_URL", "")
	t.Setenv("AEROLITH_KEY", "")
	url, key := startLocalAgent(t)
	auth := []string{"--url", url, "--key", key}
	run := func(stdin string, args ...string) cliResult {
		t.Helper()
		return runCLI(t, stdin, append(args, auth...)...)
	}
	must := func(args ...string) string {
		t.Helper()
		r := run("", args...)
		if r.code != 0 {
			t.Fatalf("aerolith %s: exit %d %q", strings.Join(args, " "), r.code, r.stderr)
		}
		return r.stdout
	}
	for i, city := range []string{"Oslo", "Paris", "Oslo"} {
		must("doc", "put", "people", fmt.Sprint("p", i), "--data", fmt.Sprintf(`{"city":%q}`, city))
	}
	query := []string{"doc", "query", "people", "--filter", `{"city":"Oslo"}`, "--explain"}
	if out := must(query...); !strings.Contains(out, "index    none: every document of the collection was read") || !strings.Contains(out, "scanned  3 documents") {
		t.Errorf("query --explain without an index:\n%s", out)
	}
	if out := must("index", "create", "people", "city"); out != "created index on people.city\n" {
		t.Errorf("index create printed %q", out)
	}
	if r := run("", "index", "create", "people", "city"); r.code != 1 || !strings.Contains(r.stderr, "409") {
		t.Errorf("second index create: exit %d %q, want a 409", r.code, r.stderr)
	}
	if out := must("index", "list", "people"); out != "FIELD\ncity\n" {
		t.Errorf("index list printed %q", out)
	}
	out := must(query...)
	if !strings.Contains(out, "index    city") || !strings.Contains(out, "scanned  2 documents") || !strings.Contains(out, "IXSCAN") || !strings.Contains(out, "(1-2 of 2)") {
		t.Errorf("query --explain with the index:\n%s", out)
	}
	out = must("collection", "list", "-o", "json")
	var listed struct {
		Collections []struct {
			Name      string
			Documents int
			Indexes   []string
		}
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed.Collections) != 1 || listed.Collections[0].Name != "people" ||
		listed.Collections[0].Documents != 3 || fmt.Sprint(listed.Collections[0].Indexes) != "[city]" {
		t.Fatalf("collection list -o json = %s (%v)", out, err)
	}
	if out := must("collection", "list"); !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "people") || !strings.Contains(out, "city") {
		t.Errorf("collection list:\n%s", out)
	}
	if out := must("index", "drop", "people", "city"); out != "dropped index on people.city\n" {
		t.Errorf("index drop printed %q", out)
	}
	if out := must("index", "list", "people", "-o", "json"); !strings.Contains(out, `"indexes": []`) {
		t.Errorf("index list after drop: %s", out)
	}

	// Dropping asks first: refused without a terminal unless --yes, and on
	// a terminal only the collection's name typed back goes ahead.
	if r := run("people\n", "collection", "drop", "people"); r.code != 2 || !strings.Contains(r.stderr, "pass --yes") {
		t.Fatalf("drop without a terminal or --yes: exit %d %q", r.code, r.stderr)
	}
	onTerminal := func(stdin string) (string, error) {
		var errOut bytes.Buffer
		m := &Main{Stdin: strings.NewReader(stdin), Stdout: &bytes.Buffer{}, Stderr: &errOut, terminal: func() bool { return true }}
		err := m.Run(context.Background(), append([]string{"collection", "drop", "people"}, auth...))
		return errOut.String(), err
	}
	if prompt, err := onTerminal("y\n"); err == nil || !strings.Contains(err.Error(), `typed "y", not "people"`) || !strings.Contains(prompt, `Type "people" to confirm`) {
		t.Fatalf("drop confirmed with y: %v (prompt %q)", err, prompt)
	}
	if out := must("collection", "list"); !strings.Contains(out, "people") {
		t.Fatalf("collection gone after a refused confirmation:\n%s", out)
	}
	if _, err := onTerminal("people\n"); err != nil {
		t.Fatalf("drop confirmed with the name: %v", err)
	}
	if out := must("collection", "list", "-o", "json"); !strings.Contains(out, `"collections": []`) {
		t.Errorf("collection list after drop: %s", out)
	}
	if r := run("", "collection", "drop", "people", "--yes"); r.code != 1 || !strings.Contains(r.stderr, "404") {
		t.Errorf("drop of a missing collection: exit %d %q", r.code, r.stderr)
	}

	// An empty collection: created once, then reported as existing.
	if out := must("collection", "create", "orders"); out != "created collection orders\n" {
		t.Errorf("collection create printed %q", out)
	}
	if out := must("collection", "create", "orders", "-o", "json"); !strings.Contains(out, `"created": false`) {
		t.Errorf("second collection create -o json printed %q", out)
	}
	if out := must("collection", "list"); !strings.Contains(out, "orders") {
		t.Errorf("collection list after create:\n%s", out)
	}
}

// TestConfirmWithStdinFromDevNull: /dev/null is a character device, so a
// script run with < /dev/null (cron, CI) was taken for a terminal: the
// prompt was printed and the refusal said `typed ""` instead of naming
// --yes.
func TestConfirmWithStdinFromDevNull(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var errOut bytes.Buffer
	m := &Main{Stdin: null, Stdout: &bytes.Buffer{}, Stderr: &errOut}
	err = m.confirm(false, "drop collection \"c\"", "c")
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "standard input is not a terminal: pass --yes") || errOut.Len() != 0 {
		t.Fatalf("confirm with stdin from %s = %v (exit %d), prompt %q; want a usage error naming --yes and no prompt", os.DevNull, err, exitCode(err), errOut.String())
	}
}
