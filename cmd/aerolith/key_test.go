package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeKeys serves the agent's key routes as the contract describes them,
// for the cluster admin key cliKey only.
type fakeKeys struct {
	mu   sync.Mutex
	keys []apiKey
	n    int
}

func (f *fakeKeys) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	}
	ok := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	if r.Header.Get("Authorization") != "Bearer "+cliKey {
		fail(401, "unauthenticated", "missing or unknown API key")
		return
	}
	switch {
	case r.Method == "POST" && r.URL.Path == "/api/v1/keys":
		var b struct{ Tenant, Role, Name string }
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			fail(400, "invalid_argument", err.Error())
			return
		}
		if b.Role != "read" && b.Role != "readwrite" && b.Role != "admin" {
			fail(400, "invalid_argument", `role: "`+b.Role+`" is unknown; want one of read, readwrite, admin`)
			return
		}
		f.n++
		k := apiKey{ID: "000000000000000" + string(rune('0'+f.n)), Tenant: b.Tenant, Role: b.Role, Name: b.Name, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		f.keys = append(f.keys, k)
		k.Key = "ak_" + k.ID + "_secretsecretsecretsecretsecretsecretsecret1"
		ok(201, k)
	case r.Method == "GET" && r.URL.Path == "/api/v1/keys":
		out := []apiKey{}
		for _, k := range f.keys {
			if k.Tenant == r.URL.Query().Get("tenant") {
				out = append(out, k)
			}
		}
		ok(200, map[string]any{"keys": out})
	case r.Method == "DELETE" && strings.HasPrefix(r.URL.Path, "/api/v1/keys/"):
		id := strings.TrimPrefix(r.URL.Path, "/api/v1/keys/")
		for i := range f.keys {
			if f.keys[i].ID == id {
				at := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
				f.keys[i].Revoked, f.keys[i].RevokedAt = true, &at
				ok(200, f.keys[i])
				return
			}
		}
		fail(404, "not_found", `api key "`+id+`" not found`)
	default:
		fail(404, "not_found", "no route")
	}
}

func TestKeyCommands(t *testing.T) {
	t.Setenv("AEROLITH_URL", "")
	t.Setenv("AEROLITH_KEY", "")
	srv := httptest.NewServer(&fakeKeys{})
	defer srv.Close()
	run := func(args ...string) cliResult {
		t.Helper()
		return runCLI(t, "", append(args, "--url", srv.URL, "--key", cliKey)...)
	}

	r := run("key", "create", "--tenant", "tn_demo", "--role", "readwrite", "--name", "ci")
	if r.code != 0 || !strings.Contains(r.stdout, "created key 0000000000000001 for tenant tn_demo, role readwrite") ||
		!strings.Contains(r.stdout, "ak_0000000000000001_") || !strings.Contains(r.stdout, "shown only now") {
		t.Fatalf("key create = %+v", r)
	}
	r = run("key", "create", "--tenant", "tn_demo", "--role", "read", "-o", "json")
	var created apiKey
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &created) != nil || created.Key == "" || created.Role != "read" {
		t.Fatalf("key create -o json = %+v", r)
	}
	run("key", "create", "--tenant", "tn_other", "--role", "admin")

	r = run("key", "list", "--tenant", "tn_demo")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], "readwrite") ||
		!strings.Contains(lines[1], "ci") || strings.Contains(r.stdout, "ak_") {
		t.Fatalf("key list = %+v", r)
	}

	r = run("key", "revoke", "0000000000000001")
	if r.code != 0 || r.stdout != "revoked key 0000000000000001 of tenant tn_demo\n" {
		t.Fatalf("key revoke = %+v", r)
	}
	// The whole key string revokes its key by the id in it; the secret
	// is not echoed.
	r = run("key", "revoke", created.Key)
	if r.code != 0 || r.stdout != "revoked key "+created.ID+" of tenant tn_demo\n" || strings.Contains(r.stdout+r.stderr, created.Key) {
		t.Fatalf("key revoke <key string> = %+v", r)
	}
	r = run("key", "list", "--tenant", "tn_demo", "-o", "json")
	var listed struct{ Keys []apiKey }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &listed) != nil || len(listed.Keys) != 2 || !listed.Keys[0].Revoked || !listed.Keys[1].Revoked {
		t.Fatalf("key list -o json after revoke = %+v", r)
	}
	if r = run("key", "list", "--tenant", "tn_none", "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"keys": []`) {
		t.Fatalf("empty key list = %+v", r)
	}

	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"create without tenant", []string{"key", "create", "--role", "read"}, 2, "--tenant: required"},
		{"create without role", []string{"key", "create", "--tenant", "t"}, 2, "--role: required"},
		{"bad role", []string{"key", "create", "--tenant", "t", "--role", "owner"}, 1, `role: "owner" is unknown`},
		{"list without tenant", []string{"key", "list"}, 2, "--tenant: required"},
		{"revoke without id", []string{"key", "revoke"}, 2, "want arguments ID"},
		{"revoke unknown", []string{"key", "revoke", "00000000000000ff"}, 1, `api key "00000000000000ff" not found`},
		// Checked before they become a path: "" and ".." reached other
		// routes ("no such route: DELETE /api/v1").
		{"revoke empty id", []string{"key", "revoke", ""}, 2, "aerolith key revoke: argument 1 is empty (want ID)"},
		{"revoke ..", []string{"key", "revoke", ".."}, 2, `key id "..": want the 16 lowercase hex digits`},
		{"revoke path", []string{"key", "revoke", "../collections/c"}, 2, `key id "../collections/c"`},
		{"revoke upper case", []string{"key", "revoke", "0000000000000ABC"}, 2, `key id "0000000000000ABC"`},
		{"revoke bad key string", []string{"key", "revoke", "ak_zz_hushhush"}, 2, "looks like a key string but holds no valid id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || strings.Contains(r.stderr, "hushhush") {
				t.Fatalf("%v = %+v, want exit %d mentioning %q", tc.args, r, tc.code, tc.msg)
			}
		})
	}
	if r := runCLI(t, "", "key", "list", "--tenant", "t", "--url", srv.URL, "--key", "wrong"); r.code != 1 || !strings.Contains(r.stderr, "unknown API key") {
		t.Fatalf("wrong key = %+v", r)
	}
}

// TestKeyListTimesToTheSecond: tables show RFC 3339 seconds, not the
// nanoseconds the API carries.
func TestKeyListTimesToTheSecond(t *testing.T) {
	var b strings.Builder
	at := time.Date(2026, 1, 3, 4, 5, 6, 987654321, time.UTC)
	keys := []apiKey{{ID: "k1", Tenant: "t", Role: "read", CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600)), Revoked: true, RevokedAt: &at}}
	if err := printKeys(&b, keys); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "2026-01-02T02:04:05Z") || !strings.Contains(out, "2026-01-03T04:05:06Z") || strings.Contains(out, ".123") || strings.Contains(out, ".987") {
		t.Fatalf("key list table:\n%s", out)
	}
}
