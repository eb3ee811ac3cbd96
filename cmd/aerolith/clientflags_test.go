package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/internal/clientopts"
)

func TestHTTPClientChecksURLs(t *testing.T) {
	t.Setenv(clientopts.EnvCAFile, "")
	t.Setenv(clientopts.EnvInsecureHTTP, "")
	tests := []struct {
		name string
		opts clientopts.Options
		urls string
		want string // error substring; "" = ok
	}{
		{"https", clientopts.Options{}, "https://db.example:7070", ""},
		{"plain http refused", clientopts.Options{}, "http://10.0.0.1:7070", "--url: http://10.0.0.1:7070 is plain HTTP; use https:// or pass --insecure-http"},
		{"no scheme is http", clientopts.Options{}, "10.0.0.1:7070", "plain HTTP"},
		{"one plain endpoint", clientopts.Options{}, "https://a:1,http://b:2", "plain HTTP"},
		{"insecure-http allows http", clientopts.Options{InsecureHTTP: true}, "http://10.0.0.1:7070", ""},
		{"loopback http", clientopts.Options{}, "http://127.0.0.1:7070,http://localhost:7072,http://[::1]:7074", ""},
		{"missing ca file", clientopts.Options{CAFile: "/no/such/ca.crt"}, "https://a:1", "ca-file"},
		{"cert without key", clientopts.Options{CertFile: "/x.crt"}, "https://a:1", "tls-key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			_, err := httpClient(&o, tc.urls, "url", defaultURL, client.NewTransport())
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("httpClient(%q) = %v, want ok", tc.urls, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("httpClient(%q) = %v, want an error with %q", tc.urls, err, tc.want)
			}
		})
	}
}

func TestHTTPClientReadsCAFromEnv(t *testing.T) {
	t.Setenv(clientopts.EnvCAFile, "/no/such/env-ca.crt")
	var o clientopts.Options
	if _, err := httpClient(&o, "https://a:1", "url", defaultURL, client.NewTransport()); err == nil || !strings.Contains(err.Error(), "env-ca.crt") {
		t.Fatalf("httpClient with AEROLITH_CA_FILE = %v, want an error naming the file", err)
	}
}

func TestDefaultURLsAreHTTPS(t *testing.T) {
	t.Setenv("AEROLITH_URL", "")
	t.Setenv("AEROLITH_BILLING_URL", "")
	f := &clientFlags{output: outputTable}
	if err := f.resolve(); err != nil || f.url != "https://127.0.0.1:7070" {
		t.Fatalf("default agent URL = %q (%v), want https://127.0.0.1:7070", f.url, err)
	}
	b := &billingFlags{output: outputTable}
	if _, err := b.client(); err != nil || b.url != "https://127.0.0.1:7080" {
		t.Fatalf("default billing URL = %q (%v), want https://127.0.0.1:7080", b.url, err)
	}
}

// TestTLSErrorsSayWhatToDo: a client and a server that disagree about TLS
// get an error naming the fix, not only Go's message.
func TestTLSErrorsSayWhatToDo(t *testing.T) {
	srv := newFake(t)
	secure, ca := tlsFake(t, srv)
	port := secure[strings.LastIndex(secure, ":")+1:]
	plainHost := strings.TrimPrefix(srv.URL, "http://")
	t.Setenv(clientopts.EnvCAFile, "")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown CA", []string{"doc", "list", "users", "--url", secure},
			[]string{"certificate signed by unknown authority", "pass the cluster's CA with --ca-file or AEROLITH_CA_FILE", "<data-dir>/pki/ca.crt"}},
		{"http to an https server", []string{"doc", "list", "users", "--url", "http://127.0.0.1:" + port},
			[]string{"HTTP request to an HTTPS server", "use an https:// URL (--url or AEROLITH_URL)", "--ca-file or AEROLITH_CA_FILE", "<data-dir>/pki/ca.crt"}},
		{"billing http to an https server", []string{"tenant", "list", "--billing-url", "http://127.0.0.1:" + port},
			[]string{"use an https:// URL (--billing-url or AEROLITH_BILLING_URL)"}},
		{"wrong host name", []string{"doc", "list", "users", "--url", "https://localhost:" + port, "--ca-file", ca},
			[]string{"certificate is valid for", "not localhost", "use a host name or address the certificate names"}},
		{"https to an http server", []string{"doc", "list", "users", "--url", "https://" + plainHost},
			[]string{"server gave HTTP response to HTTPS client", "use an http:// URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", append(tt.args, "--key", cliKey)...)
			if r.code != 1 {
				t.Fatalf("exit %d, stderr %q; want 1", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr = %q, want %q", r.stderr, w)
				}
			}
		})
	}
}

