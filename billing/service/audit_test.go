package service

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/audit"
)

func TestServiceAuditLog(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "audit.key")
	hmacKey := []byte("billing-audit-hmac-key-0123456789")
	if err := os.WriteFile(keyFile, append(hmacKey, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	s, c := startService(t, data, func(c *Config) { c.AuditHMACKeyFile = keyFile })
	ctx := context.Background()
	if _, err := c.CreateTenant(ctx, client.TenantRequest{Organization: "Acme", Name: "acme", Tier: "free", Email: "ap@acme.example"}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+s.HTTPAddr()+"/api/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer not-"+testAdminKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("wrong key = %d", res.StatusCode)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(data, "audit", "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(testAdminKey)) {
		t.Fatalf("audit log holds the admin key:\n%s", raw)
	}
	if _, err := audit.Verify(bytes.NewReader(raw), audit.VerifyOptions{HMACKey: hmacKey}); err != nil {
		t.Fatalf("Verify = %v\n%s", err, raw)
	}
	actions := map[string]int{}
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		r, err := audit.DecodeLine(line)
		if err != nil {
			t.Fatal(err)
		}
		actions[r.Action]++
	}
	for _, want := range []string{"billing.start", "membership.bootstrap", "tenant.create", "auth.failed", "billing.stop"} {
		if actions[want] == 0 {
			t.Errorf("audit log lacks %s: %v", want, actions)
		}
	}
}
