package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the agent's logging goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAgentCommandConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"negative bootstrap-expect", []string{"--data-dir", dir, "--insecure-no-auth", "--bootstrap-expect", "-1"}, "bootstrap-expect: must be >= 0"},
		{"no data dir", []string{"--insecure-no-auth"}, "data-dir: required"},
		{"no key", []string{"--data-dir", dir}, "admin-key: required"},
		{"not a number", []string{"--data-dir", dir, "--bootstrap-expect", "x"}, "bootstrap-expect"},
		{"unknown flag", []string{"--data-dir", dir, "--nodeid", "x"}, "unknown flag: --nodeid"},
		{"discover", []string{"--data-dir", dir, "--admin-key", "k", "--discover", "provider=aws"}, "discover: provider aws needs region=VALUE"},
		{"neither tls nor insecure-http", []string{"--data-dir", dir, "--admin-key", "k"}, "tls-cert: required (with tls-key and tls-ca): give this node's certificate (aerolith cert issue), or pass --insecure-http"},
		{"tls and insecure-http", []string{"--data-dir", dir, "--admin-key", "k", "--insecure-http", "--tls-cert", dir, "--tls-key", dir, "--tls-ca", dir}, "insecure-http: cannot be combined"},
		{"tls key missing", []string{"--data-dir", dir, "--admin-key", "k", "--tls-cert", dir, "--tls-ca", dir}, "tls-key: required with TLS"},
		{"positional arg", []string{"extra"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
			err := m.Run(context.Background(), append([]string{"agent"}, tt.args...))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans several lines: %q", err)
			}
			if code := exitCode(err); code == 0 {
				t.Fatalf("exit code 0 for %v", err)
			}
		})
	}
}

func TestAgentCommandRunsUntilCanceled(t *testing.T) {
	stderr := &syncBuffer{}
	m := &Main{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: stderr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, []string{"agent", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0",
			"--raft-addr", "127.0.0.1:0", "--insecure-no-auth", "--insecure-http", "--log-format", "json"})
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(stderr.String(), `"msg":"agent serving"`) {
		select {
		case err := <-done:
			t.Fatalf("agent exited early: %v\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent never served:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel() // what SIGTERM does through main's signal context
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent exited with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("agent did not stop after cancel")
	}
	if !strings.Contains(stderr.String(), `"msg":"agent stopped"`) {
		t.Fatalf("no clean stop logged:\n%s", stderr)
	}
}

// TestAgentCommandCanceledWhileStarting: SIGTERM before Open returns (the
// node still resolving its --join peers or opening the store) is a clean
// stop, not an error.
func TestAgentCommandCanceledWhileStarting(t *testing.T) {
	stderr := &syncBuffer{}
	m := &Main{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: stderr}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the signal has already arrived when Open runs
	err := m.Run(ctx, []string{"agent", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0",
		"--raft-addr", "127.0.0.1:0", "--insecure-no-auth", "--insecure-http", "--log-format", "json",
		"--bootstrap-expect", "3", "--join", "127.0.0.1:1,127.0.0.1:2"})
	if err != nil {
		t.Fatalf("Run = %v, want nil (clean stop)\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), `"msg":"shutting down"`) {
		t.Fatalf("no shutdown logged:\n%s", stderr)
	}
}
