package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
)

func TestUsageShow(t *testing.T) {
	s := startBilling(t, nil)
	out := billingCLI(t, "tenant", "create", "--org", "Acme", "--name", "acme", "--email", "ap@acme.example", "-o", "json")
	var acme contract.Tenant
	if err := json.Unmarshal([]byte(out), &acme); err != nil {
		t.Fatal(err)
	}
	admin, err := billingclient.New(billingclient.Config{URL: "http://" + s.HTTPAddr(), Key: billingTestKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	enr, err := admin.RegisterCluster(ctx, "cl-cli", []string{acme.ID})
	if err != nil {
		t.Fatal(err)
	}
	agent, err := billingclient.New(billingclient.Config{URL: "http://" + s.HTTPAddr(), Key: enr.EnrollmentToken})
	if err != nil {
		t.Fatal(err)
	}
	hour := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	if acme.CreatedAt.After(hour) {
		hour = acme.CreatedAt.Truncate(time.Hour)
	}
	if _, err := agent.SendUsage(ctx, []billingclient.UsageRecord{
		{NodeID: "n1", Seq: 1, TenantID: acme.ID, Start: hour, End: hour.Add(time.Minute), Reads: 41, Writes: 3},
		{NodeID: "n1", Seq: 2, TenantID: acme.ID, Start: hour.Add(time.Hour), End: hour.Add(time.Hour + time.Minute), Reads: 1},
	}); err != nil {
		t.Fatal(err)
	}
	from, to := hour.Format(time.RFC3339), hour.Add(3*time.Hour).Format(time.RFC3339)
	out = billingCLI(t, "usage", "show", acme.ID, "--from", from, "--to", to)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[3], "TOTAL") || !strings.Contains(lines[3], "42") || !strings.Contains(lines[4], "2 of 3 steps") {
		t.Fatalf("usage show printed:\n%s", out)
	}
	var series contract.UsageSeries
	if err := json.Unmarshal([]byte(billingCLI(t, "usage", "show", acme.ID, "--from", from, "--to", to, "-o", "json")), &series); err != nil || series.Total.Reads != 42 || series.Total.Writes != 3 {
		t.Fatalf("usage show -o json: %+v, %v", series.Total, err)
	}
	if r := runCLI(t, "", "usage", "show", acme.ID, "--granularity", "week"); r.code != 2 {
		t.Fatalf("bad granularity: exit %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, "", "usage", "show", acme.ID, "--from", "last tuesday"); r.code != 2 || !strings.Contains(r.stderr, "--from") {
		t.Fatalf("bad --from: exit %d %q", r.code, r.stderr)
	}
}
