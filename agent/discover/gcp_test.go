package discover

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim"
	gcpdrv "github.com/aerolithdb/aerolith/provisioner/gcp"
)

// TestGCP finds the running instances of one cluster by label through the
// cloud simulator's Compute API, with one-instance pages and throttling:
// the provider follows every page, retries, and leaves out other
// clusters' instances and a deleted one.
func TestGCP(t *testing.T) {
	sim, err := cloudsim.New(cloudsim.Config{PendingFor: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	defer sim.Close()
	key, err := cloudsim.GCEServiceAccountKey(srv.URL, "acme-prod-1")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(path, key, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
	ctx := context.Background()
	d, err := gcpdrv.New(ctx, gcpdrv.Config{Project: "acme-prod-1", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want := map[string][]string{}
	for _, cluster := range []string{"prod-1", "other"} {
		spec := &provisioner.ClusterSpec{Name: cluster, Cloud: provisioner.GCP, Region: "europe-west1", Zone: "europe-west1-b", InstanceType: "e2-standard-2", DiskGB: 10}
		for _, node := range []string{cluster + "-n1", cluster + "-n2", cluster + "-n3"} {
			in, err := d.Launch(ctx, spec, provisioner.Launch{NodeID: node, Token: provisioner.ClientToken(cluster, node, 0), UserData: []byte("#cloud-config\n")})
			if err != nil {
				t.Fatal(err)
			}
			want[cluster] = append(want[cluster], in.PrivateIP+":7071")
		}
		if cluster == "prod-1" { // a deleted node is not discovered
			if err := d.Terminate(ctx, spec, provisioner.Instance{ID: "prod-1-n2"}); err != nil {
				t.Fatal(err)
			}
			want[cluster] = slices.Delete(want[cluster], 1, 2)
		}
	}
	sim.SetFaults(cloudsim.Faults{PageSize: 1, Throttle: 2})
	c, err := Parse("provider=gcp project=acme-prod-1 zone=europe-west1-b label_key=aerolith-cluster label_value=prod-1 endpoint=" + srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewGCP(ctx, c, 7071)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Addrs(ctx)
	slices.Sort(got)
	slices.Sort(want["prod-1"])
	if err != nil || !slices.Equal(got, want["prod-1"]) {
		t.Fatalf("Addrs = %v, %v; want %v", got, err, want["prod-1"])
	}
	pages, throttled := 0, 0
	for _, r := range sim.Requests() {
		if r.Action == "compute.instances.list" {
			pages++
			if r.Error == "rateLimitExceeded" {
				throttled++
			}
		}
		if r.Action != "oauth2.token" && r.Auth != "Bearer" {
			t.Fatalf("request %s without a bearer token", r.Action)
		}
	}
	if throttled == 0 || pages < 3 {
		t.Fatalf("%d list calls, %d throttled: want one per page and retries", pages, throttled)
	}
	if _, err := NewGCP(ctx, c, 0); err == nil || !strings.Contains(err.Error(), "port=N") {
		t.Fatalf("NewGCP without a port = %v", err)
	}
}

func TestParseGCP(t *testing.T) {
	tests := []struct{ in, err string }{
		{"provider=gcp project=acme-prod-1 zone=europe-west1-b label_key=aerolith-cluster label_value=shop", ""},
		{"provider=gcp project=acme-prod-1 zone=europe-west1-b label_key=k", "needs label_value=VALUE"},
		{"provider=gcp project=Acme zone=europe-west1-b label_key=k label_value=v", "project"},
		{"provider=gcp project=acme-prod-1 zone=europe-west1 label_key=k label_value=v", "zone"},
		{"provider=gcp project=acme-prod-1 zone=europe-west1-b label_key=Team label_value=v", "label_key"},
		{"provider=gcp project=acme-prod-1 zone=europe-west1-b label_key=k label_value=V", "label_value"},
		{"provider=gcp project=acme-prod-1 zone=europe-west1-b label_key=k label_value=v tag_key=x", "unknown setting"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("Parse(%q) = %v, want error containing %q", tt.in, err, tt.err)
		}
	}
}
