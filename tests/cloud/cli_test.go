package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/tests/proctest"
)

// TestCLIClusterOnSimulatedAWS drives `aerolith cluster create|show|scale|
// destroy --cloud aws` as a user would, against the simulator's EC2
// endpoint and a real billing: the nodes boot from their user data, get
// certificates from billing and find each other there; the CLI verifies
// them with the cluster's CA it fetched from billing.
func TestCLIClusterOnSimulatedAWS(t *testing.T) {
	proctest.SkipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	e := newEnv(t, ctx)
	tenant, _, _ := e.managed(t, ctx, "cli")
	state := t.TempDir()
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.CommandContext(ctx, binary, append(args, "--state-dir", state)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AEROLITH_BILLING_KEY="+e.bill.AdminKey())
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			t.Logf("aerolith %s: %v\nstderr:\n%s", strings.Join(args, " "), err, tail(errb.String(), 20))
		}
		return out.String(), err
	}
	if _, err := run("cluster", "create", "shop", "--cloud", "aws", "--region", "eu-west-1", "--nodes", "3",
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
			State  string `json:"state"`
		} `json:"instances"`
		Health string `json:"health"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || len(shown.Instances) != 3 || !strings.HasPrefix(shown.Health, "healthy") {
		t.Fatalf("cluster show -o json = %s (%v); want 3 running instances of a healthy cluster", out, err)
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
	if got := liveNodes(e.sim); len(got) != 0 || len(e.sim.SecurityGroups()) != 0 || len(e.booter.Running()) != 0 {
		t.Fatalf("after destroy: live %v, groups %d, agents %v", got, len(e.sim.SecurityGroups()), e.booter.Running())
	}
}
