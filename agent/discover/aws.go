package discover

import (
	"context"
	"fmt"
	"strconv"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// awsProvider finds the running EC2 instances carrying a tag.
type awsProvider struct {
	client           *ec2.Client
	region, endpoint string
	tagKey, tagValue string
	port             int
}

// NewAWS returns the cloud-tag provider of a ProviderAWS config: the
// private IPv4 addresses of the running instances of region tagged
// tag_key=tag_value (EC2 DescribeInstances, every page), each with port
// (the setting, else raftPort: the nodes of one cluster listen on the
// same raft port). Credentials come from the standard AWS environment
// variables and shared files (aws-sdk-go-v2's default chain); endpoint
// overrides the EC2 endpoint (a simulator). Retries are the SDK's
// standard retryer (throttling, 5xx). It does no network I/O.
func NewAWS(ctx context.Context, c Config, raftPort int) (Provider, error) {
	if c.Provider != ProviderAWS {
		return nil, fmt.Errorf("discover: provider %q is not %s", c.Provider, ProviderAWS)
	}
	port := raftPort
	if p := c.Args["port"]; p != "" {
		port, _ = strconv.Atoi(p) // checked by Parse
	}
	if port <= 0 {
		return nil, errNoPort
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(c.Args["region"]))
	if err != nil {
		return nil, fmt.Errorf("discover: aws configuration: %w", err)
	}
	endpoint := c.Args["endpoint"]
	client := ec2.NewFromConfig(cfg, func(o *ec2.Options) {
		if endpoint != "" {
			o.BaseEndpoint = awssdk.String(endpoint)
		}
	})
	return &awsProvider{client: client, region: c.Args["region"], endpoint: endpoint, tagKey: c.Args["tag_key"], tagValue: c.Args["tag_value"], port: port}, nil
}

func (a *awsProvider) String() string {
	s := fmt.Sprintf("aws region=%s tag %s=%s", a.region, a.tagKey, a.tagValue)
	if a.endpoint != "" {
		s += " endpoint=" + a.endpoint
	}
	return s
}

// Addrs lists the running tagged instances' private addresses, following
// every page of DescribeInstances.
func (a *awsProvider) Addrs(ctx context.Context) ([]string, error) {
	in := &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: awssdk.String("tag:" + a.tagKey), Values: []string{a.tagValue}},
		{Name: awssdk.String("instance-state-name"), Values: []string{string(types.InstanceStateNameRunning)}},
	}}
	var out []string
	pages := ec2.NewDescribeInstancesPaginator(a.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ec2 DescribeInstances: %w", err)
		}
		for _, r := range page.Reservations {
			for _, inst := range r.Instances {
				// The filter already asks for running instances; a
				// terminated one that still shows must not be dialed.
				if inst.State == nil || inst.State.Name != types.InstanceStateNameRunning || inst.PrivateIpAddress == nil || *inst.PrivateIpAddress == "" {
					continue
				}
				out = append(out, hostPort(*inst.PrivateIpAddress, a.port))
			}
		}
	}
	return out, nil
}
