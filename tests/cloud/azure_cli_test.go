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

// TestCLIClusterOnSimulatedAzure drives `aerolith cluster create|show|
// scale|destroy --cloud azure` as a user would: the subscription from
// AZURE_SUBSCRIPTION_ID, credentials from the standard chain (here the
// managed identity the simulator serves), ARM at --endpoint, a real
// billing. The nodes boot from customData, enroll and form; destroy
// leaves nothing in the simulator.
func TestCLIClusterOnSimulatedAzure(t *testing.T) {
	proctest.SkipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	e := newEnv(t, ctx)
	tenant, _, _ := e.managed(t, ctx, "cli")
	azureIdentity(t, e.simURL)
	state := t.TempDir()
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.CommandContext(ctx, binary, append(args, "--state-dir", state)...)
		cmd.Env = append(os.Environ(), "AEROLITH_BILLING_KEY="+e.bill.AdminKey(), "AZURE_DEFAULTS_LOCATION=westeurope")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			t.Logf("aerolith %s: %v\nstderr:\n%s", strings.Join(args, " "), err, tail(errb.String(), 20))
		}
		return out.String(), err
	}
	if _, err := run("cluster", "create", "shop", "--cloud", "azure", "--nodes", "3",
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
		t.Fatalf("cluster show -o json = %s (%v); want 3 running VMs of a healthy cluster", out, err)
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
	if got, left := liveNodes(e.sim), armLeft(e.sim); len(got) != 0 || len(left) != 0 || len(e.booter.Running()) != 0 {
		t.Fatalf("after destroy: live %v, resources %v, agents %v", got, left, e.booter.Running())
	}
	checkAzureRequests(t, e.sim)
}
