package gcp_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim"
	gcpdrv "github.com/aerolithdb/aerolith/provisioner/gcp"
	"github.com/aerolithdb/aerolith/provisioner/provisionertest"
)

const project = "acme-prod-1"

func spec(nodes int) *provisioner.ClusterSpec {
	return &provisioner.ClusterSpec{
		Name: "shop", Cloud: provisioner.GCP, Region: "europe-west1", Zone: "europe-west1-b", Nodes: nodes, InstanceType: "e2-standard-2", DiskGB: 20,
		Agent:        provisioner.Artifact{URL: "https://downloads.example.com/aerolith", SHA256: strings.Repeat("ab", 32)},
		AllowedCIDRs: []string{"203.0.113.0/24", "198.51.100.0/24"},
		Tags:         map[string]string{"team": "shop"},
	}
}

// newDriver gives the driver a bearer token the way an application gives
// Google's clients credentials (a token source).
func newDriver(t *testing.T, url string) *gcpdrv.Driver {
	t.Helper()
	d, err := gcpdrv.New(context.Background(), gcpdrv.Config{
		Project: project, Endpoint: url, MaxBackoff: 20 * time.Millisecond,
		ClientOptions: []option.ClientOption{option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ya29.test-token-0123456789", TokenType: "Bearer"}))},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func newEnv(t *testing.T, faults cloudsim.Faults) (*cloudsim.Server, *provisioner.Provisioner, *provisionertest.Members, string) {
	t.Helper()
	return provisionertest.NewEnv(t, func(t *testing.T, url string) provisioner.Driver { return newDriver(t, url) }, 30*time.Millisecond, faults)
}

func liveNodes(sim *cloudsim.Server) []string { return provisionertest.LiveNodes(sim, provisioner.GCP) }

func TestApplyScaleDestroy(t *testing.T) {
	ctx := context.Background()
	sim, p, members, url := newEnv(t, cloudsim.Faults{})
	s := spec(3)
	plan, err := p.Plan(ctx, s)
	if err != nil || len(plan.Actions) != 4 {
		t.Fatalf("Plan of a new cluster = %+v, %v; want the network and 3 launches", plan, err)
	}
	st, err := p.Apply(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 3 || len(st.Drift) != 0 {
		t.Fatalf("Apply: %+v", st)
	}
	for _, n := range st.Nodes {
		if n.ID != n.NodeID || n.State != provisioner.Running || n.PrivateIP == "" {
			t.Fatalf("node %+v: want an instance named after its node, running, with an address", n)
		}
	}
	if got := liveNodes(sim); !slices.Equal(got, []string{"shop-n1", "shop-n2", "shop-n3"}) {
		t.Fatalf("live nodes %v", got)
	}
	for _, in := range sim.Instances() {
		if !strings.Contains(string(in.UserData), "initial=true") || in.Tags["team"] != "shop" || in.Tags[provisioner.TagCluster] != "shop" ||
			in.DiskGB != 20 || in.ImageID != gcpdrv.DefaultImage || in.InstanceType != "e2-standard-2" {
			t.Fatalf("instance %s: labels %v, disk %d, image %s, type %s, user data %q", in.ID, in.Tags, in.DiskGB, in.ImageID, in.InstanceType, in.UserData)
		}
	}
	fws := sim.Firewalls()
	if len(fws) != 2 {
		t.Fatalf("%d firewall rules, want raft and api: %+v", len(fws), fws)
	}
	tag := gcpdrv.NetworkTag("shop")
	for _, fw := range fws {
		if !slices.Equal(fw.TargetTags, []string{tag}) {
			t.Fatalf("rule %s targets %v, want the cluster's tag", fw.Name, fw.TargetTags)
		}
		switch fw.Name {
		case "aerolith-shop-raft":
			if !slices.Equal(fw.SourceTags, []string{tag}) || len(fw.SourceRanges) != 0 || !slices.Contains(fw.Allowed[0].Ports, "7071") {
				t.Fatalf("raft rule: sources %v %v, allowed %+v; want only the cluster's instances", fw.SourceTags, fw.SourceRanges, fw.Allowed)
			}
		case "aerolith-shop-api":
			if len(fw.SourceTags) != 0 || !slices.Equal(fw.SourceRanges, []string{"198.51.100.0/24", "203.0.113.0/24"}) || !slices.Equal(fw.Allowed[0].Ports, []string{"7070"}) {
				t.Fatalf("api rule: sources %v %v, allowed %+v", fw.SourceTags, fw.SourceRanges, fw.Allowed)
			}
		default:
			t.Fatalf("unexpected rule %s", fw.Name)
		}
	}

	// Apply again: nothing to do, nothing launched. A changed CIDR list
	// patches the API rule.
	before := len(sim.Instances())
	if plan, _ := p.Plan(ctx, s); !plan.Empty() {
		t.Fatalf("Plan after apply = %+v, want empty", plan.Actions)
	}
	s.AllowedCIDRs = []string{"192.0.2.0/24"}
	if _, err := p.Apply(ctx, s); err != nil || len(sim.Instances()) != before {
		t.Fatalf("second Apply: %v, %d instances (was %d)", err, len(sim.Instances()), before)
	}
	for _, fw := range sim.Firewalls() {
		if fw.Name == "aerolith-shop-api" && !slices.Equal(fw.SourceRanges, []string{"192.0.2.0/24"}) {
			t.Fatalf("api rule after a CIDR change: %v", fw.SourceRanges)
		}
	}

	// Scale to 5 and back to 3: the new nodes join, the removed ones
	// leave raft before they are deleted, highest first.
	if _, err := p.Apply(ctx, spec(5)); err != nil {
		t.Fatal(err)
	}
	for _, in := range sim.Instances() {
		if n := in.Tags[provisioner.TagNode]; (n == "shop-n4" || n == "shop-n5") && !strings.Contains(string(in.UserData), "initial=false") {
			t.Fatalf("%s launched as an initial node", n)
		}
	}
	if _, err := p.Apply(ctx, spec(3)); err != nil {
		t.Fatal(err)
	}
	if got := liveNodes(sim); !slices.Equal(got, []string{"shop-n1", "shop-n2", "shop-n3"}) {
		t.Fatalf("after scale down: %v", got)
	}
	if !slices.Equal(members.Removed(), []string{"shop-n5", "shop-n4"}) {
		t.Fatalf("raft removals %v, want shop-n5 then shop-n4", members.Removed())
	}
	// Up to 5 again within the hour GCE keeps requestIds: the nodes come
	// back although their first launches' requestIds are spent.
	if _, err := p.Apply(ctx, spec(5)); err != nil {
		t.Fatal(err)
	}
	if got := liveNodes(sim); len(got) != 5 {
		t.Fatalf("after scaling up again: %v", got)
	}
	if _, err := p.Apply(ctx, spec(3)); err != nil {
		t.Fatal(err)
	}

	// Drift: an instance deleted outside the provisioner is repaired.
	if err := newDriver(t, url).Terminate(ctx, s, provisioner.Instance{ID: "shop-n2"}); err != nil {
		t.Fatal(err)
	}
	st, err = p.Read(ctx, s)
	if err != nil || len(st.Drift) != 1 || !strings.Contains(st.Drift[0], "shop-n2") {
		t.Fatalf("Read after an outside deletion: %+v, %v", st, err)
	}
	if _, err := p.Apply(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := liveNodes(sim); !slices.Equal(got, []string{"shop-n1", "shop-n2", "shop-n3"}) {
		t.Fatalf("after repair: %v", got)
	}

	if err := p.Destroy(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := p.Destroy(ctx, s); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
	if got := liveNodes(sim); len(got) != 0 || len(sim.Firewalls()) != 0 {
		t.Fatalf("after destroy: live %v, firewalls %d", got, len(sim.Firewalls()))
	}
	if _, err := p.Read(ctx, s); err != provisioner.ErrNotFound {
		t.Fatalf("Read after destroy = %v, want ErrNotFound", err)
	}
	checkAuth(t, sim)
}

// checkAuth: every request to the Compute API carried a bearer token.
func checkAuth(t *testing.T, sim *cloudsim.Server) {
	t.Helper()
	n := 0
	for _, r := range sim.Requests() {
		if r.Cloud != "gcp" {
			t.Fatalf("request to %s %s reached another cloud's API", r.Method, r.Path)
		}
		if r.Auth != "Bearer" || !r.AuthOK {
			t.Fatalf("request %s %s: auth %q (ok %v), want a bearer token", r.Action, r.Path, r.Auth, r.AuthOK)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no request recorded")
	}
}

func TestApplyConvergesUnderFaults(t *testing.T) {
	faults := map[string]cloudsim.Faults{
		"eventual consistency": {EventualConsistency: 3},
		"throttling":           {Throttle: 3},
		"commit then 500":      {CommitThen500: 2},
		"one-item pages":       {PageSize: 1},
		"failed launches":      {FailLaunch: 2},
		"all at once":          {EventualConsistency: 2, Throttle: 5, CommitThen500: 3, PageSize: 1, FailLaunch: 3},
	}
	for name, f := range faults {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			sim, p, _, _ := newEnv(t, f)
			if _, err := p.Apply(ctx, spec(3)); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			sim.SetFaults(cloudsim.Faults{})
			if got := liveNodes(sim); !slices.Equal(got, []string{"shop-n1", "shop-n2", "shop-n3"}) {
				t.Fatalf("live nodes %v: a duplicate or a missing node", got)
			}
			seen := map[string]bool{}
			for _, r := range sim.Requests() {
				seen[r.Error] = true
			}
			if f.Throttle > 0 && !seen["rateLimitExceeded"] || f.CommitThen500 > 0 && !seen["backendError"] || f.EventualConsistency > 0 && !seen["notFound"] {
				t.Fatalf("a fault was not exercised: errors answered %v", seen)
			}
			if f.FailLaunch > 0 {
				failed := 0
				for _, op := range sim.GCEOperations() {
					if op.Error == "ZONE_RESOURCE_POOL_EXHAUSTED" {
						failed++
					}
				}
				if failed == 0 {
					t.Fatal("no launch failed: the fault was not exercised")
				}
			}
			if err := p.Destroy(ctx, spec(3)); err != nil {
				t.Fatal(err)
			}
			if got := liveNodes(sim); len(got) != 0 || len(sim.Firewalls()) != 0 {
				t.Fatalf("after destroy: live %v, firewalls %d", got, len(sim.Firewalls()))
			}
		})
	}
}

// TestKilledApplyRerunConverges SIGKILLs a provisioner process in the middle
// of Apply (after its k-th instance insert reached the cloud), then applies
// again: exactly one instance per node, for every k.
func TestKilledApplyRerunConverges(t *testing.T) {
	provisionertest.KilledApplyRerunConverges(t, provisionertest.KilledApply{
		Spec: spec(3), PendingFor: 30 * time.Millisecond,
		Driver:   func(t *testing.T, url string) provisioner.Driver { return newDriver(t, url) },
		Launch:   "instances.insert",
		IsLaunch: func(r cloudsim.Request) bool { return r.Action == "compute.instances.insert" },
	})
}

func TestState(t *testing.T) {
	for _, tt := range []struct {
		status string
		want   provisioner.State
	}{
		{"PROVISIONING", provisioner.Pending}, {"STAGING", provisioner.Pending}, {"RUNNING", provisioner.Running},
		{"STOPPING", provisioner.Stopping}, {"SUSPENDING", provisioner.Stopping},
		// TERMINATED is a stopped GCE instance: it still holds its node's disk.
		{"TERMINATED", provisioner.Stopped}, {"SUSPENDED", provisioner.Stopped}, {"", provisioner.Terminated},
	} {
		if got := gcpdrv.State(tt.status); got != tt.want {
			t.Errorf("State(%q) = %s, want %s", tt.status, got, tt.want)
		}
	}
}
