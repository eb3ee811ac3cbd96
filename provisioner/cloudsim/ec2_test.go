package cloudsim

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// newEC2 starts a simulator and an EC2 client of the official SDK pointed
// at it.
func newEC2(t *testing.T, cfg Config) (*Server, *ec2.Client) {
	t.Helper()
	if cfg.PendingFor == 0 {
		cfg.PendingFor = time.Millisecond
	}
	sim, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(func() { ts.Close(); sim.Close() })
	client := ec2.New(ec2.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(ts.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
	})
	return sim, client
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func runOne(ctx context.Context, c *ec2.Client, token string, tags map[string]string, userData []byte, groups ...string) (*ec2.RunInstancesOutput, error) {
	var tl []types.Tag
	for k, v := range tags {
		tl = append(tl, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0abcdef1234567890"), InstanceType: types.InstanceTypeT3Medium,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), ClientToken: aws.String(token),
		UserData:          aws.String(base64.StdEncoding.EncodeToString(userData)),
		SecurityGroupIds:  groups,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: tl}},
	})
}

func TestEC2LifecycleThroughSDK(t *testing.T) {
	ctx := context.Background()
	sim, c := newEC2(t, Config{})

	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String("aerolith-shop"), Description: aws.String("shop cluster"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: []types.Tag{{Key: aws.String("aerolith-cluster"), Value: aws.String("shop")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	gid := aws.ToString(sg.GroupId)
	if _, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("aerolith-shop"), Description: aws.String("x")}); apiCode(err) != "InvalidGroup.Duplicate" {
		t.Fatalf("second CreateSecurityGroup = %v, want InvalidGroup.Duplicate", err)
	}
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(7071), ToPort: aws.Int32(7071), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: sg.GroupId}}},
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(7070), ToPort: aws.Int32(7070), IpRanges: []types.IpRange{{CidrIp: aws.String("203.0.113.0/24")}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	groups, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: aws.String("tag:aerolith-cluster"), Values: []string{"shop"}}}})
	if err != nil || len(groups.SecurityGroups) != 1 || len(groups.SecurityGroups[0].IpPermissions) != 2 {
		t.Fatalf("DescribeSecurityGroups = %+v, %v", groups, err)
	}
	perms := groups.SecurityGroups[0].IpPermissions
	if aws.ToString(perms[0].UserIdGroupPairs[0].GroupId) != gid || aws.ToString(perms[1].IpRanges[0].CidrIp) != "203.0.113.0/24" {
		t.Fatalf("ingress read back as %+v", perms)
	}

	ud := []byte("#cloud-config\n")
	first, err := runOne(ctx, c, "tok-1", map[string]string{"aerolith-cluster": "shop", "aerolith-node": "shop-n1"}, ud, gid)
	if err != nil {
		t.Fatal(err)
	}
	again, err := runOne(ctx, c, "tok-1", map[string]string{"aerolith-cluster": "shop", "aerolith-node": "shop-n1"}, ud, gid)
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(first.Instances[0].InstanceId)
	if aws.ToString(again.Instances[0].InstanceId) != id || aws.ToString(again.ReservationId) != aws.ToString(first.ReservationId) {
		t.Fatalf("same ClientToken launched %s then %s", id, aws.ToString(again.Instances[0].InstanceId))
	}
	if _, err := runOne(ctx, c, "tok-1", map[string]string{"aerolith-cluster": "other"}, ud); apiCode(err) != "IdempotentParameterMismatch" {
		t.Fatalf("same token, other parameters = %v, want IdempotentParameterMismatch", err)
	}
	if len(sim.Instances()) != 1 {
		t.Fatalf("%d instances after idempotent retries, want 1", len(sim.Instances()))
	}
	if first.Instances[0].PrivateIpAddress == nil || first.Instances[0].State.Name != types.InstanceStateNamePending {
		t.Fatalf("launched instance %+v", first.Instances[0])
	}

	w := ec2.NewInstanceRunningWaiter(c, func(o *ec2.InstanceRunningWaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 20*time.Millisecond
	})
	if err := w.Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 10*time.Second); err != nil {
		t.Fatalf("running waiter: %v", err)
	}
	if _, err := c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: sg.GroupId}); apiCode(err) != "DependencyViolation" {
		t.Fatalf("DeleteSecurityGroup while in use = %v, want DependencyViolation", err)
	}
	if _, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	tw := ec2.NewInstanceTerminatedWaiter(c, func(o *ec2.InstanceTerminatedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 20*time.Millisecond
	})
	if err := tw.Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 10*time.Second); err != nil {
		t.Fatalf("terminated waiter: %v", err)
	}
	if _, err := c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: sg.GroupId}); err != nil {
		t.Fatalf("DeleteSecurityGroup after terminate: %v", err)
	}
	for _, r := range sim.Requests() {
		if r.Auth != "AWS4-HMAC-SHA256" || !r.AuthOK {
			t.Fatalf("request %s carried auth %q (ok %v); the SDK signs every request", r.Action, r.Auth, r.AuthOK)
		}
	}
}

