package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// deadLetterAgent serves the two dead-letter routes of an agent with one
// dead letter (seq 3), and records the replay bodies it got.
func deadLetterAgent(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var bodies []string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/admin/meter/dead-letters", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+cliKey {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"dead_letters":[{"seq":3,"tenant_id":"tn_a","start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:10Z",` +
			`"reads":0,"writes":4,"queries":0,"query_compute_ms":0,"ingress_bytes":0,"egress_bytes":0,"storage_byte_seconds":0,` +
			`"reason":"billing rejected: permission_denied: tenant_id: tenant \"tn_a\" is not assigned to cluster \"c1\"","dead_lettered_at":"2026-01-01T00:00:11Z"}]}`))
	})
	mux.HandleFunc("POST /api/v1/admin/meter/dead-letters/replay", func(w http.ResponseWriter, r *http.Request) {
		var b json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"replayed":[{"seq":3,"new_seq":9,"tenant_id":"tn_a","start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:10Z"}]}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	mux.HandleFunc("GET /api/v1/cluster", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"node_id":"n1","members":[{"id":"n1","http_addr":"` + host + `"},{"id":"n2","http_addr":"` + host + `"}]}`))
	})
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), bodies...)
	}
}

func TestMeterDeadLetterCommands(t *testing.T) {
	t.Setenv("AEROLITH_URL", "")
	t.Setenv("AEROLITH_KEY", "")
	srv, bodies := deadLetterAgent(t)
	run := func(args ...string) cliResult {
		t.Helper()
		return runCLI(t, "", append(args, "--url", srv.URL, "--key", cliKey)...)
	}
	r := run("meter", "dead-letters", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "seq 3  tenant tn_a") || !strings.Contains(r.stdout, "writes 4") || !strings.Contains(r.stdout, "not assigned") {
		t.Fatalf("list = %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = run("meter", "dead-letters", "list", "-o", "json")
	var dl []struct {
		Seq    uint64 `json:"seq"`
		Writes uint64 `json:"writes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &dl); err != nil || len(dl) != 1 || dl[0].Seq != 3 || dl[0].Writes != 4 {
		t.Fatalf("list -o json = %q (%v)", r.stdout, err)
	}
	r = run("meter", "dead-letters", "replay", "3", "--restamp")
	if r.code != 0 || !strings.Contains(r.stdout, "seq 3 (tenant tn_a) replayed as seq 9") || !strings.Contains(r.stdout, "1 dead letter replayed\n") {
		t.Fatalf("replay = %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r = run("meter", "dead-letters", "replay", "--all"); r.code != 0 {
		t.Fatalf("replay --all = %d %q", r.code, r.stderr)
	}
	if got := bodies(); len(got) != 2 || got[0] != `{"seqs":[3],"restamp":true}` || got[1] != `{"all":true}` {
		t.Fatalf("replay bodies = %q", got)
	}
	r = run("meter", "dead-letters", "list", "--all-nodes")
	if r.code != 0 || !strings.Contains(r.stdout, "n1: seq 3  tenant tn_a") || !strings.Contains(r.stdout, "n2: seq 3  tenant tn_a") {
		t.Fatalf("list --all-nodes = %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = run("meter", "dead-letters", "replay", "--all", "--all-nodes")
	if r.code != 0 || !strings.Contains(r.stdout, "n2: seq 3 (tenant tn_a) replayed as seq 9") || !strings.Contains(r.stdout, "2 dead letters replayed") {
		t.Fatalf("replay --all --all-nodes = %d %q %q", r.code, r.stdout, r.stderr)
	}
	if got := bodies(); len(got) != 4 || got[2] != `{"all":true}` || got[3] != `{"all":true}` {
		t.Fatalf("replay bodies = %q", got)
	}
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"meter", "dead-letters", "replay", "3", "--all-nodes"}, "--all-nodes needs --all"},
		{[]string{"meter", "dead-letters", "replay"}, "give the sequence numbers to replay, or --all"},
		{[]string{"meter", "dead-letters", "replay", "1", "--all"}, "give the sequence numbers to replay, or --all"},
		{[]string{"meter", "dead-letters", "replay", "x"}, `sequence number "x": want a positive integer`},
		{[]string{"meter", "dead-letters", "replay", "0"}, `sequence number "0"`},
		{[]string{"meter", "dead-letters", "list", "extra"}, "want arguments (none)"},
	} {
		if r := run(tt.args...); r.code != 2 || !strings.Contains(r.stderr, tt.wantErr) {
			t.Errorf("%s = exit %d %q, want 2 and %q", strings.Join(tt.args, " "), r.code, r.stderr, tt.wantErr)
		}
	}
	if len(bodies()) != 4 {
		t.Fatal("a refused command sent a replay")
	}
}

