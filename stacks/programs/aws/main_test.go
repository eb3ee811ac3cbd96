package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/stacks/cluster"
)

// recorder is the mock engine: it records every resource the program
// registers, with its inputs (secrets unwrapped), and answers instances
// with addresses.
type recorder struct {
	mu  sync.Mutex
	res []pulumi.MockResourceArgs
}

func (r *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res = append(r.res, args)
	out := args.Inputs.Copy()
	if args.TypeToken == "aws:ec2/instance:Instance" {
		n := len(r.res)
		out["publicIp"] = resource.NewStringProperty(fmt.Sprintf("198.51.100.%d", n))
		out["privateIp"] = resource.NewStringProperty(fmt.Sprintf("10.0.0.%d", n))
	}
	return args.Name + "-id", out, nil
}

func (r *recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

func (r *recorder) of(typ string) []pulumi.MockResourceArgs {
	var out []pulumi.MockResourceArgs
	for _, a := range r.res {
		if a.TypeToken == typ {
			out = append(out, a)
		}
	}
	return out
}

const adminKey = "admin-key-0123456789abcdef"

var cfg = map[string]string{
	"aws:region":            "us-east-1",
	"aerolith:clusterName":  "orders",
	"aerolith:nodes":        "3",
	"aerolith:instanceType": "t3.medium",
	"aerolith:diskGb":       "50",
	"aerolith:agentUrl":     "https://downloads.example.com/aerolith",
	"aerolith:agentSha256":  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	"aerolith:allowedCidrs": `["203.0.113.0/24","198.51.100.7/32"]`,
	"aerolith:adminKey":     adminKey,
	"aerolith:insecureHttp": "true",
}

func run(t *testing.T, config map[string]string) (*recorder, error) {
	t.Helper()
	b, _ := json.Marshal(config)
	t.Setenv(pulumi.EnvConfig, string(b))
	t.Setenv(pulumi.EnvConfigSecretKeys, `["aerolith:adminKey","aerolith:enrollmentToken"]`)
	r := &recorder{}
	err := pulumi.RunErr(program, pulumi.WithMocks("aerolith-aws", "dev", r))
	return r, err
}

func str(m resource.PropertyMap, k resource.PropertyKey) string {
	v, ok := m[k]
	if !ok {
		return ""
	}
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

func TestAWSProgram(t *testing.T) {
	r, err := run(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, a := range r.res {
		counts[a.TypeToken]++
	}
	want := map[string]int{
		cluster.Type:                                  1,
		"aws:ec2/securityGroup:SecurityGroup":         1,
		"aws:ec2/securityGroupRule:SecurityGroupRule": 3, // raft, api from members, api from the CIDRs
		"aws:ec2/instance:Instance":                   3,
	}
	for typ, n := range want {
		if counts[typ] != n {
			t.Errorf("%d resources of %s, want %d (all: %v)", counts[typ], typ, n, counts)
		}
	}
	if len(r.res) != 8 {
		t.Errorf("%d resources, want 8: %v", len(r.res), counts)
	}

	// The API port is open only to the allowed CIDRs (and the members);
	// raft only within the group.
	for _, rule := range r.of("aws:ec2/securityGroupRule:SecurityGroupRule") {
		in := rule.Inputs
		port := int(in["fromPort"].NumberValue())
		if int(in["toPort"].NumberValue()) != port {
			t.Errorf("rule %s spans ports %v-%v", rule.Name, in["fromPort"], in["toPort"])
		}
		self := in["self"].IsBool() && in["self"].BoolValue()
		var cidrs []string
		if v, ok := in["cidrBlocks"]; ok && v.IsArray() {
			for _, c := range v.ArrayValue() {
				cidrs = append(cidrs, c.StringValue())
			}
		}
		if in["type"].StringValue() != "ingress" || in["protocol"].StringValue() != "tcp" {
			t.Errorf("rule %s: %v/%v", rule.Name, in["type"], in["protocol"])
		}
		switch port {
		case cluster.RaftPort:
			if !self || len(cidrs) > 0 {
				t.Errorf("raft rule %s: self=%v cidrs=%v, want only the group itself", rule.Name, self, cidrs)
			}
		case cluster.APIPort:
			if self {
				if len(cidrs) > 0 {
					t.Errorf("api member rule %s also opens %v", rule.Name, cidrs)
				}
				continue
			}
			slices.Sort(cidrs)
			if !slices.Equal(cidrs, []string{"198.51.100.7/32", "203.0.113.0/24"}) {
				t.Errorf("api rule %s opens %v, want exactly the allowed CIDRs", rule.Name, cidrs)
			}
		default:
			t.Errorf("rule %s opens port %d", rule.Name, port)
		}
	}

	// Each instance boots exactly what the provisioner renders for the
	// same spec, and carries the discovery tags.
	spec := provisioner.ClusterSpec{
		Name: "orders", Cloud: provisioner.AWS, Region: "us-east-1", Nodes: 3, InstanceType: "t3.medium", DiskGB: 50,
		Agent:        provisioner.Artifact{URL: cfg["aerolith:agentUrl"], SHA256: cfg["aerolith:agentSha256"]},
		AllowedCIDRs: []string{"203.0.113.0/24", "198.51.100.7/32"},
	}
	boot := provisioner.Boot{AdminKey: adminKey, InsecureHTTP: true,
		Discover: "provider=aws region=us-east-1 tag_key=" + provisioner.TagCluster + " tag_value=orders"}
	instances := map[string]pulumi.MockResourceArgs{}
	for _, in := range r.of("aws:ec2/instance:Instance") {
		instances[in.Name] = in
	}
	for i := 1; i <= 3; i++ {
		id := provisioner.NodeID("orders", i)
		in, ok := instances[id]
		if !ok {
			t.Errorf("no instance %s among %v", id, instances)
			continue
		}
		if v := in.Inputs["userDataBase64"]; !v.IsSecret() && !v.IsComputed() {
			t.Errorf("%s: user data is not a secret (it holds the admin key)", id)
		}
		got, err := base64.StdEncoding.DecodeString(str(in.Inputs, "userDataBase64"))
		if err != nil {
			t.Fatalf("%s: user data: %v", id, err)
		}
		want, err := provisioner.UserData(boot)(&spec, id, true)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: user data differs from the provisioner's:\n got %s\nwant %s", id, got, want)
		}
		tags := in.Inputs["tags"].ObjectValue()
		for k, v := range map[string]string{provisioner.TagCluster: "orders", provisioner.TagNode: id, provisioner.TagManaged: provisioner.ManagedBy} {
			if str(tags, resource.PropertyKey(k)) != v {
				t.Errorf("%s: tag %s = %q, want %q", id, k, str(tags, resource.PropertyKey(k)), v)
			}
		}
		if str(in.Inputs, "instanceType") != "t3.medium" {
			t.Errorf("%s: instance type %q", id, str(in.Inputs, "instanceType"))
		}
	}
	sg := r.of("aws:ec2/securityGroup:SecurityGroup")
	if len(sg) == 1 && str(sg[0].Inputs["tags"].ObjectValue(), provisioner.TagCluster) != "orders" {
		t.Errorf("security group tags: %v", sg[0].Inputs["tags"])
	}
}

// TestAWSProgramRefusesBadConfig: what the provisioner would refuse, the
// program refuses before any resource, naming the field.
func TestAWSProgramRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct{ key, value, want string }{
		{"aerolith:nodes", "4", "nodes"},
		{"aerolith:allowedCidrs", `["10.0.0.0/33"]`, "allowed_cidrs"},
		{"aws:region", "mars-1", "region"},
		{"aerolith:adminKey", "short", "admin key"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			c := map[string]string{}
			for k, v := range cfg {
				c[k] = v
			}
			c[tc.key] = tc.value
			r, err := run(t, c)
			if err == nil {
				t.Fatalf("%s=%s accepted", tc.key, tc.value)
			}
			if !contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
			if n := len(r.of("aws:ec2/instance:Instance")); n != 0 {
				t.Errorf("%d instances made", n)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
