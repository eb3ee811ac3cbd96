package provider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim/cloudsimtest"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
)

// simInstance is what the simulator's GET /_sim/instances shows of one.
type simInstance struct {
	ID    string
	State string
	Tags  map[string]string
}

func simInstances(t *testing.T, simURL, cluster string) []simInstance {
	t.Helper()
	resp, err := http.Get(simURL + "/_sim/instances")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var all []simInstance
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		t.Fatal(err)
	}
	var out []simInstance
	for _, in := range all {
		if in.Tags[provisioner.TagCluster] == cluster {
			out = append(out, in)
		}
	}
	return out
}

// TestAccKilledApply: terraform apply SIGKILLed (with the provider it
// runs) while the cluster's nodes are launching, then apply again: the
// second apply resumes the first's record, so there is one cluster (the
// same billing registration) and exactly three instances in the
// simulator, none launched twice. resource.Test cannot kill a step, so
// this drives the real terraform binary with a dev_overrides CLI
// configuration, as scripts/demo-terraform.sh does.
func TestAccKilledApply(t *testing.T) {
	accPreCheck(t)
	_, admin := shared.get(t)
	simURL, agentURL, sum := cloudSim(t)
	cloudsimtest.SetCredentials(t, "aws", simURL)
	state := stateDir(t)
	const name = "tf-killed"
	tn, err := admin.CreateTenant(t.Context(), billingclient.TenantRequest{Organization: "Killed", Name: "killed", Tier: "starter", Email: "ops@killed.example"})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "terraform-provider-aerolith"), "../cmd/terraform-provider-aerolith")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the provider: %v\n%s", err, out)
	}
	rc := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(rc, []byte(fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"aerolithdb/aerolith\" = %q\n  }\n  direct {}\n}\n", bin)), 0o600); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`terraform {
  required_providers {
    aerolith = { source = "aerolithdb/aerolith" }
  }
}
%s
resource "aerolith_cluster" "c" {
  name              = %q
  cloud             = "aws"
  node_count        = 3
  agent_url         = %q
  agent_sha256      = %q
  allowed_cidrs     = ["127.0.0.0/8"]
  tenant_ids        = [%q]
  delete_protection = false
}

output "cluster_id" {
  value = aerolith_cluster.c.billing_cluster_id
}
`, providerBlock(t, state, awsCloud.block(simURL)), name, agentURL, sum, tn.ID)
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	terraform := func(args ...string) *exec.Cmd {
		cmd := exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
		// Its own process group: the kill takes the provider plugin too,
		// as a crash of the machine running terraform would.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		return cmd
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := terraform(args...).CombinedOutput()
		if err != nil {
			t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		if out, err := terraform("destroy", "-auto-approve", "-input=false", "-no-color").CombinedOutput(); err != nil {
			t.Errorf("terraform destroy: %v\n%s", err, out)
		}
	})

	first := terraform("apply", "-auto-approve", "-input=false", "-no-color")
	var log strings.Builder
	first.Stdout, first.Stderr = &log, &log
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// The moment: the first instance is in the simulator, the cluster not
	// yet formed (three nodes, one launched).
	err = testwait.Poll(3*time.Minute, "an instance of "+name+" in the simulator", func() error {
		if len(simInstances(t, simURL, name)) == 0 {
			return fmt.Errorf("none yet")
		}
		return nil
	})
	if err != nil {
		syscall.Kill(-first.Process.Pid, syscall.SIGKILL)
		first.Wait()
		t.Fatalf("no instance launched: %v\n%s", err, log.String())
	}
	launched := len(simInstances(t, simURL, name))
	if err := syscall.Kill(-first.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(); err == nil {
		t.Fatalf("the killed apply exited 0 (it finished before the kill):\n%s", log.String())
	}
	rec, _, err := (deployment.Store{Dir: state}).Load(name)
	if err != nil {
		t.Fatalf("the killed apply left no record: %v", err)
	}
	t.Logf("killed with %d instance(s) launched", launched)

	run("apply", "-auto-approve", "-input=false", "-no-color")

	insts := simInstances(t, simURL, name)
	if len(insts) != 3 {
		t.Fatalf("%d instances in the simulator for 3 nodes: %+v", len(insts), insts)
	}
	for _, in := range insts {
		if in.State != "running" {
			t.Errorf("instance %s is %s", in.ID, in.State)
		}
	}
	if names, _ := (deployment.Store{Dir: state}).Names(); len(names) != 1 {
		t.Errorf("clusters in the state directory: %v, want only %s", names, name)
	}
	if got := strings.Fields(run("state", "list")); len(got) != 1 || got[0] != "aerolith_cluster.c" {
		t.Errorf("terraform state list = %v", got)
	}
	id := strings.TrimSpace(run("output", "-raw", "-no-color", "cluster_id"))
	if rec.Spec.Managed == nil || id != rec.Spec.Managed.ClusterID {
		t.Errorf("billing cluster after the second apply = %s; the killed apply registered %+v: a second registration", id, rec.Spec.Managed)
	}
	if ct, err := admin.ListClusterTenants(t.Context(), id); err != nil || len(ct.Tenants) != 1 || ct.Tenants[0] != tn.ID {
		t.Errorf("billing: cluster %s serves %+v, %v; want %s", id, ct, err, tn.ID)
	}
}
