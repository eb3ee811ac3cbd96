package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/provisioner"
)

// The provisioning verbs' validation and dry runs, in-process: nothing
// here starts a node (tests/provision does, as real processes).

func TestClusterCreateRefusesBadInput(t *testing.T) {
	state := t.TempDir()
	t.Setenv("AEROLITH_BILLING_KEY", "")
	for _, k := range []string{"GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "CLOUDSDK_COMPUTE_ZONE", "CLOUDSDK_COMPUTE_REGION", "AZURE_SUBSCRIPTION_ID", "AZURE_DEFAULTS_LOCATION", "AZURE_DEFAULTS_GROUP"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"even nodes", []string{"--nodes", "4"}, "nodes: 4 nodes: want 1, 3, 5 or 7"},
		{"bad name", []string{"--nodes", "3", "--cloud", "local"}, ""},
		{"unknown cloud", []string{"--cloud", "ibm"}, `--cloud ibm: this command drives local, aws, gcp and azure clusters`},
		{"gcp without a project", []string{"--cloud", "gcp", "--zone", "europe-west1-b"}, `--project: the GCP project is required (or GOOGLE_CLOUD_PROJECT`},
		{"gcp without a zone", []string{"--cloud", "gcp", "--project", "acme-prod-1"}, `--zone: the GCE zone is required (or CLOUDSDK_COMPUTE_ZONE`},
		{"gcp zone outside its region", []string{"--cloud", "gcp", "--project", "acme-prod-1", "--zone", "europe-west1-b", "--region", "us-east1", "--endpoint", "http://127.0.0.1:1"}, `zone: "europe-west1-b" is not a zone of us-east1`},
		{"azure without a subscription", []string{"--cloud", "azure", "--region", "westeurope"}, "--subscription: the Azure subscription id is required (or AZURE_SUBSCRIPTION_ID)"},
		{"bad resource group", []string{"--cloud", "azure", "--region", "westeurope", "--subscription", "0b1f6471-1bf0-4dda-aec3-cb9272f09590", "--resource-group", "msp rg"}, `--resource-group: resource group "msp rg": ' ' is not allowed; want 1-90 letters`},
		{"azure settings on aws", []string{"--cloud", "aws", "--subscription", "x"}, "--subscription and --resource-group are for --cloud azure, not aws"},
		{"azure without region", []string{"--cloud", "azure", "--subscription", "0b1f6471-1bf0-4dda-aec3-cb9272f09590", "--endpoint", "http://127.0.0.1:1"}, `region: "" is not a region of azure`},
		{"aws without an agent", []string{"--cloud", "aws", "--region", "eu-west-1"}, "--agent-url and --agent-sha256: required for --cloud aws"},
		{"region on local", []string{"--region", "eu-west-1"}, "region: not used by the local cloud"},
		{"aws without region", []string{"--cloud", "aws", "--endpoint", "http://127.0.0.1:1"}, `region: "" is not a region of aws`},
		{"tenant without billing", []string{"--tenant", "t1"}, "--tenant: needs --billing-url"},
		{"billing without tenant", []string{"--billing-url", "https://b:7080"}, "--billing-url: name at least one --tenant"},
		{"billing without key", []string{"--billing-url", "https://b:7080", "--tenant", "t1"}, "--billing-key: the billing admin key is required"},
		{"bad tag", []string{"--tag", "novalue"}, `--tag "novalue": want key=value`},
		{"reserved tag", []string{"--tag", "aerolith-x=1"}, `tags: key "aerolith-x"`},
		{"provisioner's setting", []string{"--agent-setting", "join=x:1"}, "--agent-setting join: set by the provisioner"},
		{"bad agent digest", []string{"--agent-url", "https://example.com/a", "--agent-sha256", "abc"}, `agent.sha256: "abc" is not a SHA-256 digest`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "shop"
			if tc.want == "" {
				name = "Shop!" // the bad name case
				tc.want = `name: "Shop!" is not a cluster name`
			}
			r := runCLI(t, "", append([]string{"cluster", "create", name, "--state-dir", state}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
	if ents, _ := os.ReadDir(state); len(ents) != 0 {
		t.Fatalf("refused creates left %d entries in the state directory", len(ents))
	}
}

func TestClusterCreateDryRun(t *testing.T) {
	state := t.TempDir()
	r := runCLI(t, "", "cluster", "create", "shop", "--nodes", "3", "--state-dir", state, "--dry-run", "-o", "json")
	if r.code != 0 {
		t.Fatalf("dry run: exit %d, %s", r.code, r.stderr)
	}
	var plan provisioner.Plan
	if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil {
		t.Fatal(err)
	}
	var launches []string
	for _, a := range plan.Actions {
		if a.Kind == provisioner.ActLaunch {
			launches = append(launches, a.NodeID)
		}
	}
	if plan.Cluster != "shop" || strings.Join(launches, ",") != "shop-n1,shop-n2,shop-n3" {
		t.Fatalf("plan = %+v", plan)
	}
	if ents, _ := os.ReadDir(state); len(ents) != 0 {
		t.Fatalf("a dry run wrote %d entries to the state directory", len(ents))
	}
	r = runCLI(t, "", "cluster", "create", "shop", "--nodes", "3", "--state-dir", state, "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "plan for cluster shop:\n  1. ensure-network") || !strings.Contains(r.stdout, "launch shop-n3: missing") {
		t.Fatalf("dry run table: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestClusterVerbsNeedAKnownCluster(t *testing.T) {
	state := t.TempDir()
	for _, args := range [][]string{{"show", "ghost"}, {"scale", "ghost", "--nodes", "5"}, {"destroy", "ghost", "--yes"}} {
		r := runCLI(t, "", append(append([]string{"cluster"}, args...), "--state-dir", state)...)
		if r.code != 1 || !strings.Contains(r.stderr, `no such cluster: "ghost" is not in`) {
			t.Errorf("cluster %v: exit %d, %q", args, r.code, r.stderr)
		}
	}
	r := runCLI(t, "", "cluster", "list", "--state-dir", state, "-o", "json")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("empty list: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}
