package cloud

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim"
	gcpdrv "github.com/aerolithdb/aerolith/provisioner/gcp"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

const gcpProject = "acme-prod-1"

// gcpCredentials writes a service account key whose token_uri is the
// simulator and points GOOGLE_APPLICATION_CREDENTIALS at it: the driver
// finds its credentials as application default credentials, signs a JWT
// and trades it at the simulator for a bearer token, as with a real
// account.
func gcpCredentials(t *testing.T, e *env) string {
	t.Helper()
	key, err := cloudsim.GCEServiceAccountKey(e.simURL, gcpProject)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(path, key, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
	return path
}

func gcpDriver(t *testing.T, e *env) *gcpdrv.Driver {
	t.Helper()
	logAgentsOnFailure(t, e)
	gcpCredentials(t, e)
	t.Setenv("GOOGLE_CLOUD_PROJECT", gcpProject)
	d, err := gcpdrv.New(context.Background(), gcpdrv.Config{Endpoint: e.simURL, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// onGCP turns the managed spec of env.managed into a GCP one.
func onGCP(spec func(n int) *provisioner.ClusterSpec) func(n int) *provisioner.ClusterSpec {
	return func(n int) *provisioner.ClusterSpec {
		s := spec(n)
		s.Cloud, s.Region, s.Zone, s.InstanceType = provisioner.GCP, "europe-west1", "europe-west1-b", "e2-standard-2"
		return s
	}
}

// gcpLeft names what the simulator's GCE still holds of the cluster.
func gcpLeft(e *env) string {
	var left []string
	for _, fw := range e.sim.Firewalls() {
		left = append(left, "firewall "+fw.Name)
	}
	for _, in := range e.sim.Instances() {
		if in.Cloud == "gcp" && in.State != "terminated" {
			left = append(left, fmt.Sprintf("instance %s (%s)", in.ID, in.State))
		}
	}
	return strings.Join(left, ", ")
}

// checkGCPAuth: every Compute API request carried a bearer token, which
// the driver got from the token endpoint with a signed JWT.
func checkGCPAuth(t *testing.T, e *env) {
	t.Helper()
	var api, tokens int
	for _, r := range e.sim.Requests() {
		switch {
		case r.Cloud != "gcp":
			t.Fatalf("request %s %s went to another cloud's API", r.Method, r.Path)
		case r.Action == "oauth2.token":
			if !r.AuthOK || r.Status != 200 {
				t.Fatalf("token request %+v", r)
			}
			tokens++
		case r.Auth != "Bearer" || !r.AuthOK:
			t.Fatalf("request %s %s: auth %q (ok %v), want an OAuth 2 bearer token", r.Action, r.Path, r.Auth, r.AuthOK)
		default:
			api++
		}
	}
	if api == 0 || tokens == 0 {
		t.Fatalf("%d API requests, %d token requests: want both", api, tokens)
	}
}

// TestGCPClusterThroughSimulator creates a managed 3-node cluster through
// the GCE driver (cloud.google.com/go/compute against the simulator, which
// boots every instance from its user-data metadata): the nodes enroll with
// billing, form a cluster over mutual TLS and serve a tenant's writes; it
// scales to 5 and back to 3 under a write load with every acknowledged
// write present, then destroys everything.
func TestGCPClusterThroughSimulator(t *testing.T) {
	proctest.SkipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	e := newEnv(t, ctx)
	tenant, enr, spec := e.managed(t, ctx, "shop")
	lifecycle(t, ctx, e, gcpDriver(t, e), tenant, enr, onGCP(spec), func() string { return gcpLeft(e) })
	checkGCPAuth(t, e)
}

// TestGCPClusterUnderFaults creates and destroys a 3-node cluster with
// every fault switched on at once (eventual consistency, throttling as 403
// and 429, commit-then-500, one-item pages, failed launches): it still
// forms with exactly one instance per node.
func TestGCPClusterUnderFaults(t *testing.T) {
	proctest.SkipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e := newEnv(t, ctx)
	_, enr, specOf := e.managed(t, ctx, "faults")
	spec := onGCP(specOf)(3)
	drv := gcpDriver(t, e)
	e.sim.SetFaults(cloudsim.Faults{EventualConsistency: 2, Throttle: 4, CommitThen500: 3, PageSize: 1, FailLaunch: 3})
	adminKey := "cluster-admin-key-0123456789abcdef"
	p, err := provisioner.New(provisioner.Config{Driver: drv, UserData: provisioner.UserData(provisioner.Boot{AdminKey: adminKey}), PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Apply(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	e.sim.SetFaults(cloudsim.Faults{})
	if got := liveNodes(e.sim); strings.Join(got, ",") != "acme-faults-n1,acme-faults-n2,acme-faults-n3" {
		t.Fatalf("live nodes %v: a duplicate or a missing node", got)
	}
	failed := 0
	for _, op := range e.sim.GCEOperations() {
		if op.Error != "" {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no launch failed: the fault was not exercised")
	}
	waitFormed(t, ctx, clusterClient(t, ctx, e, enr.ClusterID, st, adminKey), 3)
	if err := p.Destroy(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if left := gcpLeft(e); left != "" || len(e.booter.Running()) != 0 {
		t.Fatalf("after destroy: %s, agents %v", left, e.booter.Running())
	}
}

// logAgentsOnFailure logs the tail of every booted agent's log when t
// fails (GCE instance ids are numeric: newEnv's i-* glob misses them).
func logAgentsOnFailure(t *testing.T, e *env) {
	t.Helper()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		logs, _ := filepath.Glob(filepath.Join(e.booter.Dir, "[0-9]*", "agent.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", l, tail(string(b), 15))
		}
	})
}
