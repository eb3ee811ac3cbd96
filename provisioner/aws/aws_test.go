package aws_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/aerolithdb/aerolith/provisioner"
	awsdrv "github.com/aerolithdb/aerolith/provisioner/aws"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim"
	"github.com/aerolithdb/aerolith/provisioner/provisionertest"
)

func spec(nodes int) *provisioner.ClusterSpec {
	s := &provisioner.ClusterSpec{
		Name: "shop", Cloud: provisioner.AWS, Region: "eu-west-1", Nodes: nodes, InstanceType: "t3.medium", DiskGB: 20,
		Agent:        provisioner.Artifact{URL: "https://downloads.example.com/aerolith", SHA256: strings.Repeat("ab", 32)},
		AllowedCIDRs: []string{"203.0.113.0/24", "198.51.100.0/24"},
		Tags:         map[string]string{"team": "shop"},
	}
	return s
}

func newDriver(t *testing.T, url string) *awsdrv.Driver {
	t.Helper()
	d, err := awsdrv.New(context.Background(), awsdrv.Config{
		Region: "eu-west-1", Endpoint: url, MaxBackoff: 20 * time.Millisecond,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newEnv(t *testing.T, faults cloudsim.Faults) (*cloudsim.Server, *provisioner.Provisioner, *provisionertest.Members, string) {
	t.Helper()
	return provisionertest.NewEnv(t, func(t *testing.T, url string) provisioner.Driver { return newDriver(t, url) }, 20*time.Millisecond, faults)
}

func liveNodes(sim *cloudsim.Server) []string { return provisionertest.LiveNodes(sim, provisioner.AWS) }

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
	if got := liveNodes(sim); !slices.Equal(got, []string{"shop-n1", "shop-n2", "shop-n3"}) {
		t.Fatalf("live nodes %v", got)
	}
	for _, in := range sim.Instances() {
		if !strings.Contains(string(in.UserData), "initial=true") || in.Tags["team"] != "shop" || in.Tags[provisioner.TagCluster] != "shop" || in.DiskGB != 20 {
			t.Fatalf("instance %s: tags %v, disk %d, user data %q", in.ID, in.Tags, in.DiskGB, in.UserData)
		}
	}
	groups := sim.SecurityGroups()
	if len(groups) != 1 {
		t.Fatalf("%d security groups", len(groups))
	}
	var raftFromSelf, apiFrom []string
	for _, r := range groups[0].Ingress {
		switch {
		case r.FromPort == awsdrv.RaftPort && r.GroupID == groups[0].ID:
			raftFromSelf = append(raftFromSelf, r.GroupID)
		case r.FromPort == awsdrv.RaftPort:
			t.Fatalf("raft port open to %+v", r)
		case r.FromPort == awsdrv.APIPort && r.CIDR != "":
			apiFrom = append(apiFrom, r.CIDR)
		}
	}
	slices.Sort(apiFrom)
	if len(raftFromSelf) != 1 || !slices.Equal(apiFrom, []string{"198.51.100.0/24", "203.0.113.0/24"}) {
		t.Fatalf("ingress: raft from %v, api from %v", raftFromSelf, apiFrom)
	}

	// Apply again: nothing to do, nothing launched.
	before := len(sim.Instances())
	if plan, _ := p.Plan(ctx, s); !plan.Empty() {
		t.Fatalf("Plan after apply = %+v, want empty", plan.Actions)
	}
	if _, err := p.Apply(ctx, s); err != nil || len(sim.Instances()) != before {
		t.Fatalf("second Apply: %v, %d instances (was %d)", err, len(sim.Instances()), before)
	}

	// Scale to 5 and back to 3: the new nodes join (not initial), the
	// removed ones leave raft before termination, highest first.
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

	// Drift: a node terminated outside the provisioner is read as drift
	// and repaired by the next apply with a new launch token.
	var victim string
	for _, in := range sim.Instances() {
		if in.Tags[provisioner.TagNode] == "shop-n2" && in.State == "running" {
			victim = in.ID
		}
	}
	if err := newDriver(t, url).Terminate(ctx, s, provisioner.Instance{ID: victim}); err != nil {
		t.Fatal(err)
	}
	st, err = p.Read(ctx, s)
	if err != nil || len(st.Drift) != 1 || !strings.Contains(st.Drift[0], "shop-n2") {
		t.Fatalf("Read after an outside termination: %+v, %v", st, err)
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
	if got := liveNodes(sim); len(got) != 0 || len(sim.SecurityGroups()) != 0 {
		t.Fatalf("after destroy: live %v, groups %d", got, len(sim.SecurityGroups()))
	}
	if _, err := p.Read(ctx, s); err != provisioner.ErrNotFound {
		t.Fatalf("Read after destroy = %v, want ErrNotFound", err)
	}
	for _, r := range sim.Requests() {
		if !r.AuthOK {
			t.Fatalf("request %s without valid SigV4 shape", r.Action)
		}
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
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			sim, p, _, _ := newEnv(t, f)
			if _, err := p.Apply(ctx, spec(3)); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			sim.SetFaults(cloudsim.Faults{})
			if got := liveNodes(sim); !slices.Equal(got, []string{"shop-n1", "shop-n2", "shop-n3"}) {
				t.Fatalf("live nodes %v: a duplicate or a missing node", got)
			}
			if err := p.Destroy(ctx, spec(3)); err != nil {
				t.Fatal(err)
			}
			if got := liveNodes(sim); len(got) != 0 || len(sim.SecurityGroups()) != 0 {
				t.Fatalf("after destroy: live %v, groups %d", got, len(sim.SecurityGroups()))
			}
		})
	}
}

// TestKilledApplyRerunConverges SIGKILLs a provisioner process in the middle
// of Apply (after its k-th RunInstances reached the cloud), then applies
// again: exactly one instance per node, for every k.
func TestKilledApplyRerunConverges(t *testing.T) {
	provisionertest.KilledApplyRerunConverges(t, provisionertest.KilledApply{
		Spec: spec(3), PendingFor: 20 * time.Millisecond,
		Driver:   func(t *testing.T, url string) provisioner.Driver { return newDriver(t, url) },
		Launch:   "RunInstances",
		IsLaunch: func(r cloudsim.Request) bool { return r.Action == "RunInstances" },
	})
}
