package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/agent/config"
	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/internal/testwait"
)

func TestAuditLog(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "audit.key")
	if err := os.WriteFile(keyFile, []byte("audit-hmac-key-for-the-agent-test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := plainConfig(t)
	c.DataDir = filepath.Join(dir, "data")
	c.RaftAddr, c.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.AdminKey = testKey + "-audit-0123456789"
	c.AuditHMACKeyFile = keyFile
	a, err := New(c, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	base := "http://" + a.HTTPAddr()
	testwait.Until(t, waitLimit, "ready", func() bool { return call(t, "GET", base+"/readyz", "", nil) == 200 })
	for range 5 {
		if got := call(t, "GET", base+"/api/v1/collections", "", nil); got != 401 { // testKey is not this agent's key
			t.Fatalf("wrong key = %d, want 401", got)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(c.DataDir, "audit", "audit.jsonl")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(c.AdminKey)) {
		t.Fatalf("audit log holds the admin key:\n%s", raw)
	}
	rep, err := audit.Verify(bytes.NewReader(raw), audit.VerifyOptions{HMACKey: []byte("audit-hmac-key-for-the-agent-test")})
	if err != nil {
		t.Fatalf("Verify = %v\n%s", err, raw)
	}
	if _, err := audit.Verify(bytes.NewReader(raw), audit.VerifyOptions{}); err == nil {
		t.Error("keyed log verifies without its key")
	}
	actions := map[string]int{}
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		r, err := audit.DecodeLine(line)
		if err != nil {
			t.Fatal(err)
		}
		actions[r.Action]++
	}
	for _, want := range []string{"agent.start", "membership.bootstrap", "auth.failed", "agent.stop"} {
		if actions[want] == 0 {
			t.Errorf("audit log lacks %s: %v", want, actions)
		}
	}
	// Five failures of one address and reason: one record and one summary.
	if actions["auth.failed"] != 2 {
		t.Errorf("auth.failed records = %d, want 2 (the first, then a summary of 4 repeats)", actions["auth.failed"])
	}
	if rep.Records != len(bytes.Split(bytes.TrimSpace(raw), []byte("\n"))) {
		t.Errorf("report = %+v", rep)
	}

	// Restarted, the agent continues the chain.
	a2, err := New(c, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := a2.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a2.Close(); err != nil {
		t.Fatal(err)
	}
	raw2, _ := os.ReadFile(path)
	if !bytes.HasPrefix(raw2, raw) {
		t.Fatal("restart rewrote earlier records")
	}
	if _, err := audit.Verify(bytes.NewReader(raw2), audit.VerifyOptions{HMACKey: []byte("audit-hmac-key-for-the-agent-test")}); err != nil {
		t.Fatalf("Verify after restart = %v", err)
	}
}

func TestAuditLogOff(t *testing.T) {
	c := plainConfig(t)
	c.DataDir = t.TempDir()
	c.RaftAddr, c.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.InsecureNoAuth = true
	c.AuditLog = config.AuditOff
	a, err := New(c, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "audit")); !os.IsNotExist(err) {
		t.Fatalf("audit dir with --audit-log off: %v", err)
	}
	c.AuditHMACKeyFile = filepath.Join(c.DataDir, "k")
	if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "audit-hmac-key-file:") {
		t.Fatalf("Validate with a key file and the log off = %v", err)
	}
}

// plainConfig is the default configuration with --insecure-http (plain
// HTTP and raft) set the way an operator would, through the environment.
func plainConfig(t *testing.T) config.Config {
	t.Helper()
	c, err := config.Load(nil, func(k string) (string, bool) {
		if k == config.EnvName("insecure-http") {
			return "true", true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