// TestAdminCommandsUseTheAdminKey: with the README's AEROLITH_KEY=<tenant
// key> exported, the cluster admin's commands send AEROLITH_ADMIN_KEY, and
// a refused key names the one the command needs.
func TestAdminCommandsUseTheAdminKey(t *testing.T) {
	keys := httptest.NewServer(&fakeKeys{})
	defer keys.Close()
	fake := newFake(t)
	t.Setenv("AEROLITH_KEY", "ak_tenant_key_of_the_readme")
	t.Setenv("AEROLITH_ADMIN_KEY", cliKey)
	if r := runCLI(t, "", "key", "list", "--tenant", "t", "--url", keys.URL); r.code != 0 {
		t.Fatalf("key list with AEROLITH_KEY=<tenant key>, AEROLITH_ADMIN_KEY=<admin key>: exit %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, "", "cluster", "members", "--url", fake.URL); r.code != 0 {
		t.Fatalf("cluster members: exit %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, "", "key", "list", "--tenant", "t", "--url", keys.URL, "--admin-key", "wrong"); r.code != 1 || !strings.Contains(r.stderr, "unknown API key") {
		t.Fatalf("--admin-key over AEROLITH_ADMIN_KEY: exit %d %q", r.code, r.stderr)
	}

	needAdmin := "this command needs the cluster admin key: --admin-key or AEROLITH_ADMIN_KEY"
	needTenant := "this command needs a tenant API key: --key or AEROLITH_KEY"
	t.Setenv("AEROLITH_ADMIN_KEY", "")
	t.Setenv("AEROLITH_KEY", cliKey) // an admin command never takes AEROLITH_KEY
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"key", "list", "--tenant", "t", "--url", keys.URL}, needAdmin},
		{[]string{"key", "revoke", "00000000000000ff", "--url", keys.URL}, needAdmin},
		{[]string{"cluster", "status", "--url", fake.URL}, needAdmin},
		{[]string{"cluster", "remove", "n2", "--url", fake.URL, "--admin-key", "wrong"}, needAdmin},
		{[]string{"doc", "get", "c", "x", "--url", fake.URL, "--key", "wrong"}, needTenant},
	} {
		r := runCLI(t, "", tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("aerolith %s: exit %d %q, want 1 with %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
}

// TestForbiddenNamesTheRoleNeeded: a 403 on collections and indexes names
// the tenant admin role; on the cluster's routes, the cluster admin key.
func TestForbiddenNamesTheRoleNeeded(t *testing.T) {
	t.Setenv("AEROLITH_KEY", "")
	t.Setenv("AEROLITH_ADMIN_KEY", "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error":{"code":"permission_denied","message":"role readwrite may not do this"}}`)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"index", "create", "c", "f"}, "collections and indexes need a tenant key with role admin: --key or AEROLITH_KEY"},
		{[]string{"collection", "drop", "c", "--yes"}, "collections and indexes need a tenant key with role admin"},
		{[]string{"cluster", "status"}, "this command needs the cluster admin key: --admin-key or AEROLITH_ADMIN_KEY"},
		{[]string{"doc", "get", "c", "x"}, "role readwrite may not do this (403 permission_denied)\n"},
	} {
		r := runCLI(t, "", append(tc.args, "--url", srv.URL, "--key", "k")...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("aerolith %s: exit %d %q, want %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
}
