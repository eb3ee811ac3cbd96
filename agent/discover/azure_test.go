package discover

import (
	"context"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/azure"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim"
)

const azureSub = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"

// azureEnv points the default credential chain at the simulator's
// managed-identity endpoint (the way a VM's identity serves the agent).
func azureEnv(t *testing.T, url string) {
	t.Helper()
	t.Setenv("IDENTITY_ENDPOINT", url+cloudsim.MSITokenPath)
	t.Setenv("IDENTITY_HEADER", "sim-identity-header")
	for _, k := range []string{"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "MSI_ENDPOINT"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
}

// TestAzure launches VMs of two clusters into the simulator's ARM with the
// azure driver, then discovers one cluster's by its tag, through one-item
// pages, in its resource group and across the subscription.
func TestAzure(t *testing.T) {
	sim, err := cloudsim.New(cloudsim.Config{PendingFor: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	defer func() { ts.Close(); sim.Close() }()
	azureEnv(t, ts.URL)
	ctx := context.Background()
	d, err := azure.New(azure.Config{SubscriptionID: azureSub, Location: "westeurope", Endpoint: ts.URL, PollFrequency: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range []struct {
		cluster string
		nodes   int
	}{{"prod-1", 3}, {"prod-2", 1}} {
		spec := &provisioner.ClusterSpec{Name: c.cluster, Cloud: provisioner.Azure, Region: "westeurope", InstanceType: "Standard_D2s_v5", DiskGB: 30}
		if err := d.EnsureNetwork(ctx, spec); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= c.nodes; i++ {
			node := provisioner.NodeID(c.cluster, i)
			in, err := d.Launch(ctx, spec, provisioner.Launch{NodeID: node, Token: provisioner.ClientToken(c.cluster, node, 0), UserData: []byte("#cloud-config\n")})
			if err != nil {
				t.Fatal(err)
			}
			if c.cluster == "prod-1" {
				insts, _ := d.Instances(ctx, spec)
				for _, x := range insts {
					if x.ID == in.ID {
						want = append(want, x.PrivateIP+":7071")
					}
				}
			}
		}
	}
	slices.Sort(want)
	if len(want) != 3 {
		t.Fatalf("launched prod-1 at %v", want)
	}
	sim.SetFaults(cloudsim.Faults{PageSize: 1})
	for _, extra := range []string{" resource_group=aerolith-prod-1", ""} {
		c, err := Parse("provider=azure subscription_id=" + azureSub + extra + " tag_key=aerolith-cluster tag_value=prod-1 endpoint=" + ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewAzure(ctx, c, 7071)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Addrs(ctx)
		slices.Sort(got)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("Addrs (%s) = %v, %v; want %v", p, got, err, want)
		}
	}
	pages := 0
	for _, r := range sim.Requests() {
		if r.Method == "GET" && strings.Contains(r.Path, "virtualMachines") && r.Status == 200 {
			pages++
		}
	}
	if pages < 8 {
		t.Fatalf("%d VM list pages: one-item pages were not followed", pages)
	}
}

func TestAzureParseAndErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"provider=azure tag_key=k tag_value=v", "provider azure needs subscription_id=VALUE"},
		{"provider=azure subscription_id=s tag_key=k tag_value=v region=x", `unknown setting "region" for provider azure`},
		{"provider=azure subscription_id=s tag_key=k tag_value=v endpoint=ftp://x", `endpoint: "ftp://x" is not an http(s) URL`},
	} {
		if _, err := Parse(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
	// A token the simulator did not issue is refused: ARM's 401 is named.
	sim, err := cloudsim.New(cloudsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	defer func() { ts.Close(); sim.Close() }()
	other := httptest.NewServer(must(cloudsim.New(cloudsim.Config{})))
	defer other.Close()
	azureEnv(t, other.URL) // tokens from another identity service
	c, _ := Parse("provider=azure subscription_id=" + azureSub + " tag_key=k tag_value=v endpoint=" + ts.URL)
	p, err := NewAzure(context.Background(), c, 7071)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Addrs(context.Background()); err == nil || !strings.Contains(err.Error(), "InvalidAuthenticationToken") {
		t.Fatalf("Addrs with a foreign token = %v, want ARM's InvalidAuthenticationToken", err)
	}
	if _, err := NewAzure(context.Background(), c, 0); err == nil || !strings.Contains(err.Error(), "port=N") {
		t.Fatalf("NewAzure without a port = %v", err)
	}
}

func must(s *cloudsim.Server, err error) *cloudsim.Server {
	if err != nil {
		panic(err)
	}
	return s
}
