package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/stacks/cluster"
	"github.com/aerolithdb/aerolith/stacks/cluster/gcp"
)

// recorder is the mock engine: it records every resource with its inputs.
type recorder struct {
	mu  sync.Mutex
	res []pulumi.MockResourceArgs
}

func (r *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res = append(r.res, args)
	return args.Name + "-id", args.Inputs.Copy(), nil
}

func (r *recorder) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

func (r *recorder) of(typ string) map[string]pulumi.MockResourceArgs {
	out := map[string]pulumi.MockResourceArgs{}
	for _, a := range r.res {
		if a.TypeToken == typ {
			out[a.Name] = a
		}
	}
	return out
}

const adminKey = "admin-key-0123456789abcdef"

var cfg = map[string]string{
	"gcp:project":           "shop-prod",
	"gcp:zone":              "europe-west1-b",
	"aerolith:clusterName":  "orders",
	"aerolith:nodes":        "3",
	"aerolith:instanceType": "e2-standard-2",
	"aerolith:diskGb":       "50",
	"aerolith:agentUrl":     "https://downloads.example.com/aerolith",
	"aerolith:agentSha256":  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	"aerolith:allowedCidrs": `["203.0.113.0/24"]`,
	"aerolith:adminKey":     adminKey,
	"aerolith:insecureHttp": "true",
}

func strs(v resource.PropertyValue) []string {
	var out []string
	if v.IsArray() {
		for _, e := range v.ArrayValue() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

func TestGCPProgram(t *testing.T) {
	b, _ := json.Marshal(cfg)
	t.Setenv(pulumi.EnvConfig, string(b))
	t.Setenv(pulumi.EnvConfigSecretKeys, `["aerolith:adminKey"]`)
	r := &recorder{}
	if err := pulumi.RunErr(program, pulumi.WithMocks("aerolith-gcp", "dev", r)); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, a := range r.res {
		counts[a.TypeToken]++
	}
	for typ, n := range map[string]int{cluster.Type: 1, "gcp:compute/firewall:Firewall": 2, "gcp:compute/instance:Instance": 3} {
		if counts[typ] != n {
			t.Errorf("%d of %s, want %d (all: %v)", counts[typ], typ, n, counts)
		}
	}
	if len(r.res) != 6 {
		t.Errorf("%d resources, want 6: %v", len(r.res), counts)
	}
	tag := "aerolith-orders"
	fw := r.of("gcp:compute/firewall:Firewall")
	raft, api := fw["orders-raft"], fw["orders-api"]
	if !slices.Equal(strs(raft.Inputs["sourceTags"]), []string{tag}) || !slices.Equal(strs(raft.Inputs["targetTags"]), []string{tag}) ||
		len(strs(raft.Inputs["sourceRanges"])) != 0 {
		t.Errorf("raft firewall is open beyond the cluster: %v", raft.Inputs)
	}
	if !slices.Equal(strs(api.Inputs["sourceRanges"]), []string{"203.0.113.0/24"}) || len(strs(api.Inputs["sourceTags"])) != 0 {
		t.Errorf("api firewall: %v", api.Inputs)
	}
	for name, f := range fw {
		for _, a := range f.Inputs["allows"].ArrayValue() {
			ports := strs(a.ObjectValue()["ports"])
			if name == "orders-api" && !slices.Equal(ports, []string{fmt.Sprint(cluster.APIPort)}) {
				t.Errorf("api firewall opens %v", ports)
			}
		}
	}

	spec := provisioner.ClusterSpec{
		Name: "orders", Cloud: provisioner.GCP, Region: "europe-west1", Zone: "europe-west1-b", Nodes: 3, InstanceType: "e2-standard-2", DiskGB: 50,
		Agent:        provisioner.Artifact{URL: cfg["aerolith:agentUrl"], SHA256: cfg["aerolith:agentSha256"]},
		AllowedCIDRs: []string{"203.0.113.0/24"},
	}
	boot := provisioner.Boot{AdminKey: adminKey, InsecureHTTP: true, Discover: gcp.Builder{Project: "shop-prod"}.Discover(&spec)}
	instances := r.of("gcp:compute/instance:Instance")
	for i := 1; i <= 3; i++ {
		id := provisioner.NodeID("orders", i)
		in, ok := instances[id]
		if !ok {
			t.Errorf("no instance %s", id)
			continue
		}
		ud := in.Inputs["metadata"].ObjectValue()["user-data"]
		if !ud.IsSecret() {
			t.Errorf("%s: user data is not a secret", id)
		}
		want, err := provisioner.UserData(boot)(&spec, id, true)
		if err != nil {
			t.Fatal(err)
		}
		if got := ud.SecretValue().Element.StringValue(); got != string(want) {
			t.Errorf("%s: user data differs from the provisioner's:\n got %s\nwant %s", id, got, want)
		}
		labels := in.Inputs["labels"].ObjectValue()
		for k, v := range map[string]string{provisioner.TagCluster: "orders", provisioner.TagNode: id} {
			if l, ok := labels[resource.PropertyKey(k)]; !ok || l.StringValue() != v {
				t.Errorf("%s: label %s = %v, want %s", id, k, l, v)
			}
		}
		if !slices.Equal(strs(in.Inputs["tags"]), []string{tag}) {
			t.Errorf("%s: network tags %v", id, in.Inputs["tags"])
		}
	}
}