// TestMeterDeadLettersUseTheAdminKey: the README's shell has the tenant
// key in AEROLITH_KEY and the cluster admin key in AEROLITH_ADMIN_KEY; the
// dead-letter routes are the cluster admin's, so the commands must send
// AEROLITH_ADMIN_KEY (they sent AEROLITH_KEY and got 403).
func TestMeterDeadLettersUseTheAdminKey(t *testing.T) {
	srv, _ := deadLetterAgent(t)
	t.Setenv("AEROLITH_URL", srv.URL)
	t.Setenv("AEROLITH_KEY", "tenant-key")
	t.Setenv("AEROLITH_ADMIN_KEY", cliKey)
	if r := runCLI(t, "", "meter", "dead-letters", "list"); r.code != 0 || !strings.Contains(r.stdout, "seq 3  tenant tn_a") {
		t.Fatalf("list with AEROLITH_ADMIN_KEY = %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, "", "meter", "dead-letters", "list", "--admin-key", cliKey, "--url", srv.URL); r.code != 0 {
		t.Fatalf("list --admin-key = %d %q", r.code, r.stderr)
	}
	t.Setenv("AEROLITH_ADMIN_KEY", "")
	r := runCLI(t, "", "meter", "dead-letters", "list")
	if r.code == 0 || !strings.Contains(r.stderr, "--admin-key or AEROLITH_ADMIN_KEY") {
		t.Fatalf("list without the admin key = %d %q, want an error naming the admin key", r.code, r.stderr)
	}
}

// TestMeterDeadLettersAllNodes: --all-nodes must not report success when
// it reached no node (a tenant key sees no members: it printed nothing,
// exit 0), and one unreachable node must not hide the others' dead
// letters.
func TestMeterDeadLettersAllNodes(t *testing.T) {
	t.Setenv("AEROLITH_URL", "")
	t.Setenv("AEROLITH_ADMIN_KEY", "")
	tenantView := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"node_id":"n1","ready":true,"endpoints":[{"http_addr":"127.0.0.1:1","leader":true}]}`))
	}))
	t.Cleanup(tenantView.Close)
	r := runCLI(t, "", "meter", "dead-letters", "list", "--all-nodes", "--url", tenantView.URL, "--admin-key", cliKey)
	if r.code == 0 || !strings.Contains(r.stderr, "lists no cluster members") {
		t.Errorf("list --all-nodes without members = %d %q %q, want an error", r.code, r.stdout, r.stderr)
	}

	// n2's address refuses connections: a node that is down.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	live, _ := deadLetterAgent(t)
	liveAddr := strings.TrimPrefix(live.URL, "http://")
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"node_id":"n1","members":[{"id":"n1","http_addr":"` + liveAddr + `"},{"id":"n2","http_addr":"` + deadAddr + `"}]}`))
	}))
	t.Cleanup(front.Close)
	for _, args := range [][]string{
		{"meter", "dead-letters", "list", "--all-nodes"},
		{"meter", "dead-letters", "list", "--all-nodes", "-o", "json"},
		{"meter", "dead-letters", "replay", "--all", "--all-nodes"},
	} {
		r := runCLI(t, "", append(args, "--url", front.URL, "--admin-key", cliKey)...)
		if r.code != 1 || !strings.Contains(strings.ReplaceAll(r.stdout, `"seq": `, "seq "), "seq 3") || !strings.Contains(r.stderr, "node n2:") ||
			!strings.Contains(r.stderr, "of 1 of 2 nodes could not be") {
			t.Errorf("%s with n2 down = %d %q %q, want n1's dead letters, n2's error and exit 1", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		if args[len(args)-1] == "json" && !strings.Contains(r.stdout, `"node_id": "n2",`+"\n    \"dead_letters\": null,\n    \"error\": ") {
			t.Errorf("%s: n2's entry lacks its error: %s", strings.Join(args, " "), r.stdout)
		}
	}
}
