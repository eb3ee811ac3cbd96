package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/service"
	"github.com/aerolithdb/aerolith/billing/service/servicetest"
	"github.com/aerolithdb/aerolith/store/storetest"
)

const billingTestKey = "cli-billing-admin-key-0123456789"

// billingLogs is a bytes.Buffer safe for a daemon's logging goroutines.
type billingLogs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *billingLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *billingLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startBilling runs a billing replica in process and points the billing
// CLI verbs at it through the environment.
func startBilling(t *testing.T, mod func(*service.Config)) *service.Service {
	t.Helper()
	s := servicetest.Start(t, billingTestKey, mod)
	t.Setenv("AEROLITH_BILLING_URL", "http://"+s.HTTPAddr())
	t.Setenv("AEROLITH_BILLING_KEY", billingTestKey)
	storetest.Eventually(t, time.Minute, func() error {
		r := runCLI(t, "", "tenant", "list")
		if r.code != 0 {
			return fmt.Errorf("tenant list: %s", r.stderr)
		}
		return nil
	})
	return s
}

// billingCLI runs a billing CLI verb and fails unless it exits 0.
func billingCLI(t *testing.T, args ...string) string {
	t.Helper()
	r := runCLI(t, "", args...)
	if r.code != 0 {
		t.Fatalf("aerolith %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestBillingServe(t *testing.T) {
	t.Setenv("AEROLITH_ADMIN_KEY", "")
	httpAddr, raftAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs billingLogs
	m := &Main{Stdin: strings.NewReader(""), Stdout: &logs, Stderr: &logs}
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, []string{"billing", "serve", "--data-dir", t.TempDir(), "--http-addr", httpAddr,
			"--raft-addr", raftAddr, "--admin-key", billingTestKey, "--period", "1h", "--log-level", "warn", "--insecure-http"})
	}()
	storetest.Eventually(t, time.Minute, func() error {
		select {
		case err := <-done:
			t.Fatalf("billing serve exited: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	out := billingCLI(t, "tenant", "create", "--org", "Acme", "--name", "acme", "--email", "ap@acme.example", "--tier", "starter",
		"--billing-url", "http://"+httpAddr, "--key", billingTestKey)
	if !strings.HasPrefix(out, "created tenant tn_") {
		t.Fatalf("tenant create printed %q", out)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("billing serve after SIGTERM-like cancel: %v\n%s", err, logs.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("billing serve did not stop")
	}
}

func TestBillingServeConfigErrors(t *testing.T) {
	t.Setenv("AEROLITH_ADMIN_KEY", "")
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no admin key", []string{"--data-dir", dir}, "admin-key: required"},
		{"no data dir", []string{"--admin-key", billingTestKey}, "data-dir: required"},
		{"bad period", []string{"--data-dir", dir, "--admin-key", billingTestKey, "--period", "weekly"}, "period"},
		{"bucket vs period", []string{"--data-dir", dir, "--admin-key", billingTestKey, "--period", "5s"}, "usage-bucket"},
		{"bad duration", []string{"--data-dir", dir, "--admin-key", billingTestKey, "--grace", "a while"}, "grace"},
		{"missing tiers file", []string{"--data-dir", dir, "--admin-key", billingTestKey, "--tiers", dir + "/none.yaml"}, "tiers"},
		{"unknown flag", []string{"--data-dir", dir, "--periode", "1h"}, "unknown flag: --periode"},
		{"neither tls nor insecure-http", []string{"--data-dir", dir, "--admin-key", billingTestKey}, "tls-cert: required (with tls-key and tls-ca)"},
		{"tls and insecure-http", []string{"--data-dir", dir, "--admin-key", billingTestKey, "--insecure-http", "--tls-cert", dir, "--tls-key", dir, "--tls-ca", dir}, "insecure-http: cannot be combined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "", append([]string{"billing", "serve"}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Fatalf("exit %d, stderr %q; want exit 2 and one line mentioning %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

func TestParseDollars(t *testing.T) {
	for in, want := range map[string]int64{"12.34": 1234, "$5": 500, "0.5": 50, ".25": 25, "1000000": 100000000, "7.": -1, "1.234": -1, "-3": -1, "1e3": -1, "": -1, "$": -1, "1,000": -1} {
		got, err := parseDollars(in)
		if want < 0 {
			if err == nil {
				t.Errorf("parseDollars(%q) = %d, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("parseDollars(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for c, want := range map[int64]string{0: "$0.00", 1234: "$12.34", -5: "-$0.05", 100: "$1.00"} {
		if got := formatCents(c); got != want {
			t.Errorf("formatCents(%d) = %q, want %q", c, got, want)
		}
	}
}
