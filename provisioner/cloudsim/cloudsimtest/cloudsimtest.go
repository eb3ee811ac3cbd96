// Package cloudsimtest serves the cloud simulator for the tests of the
// tools that provision through it (the Terraform provider, the bridged
// Pulumi provider): EC2, GCE and ARM on one loopback server, every
// instance booted from its user data by a cloudsim.AgentBooter (real
// agents, as cloud-init would start them on a VM), and the agent binary
// served as a release download.
package cloudsimtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	"github.com/aerolithdb/aerolith/provisioner/azure"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim"
)

// Sim is a running simulator. Everything stops when the test ends.
type Sim struct {
	// URL is the endpoint of every simulated cloud API (the aws, gcp and
	// azure endpoint settings).
	URL string
	// AgentURL serves the agent binary; AgentSHA256 is its digest.
	AgentURL, AgentSHA256 string
	// Server is the simulator, for tests that inspect its instances.
	Server *cloudsim.Server
	// Booter runs the instances' agents (Running lists them).
	Booter *cloudsim.AgentBooter
}

// Start serves the simulator and binary (the aerolith binary the
// instances download and run) until t ends. When t has failed, the last
// lines of every agent's log are logged before the agents stop.
func Start(t testing.TB, binary string) *Sim {
	t.Helper()
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	files := http.NewServeMux()
	files.HandleFunc("GET /releases/aerolith", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, binary) })
	art := httptest.NewServer(files)
	t.Cleanup(art.Close)
	dir := t.TempDir()
	booter := cloudsim.NewAgentBooter(dir)
	sim, err := cloudsim.New(cloudsim.Config{Boot: booter, PendingFor: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(func() {
		ts.Close()
		sim.Close()
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(dir, "i-*", "agent.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				t.Logf("%s:\n%s", l, strings.Join(lines[max(0, len(lines)-10):], "\n"))
			}
		}
		booter.Close(context.Background())
	})
	return &Sim{URL: ts.URL, AgentURL: art.URL + "/releases/aerolith", AgentSHA256: hex.EncodeToString(sum[:]), Server: sim, Booter: booter}
}

// The project and subscription the simulator's tests provision in.
const (
	GCPProject        = "acme-prod-1"
	AzureSubscription = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
)

// SetCredentials puts cloud's credentials in the environment, where its
// SDK finds them (in this process, and in the processes the test starts,
// such as a provider plugin), until t ends:
//   - aws: access keys (the simulator checks the SigV4 signature's shape,
//     not the secret), the instance metadata lookup switched off;
//   - gcp: application default credentials (GOOGLE_APPLICATION_CREDENTIALS)
//     naming a service account key whose token_uri is the simulator, where
//     the SDK trades a signed JWT for a bearer token;
//   - azure: azidentity's managed identity (the App Service shape of
//     IDENTITY_ENDPOINT and IDENTITY_HEADER) at the simulator's token
//     endpoint, the credential chain's other sources unset.
func SetCredentials(t *testing.T, cloud, simURL string) {
	t.Helper()
	switch cloud {
	case "aws":
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "simulated")
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	case "gcp":
		key, err := cloudsim.GCEServiceAccountKey(simURL, GCPProject)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "sa.json")
		if err := os.WriteFile(path, key, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
	case "azure":
		t.Setenv("IDENTITY_ENDPOINT", simURL+cloudsim.MSITokenPath)
		t.Setenv("IDENTITY_HEADER", "sim-identity-header")
		for _, k := range []string{"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "MSI_ENDPOINT", "AZURE_SUBSCRIPTION_ID"} {
			t.Setenv(k, "") // restored when t ends
			os.Unsetenv(k)
		}
	default:
		t.Fatalf("the simulator has no cloud %q; want aws, gcp or azure", cloud)
	}
}

// Live is the simulator's instances that are not terminated.
func (s *Sim) Live() []cloudsim.Instance {
	var out []cloudsim.Instance
	for _, in := range s.Server.Instances() {
		if in.State != "terminated" {
			out = append(out, in)
		}
	}
	return out
}

// AzureResourceGroup creates resource group name in location of the
// simulated subscription through ARM (the official SDK, with the managed
// identity SetCredentials set up), as its owner would before handing it
// to a cluster.
func AzureResourceGroup(t testing.TB, simURL, name, location string) {
	t.Helper()
	cred, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	rgs, err := armresources.NewResourceGroupsClient(AzureSubscription, cred, &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: azure.CloudConfig(simURL), InsecureAllowCredentialWithHTTP: true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rgs.CreateOrUpdate(context.Background(), name, armresources.ResourceGroup{Location: &location}, nil); err != nil {
		t.Fatalf("create resource group %s: %v", name, err)
	}
}
