package provisioner

import (
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/provisioner/cloudinit"
)

func TestUserDataManaged(t *testing.T) {
	s := validSpec()
	s.Managed = &Managed{BillingURL: "https://billing.example.com:7080", ClusterID: "cl_1", EnrollmentToken: "aet_secret", BillingCA: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}
	render := UserData(Boot{AdminKey: "0123456789abcdef0123"})
	for _, initial := range []bool{true, false} {
		ud, err := render(&s, NodeID(s.Name, 2), initial)
		if err != nil {
			t.Fatal(err)
		}
		p, err := cloudinit.Parse(ud)
		if err != nil {
			t.Fatal(err)
		}
		cfg := p.AgentConfig
		if p.Files[BillingCAPath] != s.Managed.BillingCA {
			t.Errorf("billing CA file = %q", p.Files[BillingCAPath])
		}
		for _, want := range []string{"billing-ca: " + BillingCAPath, "node-id: shop-prod-n2", "discover: billing", "billing-url: https://billing.example.com:7080", "enrollment-token: aet_secret", TLSBootstrapKey + ": true"} {
			if !strings.Contains(cfg, want) {
				t.Errorf("initial=%v: config lacks %q:\n%s", initial, want, cfg)
			}
		}
		if got := strings.Contains(cfg, "bootstrap-expect: 3"); got != initial {
			t.Errorf("initial=%v: bootstrap-expect present = %v", initial, got)
		}
		if strings.Contains(cfg, "insecure-http") || strings.Contains(cfg, "PRIVATE KEY") {
			t.Errorf("managed node config holds insecure-http or a key:\n%s", cfg)
		}
	}
}

func TestCheckBoot(t *testing.T) {
	s := validSpec()
	tests := []struct {
		name string
		b    Boot
		want string
	}{
		{"short key", Boot{AdminKey: "short", InsecureHTTP: true, Discover: "x"}, "16 characters"},
		{"no discovery", Boot{AdminKey: strings.Repeat("k", 16), InsecureHTTP: true}, "find each other"},
		{"no tls source", Boot{AdminKey: strings.Repeat("k", 16), Discover: "provider=aws"}, "insecure HTTP explicitly"},
		{"ok", Boot{AdminKey: strings.Repeat("k", 16), Discover: "provider=aws", InsecureHTTP: true}, ""},
	}
	for _, tt := range tests {
		err := CheckBoot(&s, tt.b)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: CheckBoot = %v, want %q", tt.name, err, tt.want)
		}
	}
}