func TestEC2PaginationOneItemPages(t *testing.T) {
	ctx := context.Background()
	sim, c := newEC2(t, Config{Faults: Faults{PageSize: 1}})
	for i := 0; i < 4; i++ {
		if _, err := runOne(ctx, c, "t"+string(rune('a'+i)), map[string]string{"aerolith-cluster": "shop"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runOne(ctx, c, "other", map[string]string{"aerolith-cluster": "other"}, nil); err != nil {
		t.Fatal(err)
	}
	p := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{
		Filters:    []types.Filter{{Name: aws.String("tag:aerolith-cluster"), Values: []string{"shop"}}},
		MaxResults: aws.Int32(100),
	})
	pages, seen := 0, map[string]bool{}
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				seen[aws.ToString(in.InstanceId)] = true
			}
		}
	}
	if pages != 4 || len(seen) != 4 {
		t.Fatalf("paginated %d pages, %d instances; want 4 and 4", pages, len(seen))
	}
	_ = sim
}

func TestEC2Faults(t *testing.T) {
	ctx := context.Background()
	t.Run("throttling is retried by the SDK", func(t *testing.T) {
		sim, c := newEC2(t, Config{Faults: Faults{Throttle: 2}})
		for i := 0; i < 3; i++ {
			if _, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
				t.Fatalf("DescribeInstances under throttling: %v", err)
			}
		}
		throttled := 0
		for _, r := range sim.Requests() {
			if r.Error == "RequestLimitExceeded" {
				throttled++
			}
		}
		if throttled == 0 {
			t.Fatal("no request was throttled")
		}
	})
	t.Run("commit then 500 with a client token launches once", func(t *testing.T) {
		sim, c := newEC2(t, Config{Faults: Faults{CommitThen500: 1}})
		// Every mutating answer fails after committing, so the SDK's
		// retries (same token) all fail too: the call errors, but one
		// instance exists.
		if _, err := runOne(ctx, c, "tok", map[string]string{"k": "v"}, nil); apiCode(err) != "InternalError" {
			t.Fatalf("RunInstances = %v, want InternalError after retries", err)
		}
		if n := len(sim.Instances()); n != 1 {
			t.Fatalf("%d instances, want 1: the retries reused the token", n)
		}
		sim.SetFaults(Faults{})
		out, err := runOne(ctx, c, "tok", map[string]string{"k": "v"}, nil)
		if err != nil || aws.ToString(out.Instances[0].InstanceId) != sim.Instances()[0].ID {
			t.Fatalf("retry after the fault = %v, %v; want the committed instance", out, err)
		}
	})
	t.Run("eventual consistency", func(t *testing.T) {
		_, c := newEC2(t, Config{Faults: Faults{EventualConsistency: 2}})
		out, err := runOne(ctx, c, "tok", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.Instances[0].InstanceId)
		if _, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}); apiCode(err) != "InvalidInstanceID.NotFound" {
			t.Fatalf("describe right after create = %v, want InvalidInstanceID.NotFound", err)
		}
		w := ec2.NewInstanceRunningWaiter(c, func(o *ec2.InstanceRunningWaiterOptions) {
			o.MinDelay, o.MaxDelay = 5*time.Millisecond, 20*time.Millisecond
		})
		if err := w.Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 10*time.Second); err != nil {
			t.Fatalf("the waiter rides out NotFound: %v", err)
		}
	})
	t.Run("failed launch", func(t *testing.T) {
		_, c := newEC2(t, Config{Faults: Faults{FailLaunch: 1}})
		out, err := runOne(ctx, c, "tok", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.Instances[0].InstanceId)
		w := ec2.NewInstanceRunningWaiter(c, func(o *ec2.InstanceRunningWaiterOptions) {
			o.MinDelay, o.MaxDelay = 5*time.Millisecond, 20*time.Millisecond
		})
		err = w.Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 10*time.Second)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "failure") {
			t.Fatalf("running waiter on a failed launch = %v, want a waiter failure", err)
		}
	})
}

func TestEC2Validation(t *testing.T) {
	ctx := context.Background()
	_, c := newEC2(t, Config{})
	big := make([]byte, maxUserData+1)
	if _, err := runOne(ctx, c, "tok", nil, big); apiCode(err) != "InvalidParameterValue" {
		t.Fatalf("oversized user data = %v, want InvalidParameterValue", err)
	}
	_, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ubuntu"), InstanceType: types.InstanceTypeT3Medium, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if apiCode(err) != "InvalidAMIID.Malformed" {
		t.Fatalf("bad AMI = %v", err)
	}
	_, err = c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-0abcdef1234567890"), InstanceType: types.InstanceTypeT3Medium,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SecurityGroupIds: []string{"sg-missing"}})
	if apiCode(err) != "InvalidGroup.NotFound" {
		t.Fatalf("missing group = %v", err)
	}
	tags := map[string]string{"aws:reserved": "x"}
	if _, err := runOne(ctx, c, "t2", tags, nil); apiCode(err) != "InvalidParameterValue" {
		t.Fatalf("aws: tag = %v", err)
	}
	if _, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("bogus"), Values: []string{"x"}}}}); apiCode(err) != "InvalidParameterValue" {
		t.Fatalf("bogus filter = %v", err)
	}
}

func TestFaultsRefuseNegativeCounts(t *testing.T) {
	if _, err := New(Config{Faults: Faults{Throttle: -1}}); err == nil || !strings.Contains(err.Error(), "fault throttle: -1 is negative") {
		t.Fatalf("New with a negative fault = %v", err)
	}
	sim, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPut, "/_sim/faults", strings.NewReader(`{"page_size":-2}`))
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, req)
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "fault page_size") {
		t.Fatalf("PUT /_sim/faults with a negative count = %d %s", w.Code, w.Body)
	}
}
