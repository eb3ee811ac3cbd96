package provision

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// TestCreateCrashLoopFails: a managed cluster given billing over plain
// http, which its agents (serving TLS) refuse at start, crash-loops; cluster
// create fails once a node's agent has been restarted
// deployment.CrashLoopRestarts (3) times in a row, with the node and the
// agent's own error, not when its --timeout ends; destroy then removes
// the crash-looping nodes and deregisters the cluster.
func TestCreateCrashLoopFails(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bill, err := proctest.StartBilling(ctx, proctest.BillingConfig{Binary: binary, Dir: filepath.Join(t.TempDir(), "billing")})
	if err != nil {
		t.Fatal(err)
	}
	defer bill.Stop()
	if !strings.HasPrefix(bill.URL(), "http://") {
		t.Fatalf("billing at %s, want plain http", bill.URL())
	}
	admin, err := bill.Admin()
	if err != nil {
		t.Fatal(err)
	}
	ten, err := admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "Org", Name: "crashy", Tier: "starter", Email: "crashy@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, err := e.try("cluster", "create", "crashy", "--nodes", "3", "--timeout", "30m",
		"--billing-url", bill.URL(), "--billing-key", bill.AdminKey(), "--tenant", ten.ID)
	if err == nil {
		t.Fatalf("cluster create with billing over plain http succeeded:\n%s", stderr)
	}
	msg := string(stderr)
	want := regexp.MustCompile(`cluster crashy cannot form: node crashy-n[123] keeps crashing \(exited 3 times in a row, each soon after it started; last: exit status 2\): ` +
		`.*billing-url: "` + regexp.QuoteMeta(bill.URL()) + `" is plain http.*; its log: \S+/agent\.log; ` +
		`its nodes keep restarting the agent: fix the setting, then aerolith cluster destroy crashy --yes`)
	if !want.MatchString(msg) {
		t.Fatalf("cluster create error:\n%s\nwant it to match %s", msg, want)
	}
	if strings.Contains(msg, "deadline exceeded") {
		t.Fatalf("cluster create waited for its timeout:\n%s", msg)
	}
	// The log it names is the crashing agent's.
	logPath := regexp.MustCompile(`its log: (\S+/agent\.log);`).FindStringSubmatch(msg)[1]
	if b, err := os.ReadFile(logPath); err != nil || !strings.Contains(string(b), "is plain http") {
		t.Fatalf("the log named, %s: %v\n%s", logPath, err, b)
	}
	e.destroy("crashy", "--billing-key", bill.AdminKey())
}

// TestCreateRelativeStateDir: --state-dir given relative to the working
// directory works: the instances, which run in their own directories,
// get absolute paths.
func TestCreateRelativeStateDir(t *testing.T) {
	e := newEnv(t)
	run := func(args ...string) []byte {
		t.Helper()
		cmd := e.command(append(args, "--state-dir", "rel")...)
		cmd.Dir = e.state
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("aerolith %s --state-dir rel: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out
	}
	s := e.showJSON(run("cluster", "create", "rel", "--nodes", "1", "--insecure-http", "-o", "json"))
	if !strings.HasPrefix(s.Health, "healthy") {
		t.Fatalf("created: %+v", s)
	}
	if _, err := os.Stat(filepath.Join(e.state, "rel", "clusters", "rel.json")); err != nil {
		t.Fatalf("the record is not under the working directory's rel: %v", err)
	}
	run("cluster", "destroy", "rel", "--yes")
	if pids := e.processes(); len(pids) > 0 {
		t.Fatalf("processes still running after destroy: %v", pids)
	}
}
