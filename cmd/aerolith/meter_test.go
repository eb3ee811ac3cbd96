package main

import (
	"encoding/json"
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
	if r.code != 0 || !strings.Contains(r.stdout, "seq 3 (tenant tn_a) replayed as seq 9") || !strings.Contains(r.stdout, "1 dead letters replayed") {
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
