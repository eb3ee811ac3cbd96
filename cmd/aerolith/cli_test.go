package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/agent/client/clienttest"
)

const cliKey = "cli-test-key"

// cliResult is what one CLI invocation produced.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the aerolith command line in-process like main does: errors
// become one stderr line and an exit code.
func runCLI(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut}
	err := m.Run(context.Background(), args)
	code := 0
	if err != nil {
		fmt.Fprintln(&errOut, "aerolith:", err)
		code = exitCode(err)
	}
	return cliResult{out.String(), errOut.String(), code}
}

// cli runs a command against srv with its key and fails the test unless it
// exits 0.
func cli(t *testing.T, srv *clienttest.Server, stdin string, args ...string) string {
	t.Helper()
	r := runCLI(t, stdin, append(args, "--url", srv.URL, "--key", cliKey)...)
	if r.code != 0 {
		t.Fatalf("aerolith %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

func newFake(t *testing.T) *clienttest.Server {
	t.Helper()
	t.Setenv("AEROLITH_URL", "")
	t.Setenv("AEROLITH_KEY", "")
	srv := clienttest.NewServer(cliKey)
	t.Cleanup(srv.Close)
	return srv
}

func TestDocCommands(t *testing.T) {
	srv := newFake(t)
	out := cli(t, srv, "", "doc", "put", "users", "u1", "--data", `{"name":"ada","age":36}`)
	if out != "created users/u1 version 1\n" {
		t.Errorf("doc put (new) printed %q", out)
	}
	out = cli(t, srv, `{"name":"ada","age":37}`, "doc", "put", "users", "u1", "--if-version", "1")
	if out != "updated users/u1 version 2\n" {
		t.Errorf("doc put (stdin, if-version) printed %q", out)
	}
	out = cli(t, srv, "", "doc", "put", "users", "--data", `{"name":"bob","age":25}`, "-o", "json")
	var created struct {
		ID      string          `json:"id"`
		Version uint64          `json:"version"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.ID == "" || created.Version != 1 {
		t.Fatalf("doc put -o json printed %q (%v), want the created document", out, err)
	}
	if srv.Document("users", created.ID) == nil {
		t.Errorf("created document %q not stored", created.ID)
	}

	tests := []struct {
		name string
		args []string
		want []string // substrings of stdout
	}{
		{"get table", []string{"doc", "get", "users", "u1"}, []string{"ID       u1", "VERSION  2", `"age": 37`}},
		{"get json", []string{"doc", "get", "users", "u1", "-o", "json", "--consistency", "stale"}, []string{`"id": "u1"`, `"version": 2`, `"age": 37`}},
		{"list table", []string{"doc", "list", "users", "--limit", "1"}, []string{"ID", "VERSION", "DATA", "(1-1 of 2)"}},
		{"list json", []string{"doc", "list", "users", "-o", "json"}, []string{`"total": 2`, `"documents": [`}},
		{"query table", []string{"doc", "query", "users", "--filter", `{"age":{"$gt":30}}`, "--sort", `{"age":-1}`, "--explain"}, []string{"u1", "(1-1 of 1)", "explain:"}},
		{"query json", []string{"doc", "query", "users", "--filter", `{"name":"bob"}`, "-o", "json"}, []string{`"total": 1`, `"name": "bob"`}},
		{"query empty", []string{"doc", "query", "users", "--filter", `{"name":"zed"}`}, []string{"(0-0 of 0)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := cli(t, srv, "", tt.args...)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	// --consistency reaches the server.
	reqs := srv.Requests()
	found := false
	for _, r := range reqs {
		if r.Method == "GET" && r.Query == "consistency=stale" {
			found = true
		}
	}
	if !found {
		t.Error("no request carried consistency=stale")
	}

	out = cli(t, srv, "", "doc", "delete", "users", "u1", "--if-version", "2", "-o", "json")
	var del map[string]any
	if err := json.Unmarshal([]byte(out), &del); err != nil || del["deleted"] != true || del["id"] != "u1" {
		t.Errorf("doc delete -o json printed %q", out)
	}
	if srv.Document("users", "u1") != nil {
		t.Error("u1 still stored after doc delete")
	}
}

func TestDocPutFromFile(t *testing.T) {
	srv := newFake(t)
	path := t.TempDir() + "/doc.json"
	writeTestFile(t, path, "{\n  \"nested\": {\"a\": [1, 2]}\n}\n")
	cli(t, srv, "", "doc", "put", "things", "t1", "--file", path)
	d := srv.Document("things", "t1")
	if d == nil || string(d.Data) != `{"nested":{"a":[1,2]}}` {
		t.Fatalf("stored %v, want the file's object", d)
	}
}

func TestErrorsAndExitCodes(t *testing.T) {
	srv := newFake(t)
	cli(t, srv, "", "doc", "put", "users", "u1", "--data", `{"n":1}`)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	auth := []string{"--url", srv.URL, "--key", cliKey}
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantErr  string
	}{
		{"not found", append([]string{"doc", "get", "users", "nope"}, auth...), "", 1, `document "nope" not found (404 not_found)`},
		{"precondition", append([]string{"doc", "delete", "users", "u1", "--if-version", "9"}, auth...), "", 1, "412 precondition_failed"},
		{"wrong key", []string{"doc", "get", "users", "u1", "--url", srv.URL, "--key", "bad"}, "", 1, "401 unauthenticated"},
		{"unreachable", []string{"doc", "get", "users", "u1", "--url", dead}, "", 1, "connection refused"},
		{"missing args", append([]string{"doc", "get", "users"}, auth...), "", 2, "want arguments COLLECTION ID, got 1"},
		{"too many args", append([]string{"doc", "list", "a", "b"}, auth...), "", 2, "want arguments COLLECTION"},
		{"bad output", append([]string{"doc", "get", "users", "u1", "-o", "yaml"}, auth...), "", 2, `--output: unknown format "yaml"`},
		{"bad consistency", append([]string{"doc", "get", "users", "u1", "--consistency", "eventual"}, auth...), "", 2, `unknown consistency "eventual"`},
		{"bad data", append([]string{"doc", "put", "users", "--data", `{"a":`}, auth...), "", 2, "--data: invalid JSON"},
		{"data not object", append([]string{"doc", "put", "users", "--data", `[1]`}, auth...), "", 2, "--data: want a JSON object, got an array"},
		{"stdin not object", append([]string{"doc", "put", "users", "x"}, auth...), `"str"`, 1, "standard input: want a JSON object, got a string"},
		{"data and file", append([]string{"doc", "put", "users", "--data", `{}`, "--file", "x"}, auth...), "", 2, "give only one"},
		{"if-version without id", append([]string{"doc", "put", "users", "--data", `{}`, "--if-version", "1"}, auth...), "", 2, "--if-version: needs an ID"},
		{"bad filter", append([]string{"doc", "query", "users", "--filter", `nope`}, auth...), "", 2, "--filter: invalid JSON"},
		{"server rejects filter", append([]string{"doc", "query", "users", "--filter", `{"a":{"$zz":1}}`}, auth...), "", 1, "unknown operator $zz"},
		{"unknown flag", append([]string{"doc", "get", "users", "u1", "--nope"}, auth...), "", 2, "unknown flag: --nope"},
		{"unknown subcommand", []string{"doc", "frobnicate"}, "", 2, `unknown command "frobnicate" for "aerolith doc"`},
		{"negative limit", append([]string{"doc", "list", "users", "--limit", "-1"}, auth...), "", 2, "must not be negative"},
		{"bad url", []string{"doc", "get", "users", "u1", "--url", "ftp://x"}, "", 2, "--url: \"ftp://x\": scheme must be http or https"},
		{"cluster extra arg", append([]string{"cluster", "status", "x"}, auth...), "", 2, "want arguments (none)"},
		// An empty argument is refused before it becomes a path segment:
		// `usage show ''` asked billing for /api/v1/tenants//usage and was
		// told that tenant "usage" does not exist.
		{"empty id", append([]string{"doc", "get", "users", ""}, auth...), "", 2, "aerolith doc get: argument 2 is empty (want COLLECTION ID)"},
		{"empty tenant", []string{"usage", "show", "", "--billing-url", "http://127.0.0.1:1", "--key", "k"}, "", 2, "aerolith usage show: argument 1 is empty"},
		{"empty collection", append([]string{"collection", "drop", "", "--yes"}, auth...), "", 2, "aerolith collection drop: argument 1 is empty"},
		{"empty index field", append([]string{"index", "drop", "users", ""}, auth...), "", 2, "aerolith index drop: argument 2 is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.stdin, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", r.code, tt.wantCode, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "aerolith: ") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("stderr = %q, want one line starting with 'aerolith: '", r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.wantErr)
			}
		})
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	srv := newFake(t)
	t.Setenv("AEROLITH_URL", srv.URL)
	t.Setenv("AEROLITH_KEY", cliKey)
	r := runCLI(t, "", "doc", "put", "c", "x", "--data", `{"a":1}`)
	if r.code != 0 || srv.Document("c", "x") == nil {
		t.Fatalf("doc put with AEROLITH_URL/KEY: exit %d stderr %q", r.code, r.stderr)
	}
	// Flags win over the environment.
	r = runCLI(t, "", "doc", "get", "c", "x", "--key", "other")
	if r.code != 1 || !strings.Contains(r.stderr, "unauthenticated") {
		t.Errorf("--key over AEROLITH_KEY: exit %d stderr %q, want unauthenticated", r.code, r.stderr)
	}
}

func TestClusterCommands(t *testing.T) {
	srv := newFake(t)
	out := cli(t, srv, "", "cluster", "status")
	for _, w := range []string{"LEADER", "node1  raft 127.0.0.1:7071", "APPLIED INDEX  10", "ID     RAFT ADDR", "node1  127.0.0.1:7071"} {
		if !strings.Contains(out, w) {
			t.Errorf("cluster status lacks %q:\n%s", w, out)
		}
	}
	out = cli(t, srv, "", "cluster", "join", "node2", "127.0.0.1:7073", "--http-addr", "127.0.0.1:7072")
	if out != "joined node2 (raft 127.0.0.1:7073)\n" {
		t.Errorf("cluster join printed %q", out)
	}
	out = cli(t, srv, "", "cluster", "members", "-o", "json")
	var members []map[string]any
	if err := json.Unmarshal([]byte(out), &members); err != nil || len(members) != 2 || members[1]["http_addr"] != "127.0.0.1:7072" {
		t.Fatalf("cluster members -o json = %q (%v)", out, err)
	}
	out = cli(t, srv, "", "cluster", "status", "-o", "json")
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil || st["leader_id"] != "node1" {
		t.Errorf("cluster status -o json = %q", out)
	}
	if out := cli(t, srv, "", "cluster", "remove", "node2"); out != "removed node2\n" {
		t.Errorf("cluster remove printed %q", out)
	}
	r := runCLI(t, "", "cluster", "join", "node3", "127.0.0.1:7075", "--url", srv.URL, "--key", "wrong")
	if r.code != 1 || !strings.Contains(r.stderr, "401 unauthenticated") {
		t.Errorf("join with a wrong key: exit %d stderr %q", r.code, r.stderr)
	}
	out = cli(t, srv, "", "cluster", "members")
	if strings.Contains(out, "node2") || !strings.Contains(out, "node1") {
		t.Errorf("members after remove:\n%s", out)
	}
}

// TestClusterCommandsWithATenantKey: a tenant key gets the client
// endpoints of /api/v1/cluster, not the topology; cluster status printed
// that as "LEADER none (election in progress or no quorum)", term 0 and no
// members, and exited 0.
func TestClusterCommandsWithATenantKey(t *testing.T) {
	t.Setenv("AEROLITH_URL", "")
	t.Setenv("AEROLITH_ADMIN_KEY", "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"node_id":"node1","ready":true,"endpoints":[{"http_addr":"127.0.0.1:7070","leader":true},{"http_addr":"127.0.0.1:7072","leader":false}]}`))
	}))
	t.Cleanup(srv.Close)
	for _, args := range [][]string{
		{"cluster", "status"},
		{"cluster", "status", "-o", "json"},
		{"cluster", "members"},
		{"cluster", "members", "-o", "json"},
	} {
		r := runCLI(t, "", append(args, "--url", srv.URL, "--admin-key", "ak_tenant")...)
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "the key is a tenant key") || !strings.Contains(r.stderr, "--admin-key or AEROLITH_ADMIN_KEY") {
			t.Errorf("%s with a tenant key = %d %q %q, want exit 1 naming the cluster admin key", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
}
