package provisioner

import (
	"errors"
	"strings"
	"testing"
)

func validSpec() ClusterSpec {
	return ClusterSpec{
		Name: "shop-prod", Cloud: AWS, Region: "eu-west-1", Nodes: 3,
		InstanceType: "t3.medium", DiskGB: 20,
		Agent:        Artifact{URL: "https://downloads.example.com/aerolith", SHA256: strings.Repeat("ab", 32)},
		AllowedCIDRs: []string{"203.0.113.0/24"},
		Tags:         map[string]string{"team": "shop"},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(*ClusterSpec)
		wantField string // "" means valid
		wantIn    string
	}{
		{"valid aws", func(*ClusterSpec) {}, "", ""},
		{"valid local", func(s *ClusterSpec) {
			*s = ClusterSpec{Name: "dev", Cloud: Local, Nodes: 1, Agent: s.Agent}
		}, "", ""},
		{"valid gcp", func(s *ClusterSpec) {
			s.Cloud, s.Region, s.Zone, s.InstanceType = GCP, "europe-west1", "europe-west1-b", "e2-standard-2"
		}, "", ""},
		{"valid azure", func(s *ClusterSpec) {
			s.Cloud, s.Region, s.Zone, s.InstanceType = Azure, "westeurope", "2", "Standard_D2s_v5"
		}, "", ""},
		{"name uppercase", func(s *ClusterSpec) { s.Name = "Shop" }, "name", "lowercase"},
		{"name dotdot", func(s *ClusterSpec) { s.Name = ".." }, "name", ""},
		{"name trailing dash", func(s *ClusterSpec) { s.Name = "shop-" }, "name", ""},
		{"name too long", func(s *ClusterSpec) { s.Name = "a" + strings.Repeat("b", 40) }, "name", "3-40"},
		{"cloud", func(s *ClusterSpec) { s.Cloud = "openstack" }, "cloud", "local, aws, gcp, azure"},
		{"even nodes", func(s *ClusterSpec) { s.Nodes = 4 }, "nodes", "1, 3, 5 or 7"},
		{"zero nodes", func(s *ClusterSpec) { s.Nodes = 0 }, "nodes", ""},
		{"aws region", func(s *ClusterSpec) { s.Region = "europe-west1" }, "region", "not a region of aws"},
		{"aws zone", func(s *ClusterSpec) { s.Zone = "us-east-1a" }, "zone", "eu-west-1a"},
		{"aws type", func(s *ClusterSpec) { s.InstanceType = "e2-standard-2" }, "instance_type", "t3.medium"},
		{"aws image", func(s *ClusterSpec) { s.Image = "ubuntu" }, "image", "AMI"},
		{"gcp zone of other region", func(s *ClusterSpec) {
			s.Cloud, s.Region, s.Zone, s.InstanceType = GCP, "europe-west1", "us-east1-b", "e2-standard-2"
		}, "zone", "europe-west1-b"},
		{"azure zone", func(s *ClusterSpec) {
			s.Cloud, s.Region, s.Zone, s.InstanceType = Azure, "westeurope", "4", "Standard_D2s_v5"
		}, "zone", "1, 2 or 3"},
		{"disk small", func(s *ClusterSpec) { s.DiskGB = 5 }, "disk_gb", "10 to 16384"},
		{"local with region", func(s *ClusterSpec) {
			*s = ClusterSpec{Name: "dev", Cloud: Local, Nodes: 1, Agent: s.Agent, Region: "eu-west-1"}
		}, "region", "not used"},
		{"agent url", func(s *ClusterSpec) { s.Agent.URL = "ftp://x/y" }, "agent.url", "https://"},
		{"agent sha", func(s *ClusterSpec) { s.Agent.SHA256 = "ABCD" }, "agent.sha256", "64 lowercase hex"},
		{"cidr", func(s *ClusterSpec) { s.AllowedCIDRs = []string{"10.0.0.0/8", "10.1.2.3"} }, "allowed_cidrs[1]", "CIDR"},
		{"cidr host bits", func(s *ClusterSpec) { s.AllowedCIDRs = []string{"10.1.2.3/8"} }, "allowed_cidrs[0]", "10.0.0.0/8"},
		{"reserved tag", func(s *ClusterSpec) { s.Tags = map[string]string{"aerolith-cluster": "x"} }, "tags", "reserved"},
		{"tag value", func(s *ClusterSpec) { s.Tags = map[string]string{"team": "Shop Team"} }, "tags", "63"},
		{"managed without token", func(s *ClusterSpec) {
			s.Managed = &Managed{BillingURL: "https://billing:7080", ClusterID: "c1"}
		}, "managed.enrollment_token", "required"},
		{"managed bad url", func(s *ClusterSpec) {
			s.Managed = &Managed{BillingURL: "billing:7080", ClusterID: "c1", EnrollmentToken: "t"}
		}, "managed.billing_url", "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.edit(&s)
			err := s.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Validate() = %v, want a *FieldError for %s", err, tt.wantField)
			}
			if fe.Field != tt.wantField || !strings.Contains(err.Error(), tt.wantIn) {
				t.Fatalf("Validate() = %q, want field %s and %q in the message", err, tt.wantField, tt.wantIn)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s := ClusterSpec{Name: "x1y", Cloud: GCP, Region: "us-central1"}
	s.Defaults()
	if s.Nodes != 3 || s.InstanceType != "e2-standard-2" || s.Zone != "us-central1-b" || s.DiskGB != 20 {
		t.Fatalf("Defaults() = %+v", s)
	}
	s = ClusterSpec{Name: "x1y", Cloud: Local}
	s.Defaults()
	if s.Nodes != 3 || s.DiskGB != 0 || s.InstanceType != "" {
		t.Fatalf("Defaults() on local = %+v, want only nodes", s)
	}
}

func TestNodeIDRoundTrip(t *testing.T) {
	for i := 1; i <= 12; i++ {
		id := NodeID("shop-n1", i)
		got, ok := NodeIndex("shop-n1", id)
		if !ok || got != i {
			t.Fatalf("NodeIndex(%q) = %d, %v; want %d", id, got, ok, i)
		}
	}
	for _, bad := range []string{"shop-n1", "shop-n1-n0", "shop-n1-n01", "shop-n1-nx", "other-n1", "shop-n1-n-1"} {
		if i, ok := NodeIndex("shop-n1", bad); ok {
			t.Errorf("NodeIndex(%q) = %d, true; want false", bad, i)
		}
	}
}

func TestClientToken(t *testing.T) {
	a := ClientToken("shop", "shop-n1", 0)
	if a != ClientToken("shop", "shop-n1", 0) {
		t.Fatal("ClientToken is not deterministic")
	}
	if a == ClientToken("shop", "shop-n1", 1) || a == ClientToken("shop", "shop-n2", 0) || a == ClientToken("shoq", "shop-n1", 0) {
		t.Fatal("ClientToken collides across generations, nodes or clusters")
	}
	if len(a) != 36 || a[14] != '8' || !strings.ContainsRune("89ab", rune(a[19])) {
		t.Fatalf("ClientToken = %q, want a version-8 UUID", a)
	}
}
