package deployment

import (
	"testing"

	"github.com/aerolithdb/aerolith/agent/discover"
	"github.com/aerolithdb/aerolith/provisioner"
)

// TestAzureCloudBootDiscovers: an unmanaged Azure cluster's nodes get a
// discovery string the agent accepts, naming the cluster's group and tag
// and the simulator's endpoint once.
func TestAzureCloudBootDiscovers(t *testing.T) {
	for _, tc := range []struct {
		group, endpoint, wantGroup string
	}{
		{"", "", "aerolith-shop"},
		{"shared-rg", "http://127.0.0.1:4566", "shared-rg"},
	} {
		rec := &Record{Spec: provisioner.ClusterSpec{Name: "shop", Cloud: provisioner.Azure, Region: "westeurope"},
			Endpoint: tc.endpoint, InsecureHTTP: true, Azure: &AzureSettings{Subscription: "0b1f6471-1bf0-4dda-aec3-cb9272f09590", ResourceGroup: tc.group}}
		e := &Env{Rec: rec, Sec: &Secrets{AdminKey: "k"}}
		b := e.CloudBoot(&rec.Spec)
		c, err := discover.Parse(b.Discover)
		if err != nil {
			t.Fatalf("CloudBoot discover %q: %v", b.Discover, err)
		}
		want := map[string]string{"subscription_id": rec.Azure.Subscription, "resource_group": tc.wantGroup, "tag_key": provisioner.TagCluster, "tag_value": "shop"}
		if tc.endpoint != "" {
			want["endpoint"] = tc.endpoint
		}
		if c.Provider != discover.ProviderAzure || len(c.Args) != len(want) {
			t.Fatalf("discover %+v, want azure with %v", c, want)
		}
		for k, v := range want {
			if c.Args[k] != v {
				t.Fatalf("discover %s = %q, want %q", k, c.Args[k], v)
			}
		}
	}
}
