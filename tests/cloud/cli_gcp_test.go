package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/tests/proctest"
)

// TestCLIClusterOnSimulatedGCP drives `aerolith cluster create|show|scale|
// destroy --cloud gcp` as a user would: the project and zone from Google's
// environment variables, credentials from a service account key file
// (GOOGLE_APPLICATION_CREDENTIALS) whose token endpoint is the simulator,
// the Compute API at --endpoint, and a real billing the nodes enroll with.
func TestCLIClusterOnSimulatedGCP(t *testing.T) {
	proctest.SkipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	e := newEnv(t, ctx)
	tenant, _, _ := e.managed(t, ctx, "cli")
	creds := gcpCredentials(t, e)
	logAgentsOnFailure(t, e)
	state := t.TempDir()
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.CommandContext(ctx, binary, append(args, "--state-dir", state)...)
		cmd.Env = append(os.Environ(), "GOOGLE_APPLICATION_CREDENTIALS="+creds, "GOOGLE_CLOUD_PROJECT="+gcpProject,
			"CLOUDSDK_COMPUTE_ZONE=europe-west1-c", "AEROLITH_BILLING_KEY="+e.bill.AdminKey())
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			t.Logf("aerolith %s: %v\nstderr:\n%s", strings.Join(args, " "), err, tail(errb.String(), 20))
		}
		return out.String(), err
	}
	if out, err := run("cluster", "create", "shop", "--cloud", "gcp", "--nodes", "3", "--endpoint", e.simURL, "--insecure-http", "--dry-run"); err != nil || !strings.Contains(out, "launch shop-n3") {
		t.Fatalf("create --dry-run = %q, %v; want the plan", out, err)
	}
	if _, err := run("cluster", "create", "shop", "--cloud", "gcp", "--nodes", "3",
		"--endpoint", e.simURL, "--billing-url", e.bill.URL(), "--billing-ca-file", e.bill.CAFile(), "--tenant", tenant); err != nil {
		t.Fatal(err)
	}
	out, err := run("cluster", "show", "shop", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var shown struct {
		Instances []struct {
			NodeID string `json:"node_id"`
		} `json:"instances"`
		Health string `json:"health"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || len(shown.Instances) != 3 || !strings.HasPrefix(shown.Health, "healthy") {
		t.Fatalf("cluster show -o json = %s (%v); want 3 instances of a healthy cluster", out, err)
	}
	for _, in := range e.sim.Instances() {
		if in.Cloud != "gcp" || in.Zone != "europe-west1-c" {
			t.Fatalf("instance %s in %s/%s: want gcp's europe-west1-c (from CLOUDSDK_COMPUTE_ZONE)", in.ID, in.Cloud, in.Zone)
		}
	}
	if _, err := run("cluster", "scale", "shop", "--nodes", "5"); err != nil {
		t.Fatal(err)
	}
	if got := liveNodes(e.sim); !slices.Equal(got, []string{"shop-n1", "shop-n2", "shop-n3", "shop-n4", "shop-n5"}) {
		t.Fatalf("live nodes after scale 5: %v", got)
	}
	if _, err := run("cluster", "scale", "shop", "--nodes", "3"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("cluster", "destroy", "shop", "--yes"); err != nil {
		t.Fatal(err)
	}
	if got, left := liveNodes(e.sim), gcpLeft(e); len(got) != 0 || left != "" || len(e.booter.Running()) != 0 {
		t.Fatalf("after destroy: live %v, left %q, agents %v", got, left, e.booter.Running())
	}
	checkGCPAuth(t, e)

	// Unmanaged: without billing, the nodes find each other by the
	// cluster label through the Compute API (their own application default
	// credentials, as a VM's service account would give them).
	if _, err := run("cluster", "create", "plain", "--cloud", "gcp", "--nodes", "3", "--endpoint", e.simURL, "--insecure-http"); err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(e.booter.Dir, "*", "agent.log"))
	discovered := 0
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		if strings.Contains(string(b), "discovered the cluster's nodes") && strings.Contains(string(b), "gcp project="+gcpProject) {
			discovered++
		}
	}
	if discovered != 3 {
		t.Fatalf("%d of 3 agents logged a discovery through the Compute API (of %d logs)", discovered, len(logs))
	}
	if out, err := run("cluster", "show", "plain", "--output", "json"); err != nil || !strings.Contains(out, `"health": "healthy`) {
		t.Fatalf("show plain = %s, %v; want a healthy cluster", out, err)
	}
	if _, err := run("cluster", "destroy", "plain", "--yes"); err != nil {
		t.Fatal(err)
	}
	if left := gcpLeft(e); left != "" || len(e.booter.Running()) != 0 {
		t.Fatalf("after destroying plain: left %q, agents %v", left, e.booter.Running())
	}
}
