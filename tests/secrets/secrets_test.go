package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent"
	"github.com/aerolithdb/aerolith/agent/config"
	"github.com/aerolithdb/aerolith/agent/tenancy"
	"github.com/aerolithdb/aerolith/billing/service"
	"github.com/aerolithdb/aerolith/billing/service/servicetest"
	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/store/storetest"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

const (
	waitLimit    = 60 * time.Second
	agentAdmin   = "agent-admin-key-3f9c1d7e5b2a4c6e"
	billingAdmin = "billing-admin-key-8e2d4f6a1c3b5d7f"
	maxBody      = 64 << 10
)

// logBuf collects a component's log output.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// debugLogger logs everything, at debug level, as JSON into b.
func debugLogger(b *logBuf) *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// plainEnv sets --insecure-http as an operator would, through the
// environment: TLS is another suite's subject.
func plainEnv(k string) (string, bool) {
	if k == "AEROLITH_INSECURE_HTTP" {
		return "true", true
	}
	return "", false
}

// answer is one HTTP exchange.
type answer struct {
	what   string
	status int
	body   string
}

// caller sends requests and keeps every answer.
type caller struct {
	t       *testing.T
	hc      *http.Client
	mu      sync.Mutex
	answers []answer
}

// do sends a request with the Authorization header auth ("" for none) and
// returns the answer; want (when not 0) is the status it must have.
func (c *caller) do(want int, method, url, auth, body string) answer {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, url, err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	a := answer{what: method + " " + url, status: res.StatusCode, body: string(b)}
	c.mu.Lock()
	c.answers = append(c.answers, a)
	c.mu.Unlock()
	if want != 0 && a.status != want {
		c.t.Fatalf("%s = %d %s, want %d", a.what, a.status, a.body, want)
	}
	return a
}

func bearer(k string) string { return "Bearer " + k }

func decode(t *testing.T, a answer, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(a.body), v); err != nil {
		t.Fatalf("%s: decode %q: %v", a.what, a.body, err)
	}
}

