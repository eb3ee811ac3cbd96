package cloudsim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/provisioner/cloudinit"
)

// fakeAgent is a script standing in for the aerolith binary: it records
// its configuration, then its arguments (renamed into place last, so that
// a test seeing args sees the whole of both), then runs until stopped,
// exiting 0 on SIGTERM as the agent does.
const fakeAgent = `#!/bin/sh
trap 'kill $child; exit 0' TERM
cp "$3" "$(dirname "$3")/seen.yaml"
echo "$@" > "$(dirname "$3")/args.tmp"
mv "$(dirname "$3")/args.tmp" "$(dirname "$3")/args"
sleep 3600 & child=$!
wait
`

func serveArtifact(t *testing.T, body string) (url, sum string) {
	t.Helper()
	s := sha256.Sum256([]byte(body))
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
	t.Cleanup(ts.Close)
	return ts.URL + "/aerolith", hex.EncodeToString(s[:])
}

func userData(t *testing.T, url, sum string) []byte {
	t.Helper()
	ud, err := cloudinit.Render(cloudinit.Node{Cluster: "c", NodeID: "c-n1", AgentURL: url, AgentSHA256: sum,
		Settings: []cloudinit.Setting{{Key: "billing-ca", Value: cloudinit.FilesDir + "billing-ca.pem"}, {Key: "insecure-http", Value: true}},
		Files:    []cloudinit.File{{Path: cloudinit.FilesDir + "billing-ca.pem", Content: "CA"}}})
	if err != nil {
		t.Fatal(err)
	}
	return ud
}

func TestAgentBooterRunsVerifiedBinary(t *testing.T) {
	url, sum := serveArtifact(t, fakeAgent)
	dir := t.TempDir()
	b := NewAgentBooter(dir)
	t.Cleanup(func() { b.Close(context.Background()) })
	p, err := b.Boot(context.Background(), BootRequest{InstanceID: "i-1", PrivateIP: "127.0.0.9", UserData: userData(t, url, sum)})
	if err != nil {
		t.Fatal(err)
	}
	inst := filepath.Join(dir, "i-1")
	var args []byte
	for deadline := time.Now().Add(10 * time.Second); ; {
		if args, err = os.ReadFile(filepath.Join(inst, "args")); err == nil && len(args) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent never ran: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // the supervisor starts it asynchronously
	}
	for _, want := range []string{"agent --config", "--http-addr 127.0.0.9:7070", "--raft-addr 127.0.0.9:7071", "--advertise 127.0.0.9", "--data-dir " + filepath.Join(inst, "data")} {
		if !strings.Contains(string(args), want) {
			t.Errorf("agent args %q lack %q", args, want)
		}
	}
	seen, _ := os.ReadFile(filepath.Join(inst, "seen.yaml"))
	caPath := filepath.Join(inst, "root", "etc", "aerolith", "billing-ca.pem")
	if !strings.Contains(string(seen), "billing-ca: "+caPath) {
		t.Errorf("config names the CA at %q; want the instance's own copy %s:\n%s", seen, caPath, seen)
	}
	if ca, _ := os.ReadFile(caPath); string(ca) != "CA" {
		t.Errorf("instance CA file = %q", ca)
	}
	if len(b.Running()) != 1 {
		t.Fatalf("Running() = %v", b.Running())
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(b.Running()) != 0 {
		t.Fatalf("Running() after Stop = %v", b.Running())
	}
}

func TestAgentBooterRefusesWrongDigest(t *testing.T) {
	url, _ := serveArtifact(t, fakeAgent)
	other := strings.Repeat("0", 64)
	dir := t.TempDir()
	b := NewAgentBooter(dir)
	t.Cleanup(func() { b.Close(context.Background()) })
	_, err := b.Boot(context.Background(), BootRequest{InstanceID: "i-2", PrivateIP: "127.0.0.9", UserData: userData(t, url, other)})
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("Boot with a wrong digest = %v, want ErrDigestMismatch", err)
	}
	if bins, _ := filepath.Glob(filepath.Join(dir, "bin", "aerolith-*")); len(bins) != 0 {
		t.Fatalf("a binary with the wrong digest was kept: %v", bins)
	}
	if len(b.Running()) != 0 {
		t.Fatal("something runs")
	}
}
