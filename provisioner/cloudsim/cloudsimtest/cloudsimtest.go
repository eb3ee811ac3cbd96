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
	return &Sim{URL: ts.URL, AgentURL: art.URL + "/releases/aerolith", AgentSHA256: hex.EncodeToString(sum[:]), Server: sim}
}

// AWSCredentials is the environment the AWS SDK takes its credentials
// from, as the simulator accepts them (it checks the signature's shape,
// not the secret), with the instance metadata lookup switched off.
func AWSCredentials() map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID":         "AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY":     "simulated",
		"AWS_EC2_METADATA_DISABLED": "true",
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