// TestSecretsNeverLeak drives billing and a managed agent through key
// creation, wrong, revoked and misplaced credentials, enrollment and bad
// bodies; then no secret may appear in their logs, audit logs, error
// bodies or /metrics. The agent's audit log then passes `aerolith audit
// verify`, which names a line edited afterwards.
func TestSecretsNeverLeak(t *testing.T) {
	proctest.SkipIfShort(t)
	if binary == "" {
		t.Fatal("aerolith binary not built (TestMain)")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitLimit)
	defer cancel()
	c := &caller{t: t, hc: &http.Client{Timeout: 20 * time.Second}}

	// Billing.
	blog := &logBuf{}
	bcfg, err := service.Load(nil, plainEnv)
	if err != nil {
		t.Fatal(err)
	}
	bcfg.DataDir = filepath.Join(dir, "billing")
	bcfg.HTTPAddr, bcfg.RaftAddr = "127.0.0.1:0", "127.0.0.1:0"
	bcfg.AdminKeys = []string{billingAdmin}
	bcfg.Period = "1h"
	bcfg.LogLevel = "debug"
	bcfg.MaxBodyBytes = maxBody
	bsvc, err := service.New(bcfg, debugLogger(blog))
	if err != nil {
		t.Fatal(err)
	}
	servicetest.Tune(bsvc, storetest.FastConfig)
	if err := bsvc.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer bsvc.Close()
	bu := "http://" + bsvc.HTTPAddr()
	testwait.For(t, waitLimit, "billing ready", func() error {
		if a := c.do(0, "GET", bu+"/api/v1/policy/public-key", bearer(billingAdmin), ""); a.status != 200 {
			return fmt.Errorf("public key: %d %s", a.status, a.body)
		}
		return nil
	})
	var ten struct{ ID string }
	decode(t, c.do(201, "POST", bu+"/api/v1/tenants", bearer(billingAdmin),
		`{"organization":"Acme","name":"acme","tier":"starter","email":"ap@acme.example"}`), &ten)
	var enr struct {
		ClusterID       string `json:"cluster_id"`
		EnrollmentToken string `json:"enrollment_token"`
	}
	decode(t, c.do(201, "POST", bu+"/api/v1/clusters", bearer(billingAdmin), `{"tenants":["`+ten.ID+`"]}`), &enr)
	var readKey struct{ ID, Key string }
	decode(t, c.do(201, "POST", bu+"/api/v1/tenants/"+ten.ID+"/keys", bearer(billingAdmin), `{"name":"ops"}`), &readKey)
	var readKey2 struct{ ID, Key string }
	decode(t, c.do(201, "POST", bu+"/api/v1/tenants/"+ten.ID+"/keys", bearer(billingAdmin), `{"name":"ops2"}`), &readKey2)
	c.do(200, "DELETE", bu+"/api/v1/tenants/"+ten.ID+"/keys/"+readKey2.ID, bearer(billingAdmin), "")

	// A managed agent enrolled with the token.
	alog := &logBuf{}
	acfg, err := config.Load(nil, plainEnv)
	if err != nil {
		t.Fatal(err)
	}
	acfg.DataDir = filepath.Join(dir, "agent")
	acfg.HTTPAddr, acfg.RaftAddr = "127.0.0.1:0", "127.0.0.1:0"
	acfg.AdminKey = agentAdmin
	acfg.BillingURL = bu
	acfg.EnrollmentToken = enr.EnrollmentToken
	acfg.MeterWindow, acfg.PolicyRefresh = time.Second, time.Second
	acfg.LogLevel = "debug"
	acfg.MaxBodyBytes, acfg.MaxDocumentBytes = maxBody, maxBody/2
	ag, err := agent.New(acfg, debugLogger(alog))
	if err != nil {
		t.Fatal(err)
	}
	if err := ag.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer ag.Close()
	au := "http://" + ag.HTTPAddr()
	testwait.For(t, waitLimit, "agent enrolled and ready", func() error {
		if a := c.do(0, "GET", au+"/readyz", "", ""); a.status != 200 {
			return fmt.Errorf("readyz: %d %s", a.status, a.body)
		}
		return nil
	})

	// Tenant keys on the agent; one is revoked.
	type key struct{ ID, Key string }
	var rw, ro key
	decode(t, c.do(201, "POST", au+"/api/v1/keys", bearer(agentAdmin), `{"tenant":"`+ten.ID+`","role":"readwrite","name":"app"}`), &rw)
	decode(t, c.do(201, "POST", au+"/api/v1/keys", bearer(agentAdmin), `{"tenant":"`+ten.ID+`","role":"read","name":"ro"}`), &ro)
	c.do(201, "PUT", au+"/api/v1/collections/c/documents/d1", bearer(rw.Key), `{"data":{"n":1}}`)
	c.do(200, "GET", au+"/api/v1/collections/c/documents/d1", bearer(ro.Key), "")
	c.do(200, "DELETE", au+"/api/v1/keys/"+ro.ID, bearer(agentAdmin), "")

	secrets := map[string]string{
		"agent admin key":          agentAdmin,
		"billing admin key":        billingAdmin,
		"enrollment token":         enr.EnrollmentToken,
		"tenant api key":           rw.Key,
		"revoked tenant api key":   ro.Key,
		"tenant key secret part":   keySecret(t, rw.Key),
		"billing read key":         readKey.Key,
		"revoked billing read key": readKey2.Key,
	}
	flip := func(s string) string { // the same credential, last character changed
		last := s[len(s)-1]
		if last == 'a' {
			return s[:len(s)-1] + "b"
		}
		return s[:len(s)-1] + "a"
	}

	// Agent: wrong, revoked and misplaced credentials, bad bodies.
	for _, tt := range []struct {
		status       int
		method, path string
		auth, body   string
	}{
		{401, "GET", "/api/v1/collections", "", ""},
		{401, "GET", "/api/v1/collections", bearer(flip(agentAdmin)), ""},
		{401, "GET", "/api/v1/collections", bearer(flip(rw.Key)), ""},
		{401, "GET", "/api/v1/collections", bearer(ro.Key), ""}, // revoked
		{401, "GET", "/api/v1/collections", bearer(billingAdmin), ""},
		{401, "GET", "/api/v1/collections", bearer(enr.EnrollmentToken), ""},
		{401, "GET", "/api/v1/collections", "Basic " + agentAdmin, ""},
		{401, "GET", "/api/v1/collections", agentAdmin, ""},
		{403, "POST", "/api/v1/cluster/members", bearer(rw.Key), `{"node_id":"x","raft_addr":"127.0.0.1:1"}`},
		{403, "GET", "/metrics", bearer(rw.Key), ""},
		{403, "GET", "/api/v1/collections", bearer(agentAdmin), ""}, // the admin key reaches no tenant data
		{400, "PUT", "/api/v1/collections/c/documents/d2", bearer(rw.Key), `{"data":`},
		{400, "PUT", "/api/v1/collections/c/documents/d2", bearer(rw.Key), `{"data":{},"secret":1}`},
		{413, "PUT", "/api/v1/collections/c/documents/d3", bearer(rw.Key), `{"data":{"s":"` + strings.Repeat("x", maxBody) + `"}}`},
		{400, "POST", "/api/v1/keys", bearer(agentAdmin), `{"tenant":"` + ten.ID + `","role":"superuser"}`},
		{404, "DELETE", "/api/v1/keys/0123456789abcdef", bearer(agentAdmin), ""},
		{200, "GET", "/metrics", bearer(agentAdmin), ""},
	} {
		c.do(tt.status, tt.method, au+tt.path, tt.auth, tt.body)
	}
	// Billing: the same, plus the enrollment token where it does not
	// belong.
	for _, tt := range []struct {
		status       int
		method, path string
		auth, body   string
	}{
		{401, "GET", "/api/v1/tenants", "", ""},
		{401, "GET", "/api/v1/tenants", bearer(flip(billingAdmin)), ""},
		{401, "GET", "/api/v1/tenants", bearer(flip(enr.EnrollmentToken)), ""},
		{401, "GET", "/api/v1/tenants", bearer(readKey2.Key), ""}, // revoked
		{401, "GET", "/api/v1/tenants", bearer(agentAdmin), ""},
		{401, "GET", "/api/v1/tenants", bearer(rw.Key), ""},
		{401, "GET", "/api/v1/tenants", "Basic " + billingAdmin, ""},
		{403, "POST", "/api/v1/tenants", bearer(enr.EnrollmentToken), `{"organization":"x","name":"x","tier":"free","email":"x@x.example"}`},
		{403, "POST", "/api/v1/clusters", bearer(readKey.Key), `{"tenants":[]}`},
		{403, "GET", "/metrics", bearer(enr.EnrollmentToken), ""},
		{400, "POST", "/api/v1/tenants", bearer(billingAdmin), `{"name":`},
		{400, "POST", "/api/v1/tenants", bearer(billingAdmin), `{"name":"x","password":"y"}`},
		{413, "POST", "/api/v1/tenants", bearer(billingAdmin), `{"name":"` + strings.Repeat("x", maxBody) + `"}`},
		{400, "POST", "/api/v1/usage", bearer(enr.EnrollmentToken), `{"records":[]}`},
		{200, "GET", "/api/v1/whoami", bearer(enr.EnrollmentToken), ""},
		{200, "GET", "/metrics", bearer(billingAdmin), ""},
	} {
		c.do(tt.status, tt.method, bu+tt.path, tt.auth, tt.body)
	}

	// Let the agent report usage and refresh policies once more, then stop
	// both (flushing the coalesced audit records and the logs).
	testwait.For(t, waitLimit, "usage reported", func() error {
		a := c.do(0, "GET", bu+"/api/v1/tenants/"+ten.ID+"/usage?granularity=hour", bearer(billingAdmin), "")
		var u struct {
			Total struct{ Writes int } `json:"total"`
		}
		if a.status != 200 || json.Unmarshal([]byte(a.body), &u) != nil || u.Total.Writes == 0 {
			return fmt.Errorf("usage: %d %.300s", a.status, a.body)
		}
		return nil
	})
	if err := ag.Close(); err != nil {
		t.Fatalf("close agent: %v", err)
	}
	if err := bsvc.Close(); err != nil {
		t.Fatalf("close billing: %v", err)
	}

	// Where secrets must never be.
	places := map[string]string{"agent log": alog.String(), "billing log": blog.String()}
	for name, d := range map[string]string{"agent audit log": filepath.Join(acfg.DataDir, "audit"), "billing audit log": filepath.Join(bcfg.DataDir, "audit")} {
		files, _ := filepath.Glob(filepath.Join(d, "*.jsonl"))
		if len(files) == 0 {
			t.Fatalf("%s: no files in %s", name, d)
		}
		var all []string
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, string(b))
		}
		places[name] = strings.Join(all, "")
	}
	for _, a := range c.answers {
		switch {
		case a.status >= 400:
			places["error body of "+a.what] += a.body
		case strings.HasSuffix(a.what, "/metrics"):
			places["metrics "+a.what] += a.body
		}
	}
	errorBodies := 0
	for _, a := range c.answers {
		if a.status >= 400 {
			errorBodies++
		}
	}
	if errorBodies < 25 || len(places["agent log"]) < 500 || len(places["billing log"]) < 500 {
		t.Fatalf("too little checked: %d error bodies, logs of %d and %d bytes", errorBodies, len(places["agent log"]), len(places["billing log"]))
	}
	for where, text := range places {
		for what, secret := range secrets {
			if strings.Contains(text, secret) {
				i := strings.Index(text, secret)
				t.Errorf("%s holds the %s: …%s…", where, what, text[max(0, i-200):min(len(text), i+len(secret)+50)])
			}
		}
	}

	// The audit logs say what happened.
	for name, want := range map[string][]string{
		"agent audit log":   {"agent.start", "membership.bootstrap", "key.create", "key.revoke", "auth.failed", "auth.denied", "policy.apply", "agent.stop"},
		"billing audit log": {"billing.start", "tenant.create", "cluster.register", "cluster.node_register", "key.create", "key.revoke", "auth.failed", "auth.denied", "usage.ingest", "billing.stop"},
	} {
		for _, action := range want {
			if !strings.Contains(places[name], `"action":"`+action+`"`) {
				t.Errorf("%s lacks %s", name, action)
			}
		}
	}

	// aerolith audit verify accepts both logs, and names a line edited
	// afterwards.
	agentLog := filepath.Join(acfg.DataDir, "audit", "audit.jsonl")
	for _, f := range []string{agentLog, filepath.Join(bcfg.DataDir, "audit", "audit.jsonl")} {
		if code, out := verify(t, f); code != 0 {
			t.Fatalf("audit verify %s = exit %d:\n%s", f, code, out)
		}
	}
	raw, err := os.ReadFile(agentLog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	edited := -1
	for i, l := range lines {
		if strings.Contains(l, `"action":"key.revoke"`) && strings.Contains(l, `"outcome":"ok"`) {
			lines[i] = strings.Replace(l, `"outcome":"ok"`, `"outcome":"denied"`, 1)
			edited = i + 1
			break
		}
	}
	if edited < 0 {
		t.Fatal("no key.revoke record to edit")
	}
	if _, err := audit.DecodeLine([]byte(lines[edited-1])); err != nil {
		t.Fatalf("the edited line is not even a record: %v", err)
	}
	tampered := filepath.Join(dir, "tampered.jsonl")
	if err := os.WriteFile(tampered, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := verify(t, tampered)
	if code != 1 || !strings.Contains(out, fmt.Sprintf("line %d: edited", edited)) {
		t.Fatalf("audit verify of a log edited at line %d = exit %d:\n%s", edited, code, out)
	}
}

// verify runs `aerolith audit verify file` and returns its exit code and
// output.
func verify(t *testing.T, file string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, "audit", "verify", file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		t.Fatalf("run audit verify: %v", err)
	}
	return 0, string(out)
}

// keySecret is the secret part of a tenant API key (after its id).
func keySecret(t *testing.T, key string) string {
	t.Helper()
	_, secret, err := tenancy.ParseKey(key)
	if err != nil || len(secret) < 16 {
		t.Fatalf("tenant key: secret of %d bytes, %v", len(secret), err)
	}
	return secret
}
