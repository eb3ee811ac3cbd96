package main

import (
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/client/clienttest"
	"github.com/aerolithdb/aerolith/internal/apiclient/apiclienttest"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// oldAttemptBound is generous against the 10 s the CLI took per command
// before it failed over quickly (the transport's TLS handshake timeout).
const oldAttemptBound = 8 * time.Second

// tlsFake serves the fake agent over HTTPS and returns its URL and a CA
// file that verifies it.
func tlsFake(t *testing.T, srv *clienttest.Server) (string, string) {
	t.Helper()
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(ts.Close)
	ca := filepath.Join(t.TempDir(), "ca.crt")
	writeTestFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})))
	return ts.URL, ca
}

// TestCLIFailsOverPastSilentNode: with the first URL a node that takes
// connections and never answers, commands go to the next node, and -v
// says so.
func TestCLIFailsOverPastSilentNode(t *testing.T) {
	srv := newFake(t)
	secure, ca := tlsFake(t, srv)
	t.Setenv("AEROLITH_CA_FILE", ca)
	silent := apiclienttest.SilentAddr(t)
	tests := []struct {
		name string
		urls string
		args []string
		want string // in the -v report
	}{
		// TLS: the handshake never completes, nothing was sent, so even a
		// create (POST) moves on.
		{"tls create", "https://" + silent + "," + secure, []string{"doc", "put", "users", "--data", `{"n":1}`}, "no connection within 1s"},
		{"tls read", "https://" + silent + "," + secure, []string{"doc", "list", "users"}, "no connection within 1s"},
		// Plain HTTP: the read was taken and never answered.
		{"http read", "http://" + silent + "," + srv.URL, []string{"doc", "list", "users"}, "no response within 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := strings.Split(tt.urls, ",")[1]
			start := time.Now()
			r := runCLI(t, "", append(tt.args, "-v", "--url", tt.urls, "--key", cliKey)...)
			took := time.Since(start)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			want := fmt.Sprintf("aerolith: %s://%s: ", strings.Split(tt.urls, ":")[0], silent)
			if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "failing over to "+next) {
				t.Fatalf("-v stderr = %q, want a failover from %s to %s (%s)", r.stderr, silent, next, tt.want)
			}
			if took > oldAttemptBound {
				t.Errorf("took %v, want well under the old 10 s", took)
			}
		})
	}
	// Without -v the failover is silent.
	r := runCLI(t, "", "doc", "list", "users", "--url", "https://"+silent+","+secure, "--key", cliKey)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("without -v: exit %d stderr %q, want 0 and nothing", r.code, r.stderr)
	}
}

// TestCLIFailsOverPastStoppedAgent is the reported case end to end: one of
// the agents of AEROLITH_URL is a real agent process stopped with SIGSTOP.
func TestCLIFailsOverPastStoppedAgent(t *testing.T) {
	bin := aerolithBinary(t)
	dir := t.TempDir()
	u, err := setUpTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	const adminKey = "failover-admin-key-0123456789"
	start := func(id string) (string, *exec.Cmd) {
		t.Helper()
		flags, err := u.issue(dir, id, true)
		if err != nil {
			t.Fatal(err)
		}
		httpAddr := freeAddr(t)
		args := append([]string{"agent", "--node-id", id, "--data-dir", filepath.Join(dir, id),
			"--http-addr", httpAddr, "--raft-addr", freeAddr(t), "--admin-key", adminKey}, flags...)
		cmd := exec.Command(bin, args...)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AEROLITH_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		logf, err := os.Create(filepath.Join(dir, id+".log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGCONT)
			cmd.Process.Kill()
			cmd.Wait()
			logf.Close()
		})
		return "https://" + httpAddr, cmd
	}
	t.Setenv("AEROLITH_CA_FILE", u.caFile)
	t.Setenv("AEROLITH_URL", "")
	t.Setenv("AEROLITH_KEY", "")
	t.Setenv("AEROLITH_ADMIN_KEY", adminKey)
	stoppedURL, stopped := start("stopped")
	liveURL, _ := start("live")
	for _, url := range []string{stoppedURL, liveURL} {
		storetest.Eventually(t, 2*time.Minute, func() error {
			if r := runCLI(t, "", "cluster", "status", "--url", url); r.code != 0 || !strings.Contains(r.stdout, "Leader") {
				return fmt.Errorf("cluster status %s: exit %d %s%s", url, r.code, r.stdout, r.stderr)
			}
			return nil
		})
	}
	if err := stopped.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	urls := stoppedURL + "," + liveURL
	for _, args := range [][]string{
		{"cluster", "status"},
		// An unmanaged agent serves the admin key data as tenant default.
		{"doc", "put", "things", "--data", `{"a":1}`, "--key", adminKey},
	} {
		begin := time.Now()
		r := runCLI(t, "", append(args, "-v", "--url", urls)...)
		took := time.Since(begin)
		if r.code != 0 {
			t.Fatalf("%v with %s stopped: exit %d %q", args, stoppedURL, r.code, r.stderr)
		}
		if want := "aerolith: " + stoppedURL + ": "; !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "failing over to "+liveURL) {
			t.Fatalf("%v: -v stderr = %q, want the failover from %s to %s", args, r.stderr, stoppedURL, liveURL)
		}
		t.Logf("%v with the first agent stopped: %v", args[:2], took)
		if took > oldAttemptBound {
			t.Errorf("%v took %v, want well under the old 10 s", args, took)
		}
	}
}
