package discover

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/agent/discover/discovertest"
)

func TestAWS(t *testing.T) {
	discovertest.Env(t)
	tag := map[string]string{"aerolith-cluster": "prod-1"}
	fake := discovertest.NewEC2(1,
		discovertest.Instance{ID: "i-1", State: "running", PrivateIP: "10.0.0.1", Tags: tag},
		discovertest.Instance{ID: "i-2", State: "terminated", PrivateIP: "10.0.0.9", Tags: tag},
		discovertest.Instance{ID: "i-3", State: "running", PrivateIP: "10.0.0.3", Tags: map[string]string{"aerolith-cluster": "other"}},
		discovertest.Instance{ID: "i-4", State: "running", PrivateIP: "10.0.0.4", Tags: tag},
		discovertest.Instance{ID: "i-5", State: "pending", PrivateIP: "10.0.0.5", Tags: tag},
		discovertest.Instance{ID: "i-6", State: "running", PrivateIP: "10.0.0.6", Tags: tag},
	)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c, err := Parse("provider=aws region=eu-west-1 tag_key=aerolith-cluster tag_value=prod-1 endpoint=" + srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewAWS(context.Background(), c, 7071)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Addrs(context.Background())
	if err != nil {
		t.Fatalf("Addrs: %v", err)
	}
	if strings.Join(got, ",") != "10.0.0.1:7071,10.0.0.4:7071,10.0.0.6:7071" {
		t.Fatalf("Addrs = %v, want the three running tagged instances", got)
	}
	// One throttled call retried by the SDK, then one call per page.
	if fake.Calls() != 4 {
		t.Fatalf("%d calls to EC2, want 4 (a throttled one, then three one-instance pages)", fake.Calls())
	}

	c.Args["port"] = "9000"
	p, err = NewAWS(context.Background(), c, 7071)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Addrs(context.Background()); err != nil || len(got) != 3 || got[0] != "10.0.0.1:9000" {
		t.Fatalf("Addrs with port=9000 = %v, %v", got, err)
	}
}

func TestAWSErrors(t *testing.T) {
	discovertest.Env(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		discovertest.Error(w, 403, "UnauthorizedOperation", "You are not authorized to perform this operation.")
	}))
	defer srv.Close()
	c, err := Parse("provider=aws region=eu-west-1 tag_key=k tag_value=v endpoint=" + srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewAWS(context.Background(), c, 7071)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Addrs(context.Background()); err == nil || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Fatalf("Addrs = %v, want EC2's error named", err)
	}
	if _, err := NewAWS(context.Background(), c, 0); err == nil || !strings.Contains(err.Error(), "port=N") {
		t.Fatalf("NewAWS without a port = %v", err)
	}
}
