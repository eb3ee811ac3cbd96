// Package aws is the provisioner's driver for Amazon EC2, on the official
// aws-sdk-go-v2 ec2 client: a security group per cluster whose raft rule
// refers to the group itself and whose API rule admits only the allowed
// CIDRs, instances launched with RunInstances (user data, a ClientToken
// per launch so retries never duplicate, tags on the instance and its
// volume), found again by tag with DescribeInstances' paginator, and
// terminated with TerminateInstances. Credentials come from the standard
// AWS chain (environment, shared files, instance role); Endpoint
// overrides the service URL (the cloud simulator in tests). Retries are
// the SDK's standard retryer (throttling, 5xx), with more attempts.
package aws

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/aerolithdb/aerolith/provisioner"
)

// Ports the security group opens.
const (
	APIPort  = 7070
	RaftPort = 7071
)

// DefaultImage is the AMI launched when a spec names none.
const DefaultImage = "ami-0c1c30571d2dae5c9"

// Config configures a Driver.
type Config struct {
	// Region is the EC2 region (a spec's region must match it).
	Region string
	// Endpoint, optional, overrides the EC2 endpoint URL.
	Endpoint string
	// Credentials, optional, replace the standard chain (tests).
	Credentials aws.CredentialsProvider
	// MaxAttempts of the SDK's retryer; default 10.
	MaxAttempts int
	// Backoff caps the retryer's delay; default 20s (tests set it low).
	MaxBackoff time.Duration
}

// Driver implements provisioner.Driver on EC2.
type Driver struct {
	ec2    *ec2.Client
	region string

	mu sync.Mutex
	// groups caches each cluster's security group id once known: EC2 is
	// eventually consistent, and a group just created may not be listed
	// yet when the first launch needs it.
	groups map[string]string
}

var _ provisioner.Driver = (*Driver)(nil)

// New loads the AWS configuration (environment, shared files) and builds
// the client. It does no network I/O.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	if cfg.Region == "" {
		return nil, errors.New("aws: region is required (--region or AWS_REGION)")
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 20 * time.Second
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(cfg.Region)}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws: load configuration: %w", err)
	}
	client := ec2.NewFromConfig(awsCfg, func(o *ec2.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = cfg.MaxAttempts
			so.MaxBackoff = cfg.MaxBackoff
			// InternalError is retried with the same ClientToken, so a
			// launch that committed before the error is found, not redone.
		})
	})
	return &Driver{ec2: client, region: cfg.Region, groups: map[string]string{}}, nil
}

// Cloud implements provisioner.Driver.
func (d *Driver) Cloud() provisioner.Cloud { return provisioner.AWS }

func (d *Driver) checkRegion(spec *provisioner.ClusterSpec) error {
	if spec.Region != d.region {
		return fmt.Errorf("aws: spec region %q differs from the driver's %q", spec.Region, d.region)
	}
	return nil
}

func groupName(cluster string) string { return "aerolith-" + cluster }

func ec2Tags(m map[string]string) []types.Tag {
	var out []types.Tag
	for _, k := range provisioner.SortedKeys(m) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// findGroup returns the cluster's security group id, "" when none.
func (d *Driver) findGroup(ctx context.Context, spec *provisioner.ClusterSpec) (*types.SecurityGroup, error) {
	p := ec2.NewDescribeSecurityGroupsPaginator(d.ec2, &ec2.DescribeSecurityGroupsInput{
		Filters: []types.Filter{{Name: aws.String("tag:" + provisioner.TagCluster), Values: []string{spec.Name}}},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, g := range out.SecurityGroups {
			if aws.ToString(g.GroupName) == groupName(spec.Name) {
				return &g, nil
			}
		}
	}
	return nil, nil
}

// EnsureNetwork creates the cluster's security group if missing and adds
// the rules it lacks: raft from the group itself, the API from each
// allowed CIDR. Rules are only ever added here; a CIDR removed from the
// spec is revoked by a later version of this driver (not yet).
func (d *Driver) EnsureNetwork(ctx context.Context, spec *provisioner.ClusterSpec) error {
	if err := d.checkRegion(spec); err != nil {
		return err
	}
	g, err := d.findGroup(ctx, spec)
	if err != nil {
		return fmt.Errorf("describe security groups: %w", err)
	}
	var id string
	if g == nil {
		out, err := d.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName:   aws.String(groupName(spec.Name)),
			Description: aws.String("Aerolith cluster " + spec.Name + ": raft between members, data API from allowed CIDRs"),
			TagSpecifications: []types.TagSpecification{{
				ResourceType: types.ResourceTypeSecurityGroup, Tags: ec2Tags(provisioner.ResourceTags(spec, "")),
			}},
		})
		switch {
		case code(err) == "InvalidGroup.Duplicate":
			// Created by an earlier attempt whose answer was lost, and
			// not yet visible to describe: wait until it is.
			for g == nil {
				if g, err = d.findGroup(ctx, spec); err != nil {
					return err
				}
				if g == nil {
					if err := sleep(ctx, 200*time.Millisecond); err != nil {
						return err
					}
				}
			}
			id = aws.ToString(g.GroupId)
		case err != nil:
			return fmt.Errorf("create security group: %w", err)
		default:
			id = aws.ToString(out.GroupId)
		}
	} else {
		id = aws.ToString(g.GroupId)
	}
	have := map[string]bool{}
	if g != nil {
		for _, p := range g.IpPermissions {
			for _, pair := range p.UserIdGroupPairs {
				have[fmt.Sprintf("%d/%s", aws.ToInt32(p.FromPort), aws.ToString(pair.GroupId))] = true
			}
			for _, r := range p.IpRanges {
				have[fmt.Sprintf("%d/%s", aws.ToInt32(p.FromPort), aws.ToString(r.CidrIp))] = true
			}
		}
	}
	var perms []types.IpPermission
	if !have[fmt.Sprintf("%d/%s", RaftPort, id)] {
		perms = append(perms, types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(RaftPort), ToPort: aws.Int32(RaftPort),
			UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(id), Description: aws.String("raft between the cluster's nodes")}}})
	}
	// The API port also admits the members themselves (join resolution and
	// liveness probes between agents use it).
	if !have[fmt.Sprintf("%d/%s", APIPort, id)] {
		perms = append(perms, types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(APIPort), ToPort: aws.Int32(APIPort),
			UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(id), Description: aws.String("agent to agent (join, liveness)")}}})
	}
	for _, cidr := range spec.AllowedCIDRs {
		if !have[fmt.Sprintf("%d/%s", APIPort, cidr)] {
			perms = append(perms, types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(APIPort), ToPort: aws.Int32(APIPort),
				IpRanges: []types.IpRange{{CidrIp: aws.String(cidr), Description: aws.String("data API clients")}}})
		}
	}
	d.mu.Lock()
	d.groups[spec.Name] = id
	d.mu.Unlock()
	for _, p := range perms {
		for {
			_, err := d.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(id), IpPermissions: []types.IpPermission{p}})
			if code(err) == "InvalidGroup.NotFound" { // created, not yet visible
				if err := sleep(ctx, 200*time.Millisecond); err != nil {
					return err
				}
				continue
			}
			if err != nil && code(err) != "InvalidPermission.Duplicate" {
				return fmt.Errorf("authorize ingress on %s: %w", id, err)
			}
			break
		}
	}
	return nil
}

// groupID returns the cluster's security group id: the one EnsureNetwork
// found or made, else the one describe lists.
func (d *Driver) groupID(ctx context.Context, spec *provisioner.ClusterSpec) (string, error) {
	d.mu.Lock()
	id, ok := d.groups[spec.Name]
	d.mu.Unlock()
	if ok {
		return id, nil
	}
	g, err := d.findGroup(ctx, spec)
	if err != nil {
		return "", err
	}
	if g == nil {
		return "", fmt.Errorf("security group %s not found (EnsureNetwork first)", groupName(spec.Name))
	}
	return aws.ToString(g.GroupId), nil
}

// Launch implements provisioner.Driver: one RunInstances with the launch's
// ClientToken, so every retry (the SDK's or a rerun of Apply) answers the
// same instance.
func (d *Driver) Launch(ctx context.Context, spec *provisioner.ClusterSpec, l provisioner.Launch) (provisioner.Instance, error) {
	if err := d.checkRegion(spec); err != nil {
		return provisioner.Instance{}, err
	}
	gid, err := d.groupID(ctx, spec)
	if err != nil {
		return provisioner.Instance{}, err
	}
	image := spec.Image
	if image == "" {
		image = DefaultImage
	}
	tags := ec2Tags(provisioner.ResourceTags(spec, l.NodeID))
	in := &ec2.RunInstancesInput{
		ImageId: aws.String(image), InstanceType: types.InstanceType(spec.InstanceType),
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		ClientToken:      aws.String(l.Token),
		UserData:         aws.String(base64.StdEncoding.EncodeToString(l.UserData)),
		SecurityGroupIds: []string{gid},
		BlockDeviceMappings: []types.BlockDeviceMapping{{
			DeviceName: aws.String("/dev/xvda"),
			Ebs:        &types.EbsBlockDevice{VolumeSize: aws.Int32(int32(spec.DiskGB)), VolumeType: types.VolumeTypeGp3, DeleteOnTermination: aws.Bool(true), Encrypted: aws.Bool(true)},
		}},
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: tags},
			{ResourceType: types.ResourceTypeVolume, Tags: tags},
		},
		MetadataOptions: &types.InstanceMetadataOptionsRequest{HttpTokens: types.HttpTokensStateRequired},
	}
	if spec.Zone != "" {
		in.Placement = &types.Placement{AvailabilityZone: aws.String(spec.Zone)}
	}
	out, err := d.ec2.RunInstances(ctx, in)
	if err != nil {
		return provisioner.Instance{}, err
	}
	if len(out.Instances) != 1 {
		return provisioner.Instance{}, fmt.Errorf("RunInstances answered %d instances, want 1", len(out.Instances))
	}
	return toInstance(out.Instances[0]), nil
}

// Instances implements provisioner.Driver: every page of DescribeInstances
// filtered by the cluster tag.
func (d *Driver) Instances(ctx context.Context, spec *provisioner.ClusterSpec) ([]provisioner.Instance, error) {
	if err := d.checkRegion(spec); err != nil {
		return nil, err
	}
	p := ec2.NewDescribeInstancesPaginator(d.ec2, &ec2.DescribeInstancesInput{
		Filters:    []types.Filter{{Name: aws.String("tag:" + provisioner.TagCluster), Values: []string{spec.Name}}},
		MaxResults: aws.Int32(100),
	})
	var out []provisioner.Instance
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe instances: %w", err)
		}
		for _, r := range page.Reservations {
			for _, in := range r.Instances {
				out = append(out, toInstance(in))
			}
		}
	}
	return out, nil
}

// Terminate implements provisioner.Driver; an instance already gone is
// not an error.
func (d *Driver) Terminate(ctx context.Context, spec *provisioner.ClusterSpec, inst provisioner.Instance) error {
	_, err := d.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{inst.ID}})
	if code(err) == "InvalidInstanceID.NotFound" {
		return nil
	}
	return err
}

// DeleteNetwork implements provisioner.Driver: it waits for the cluster's
// instances to finish terminating (EC2 refuses to delete a group still in
// use: DependencyViolation), then deletes the group.
func (d *Driver) DeleteNetwork(ctx context.Context, spec *provisioner.ClusterSpec) error {
	deleted := map[string]bool{}
	for {
		// A group this driver made may not be listed yet (eventual
		// consistency): its remembered id counts too.
		d.mu.Lock()
		id := d.groups[spec.Name]
		d.mu.Unlock()
		if id == "" {
			g, err := d.findGroup(ctx, spec)
			if err != nil {
				return err
			}
			if g == nil || deleted[aws.ToString(g.GroupId)] {
				return nil // a deleted group may stay listed for a moment
			}
			id = aws.ToString(g.GroupId)
		}
		_, err := d.ec2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(id)})
		switch code(err) {
		case "", "InvalidGroup.NotFound":
			d.forget(spec.Name)
			deleted[id] = true
			// Look again: a group made by an earlier, interrupted run
			// under the same name is deleted too.
			continue
		case "DependencyViolation":
			if err := sleep(ctx, 500*time.Millisecond); err != nil {
				return fmt.Errorf("security group %s still in use: %w", id, err)
			}
		default:
			return fmt.Errorf("delete security group: %w", err)
		}
	}
}

func (d *Driver) forget(cluster string) {
	d.mu.Lock()
	delete(d.groups, cluster)
	d.mu.Unlock()
}

func toInstance(in types.Instance) provisioner.Instance {
	out := provisioner.Instance{ID: aws.ToString(in.InstanceId), PrivateIP: aws.ToString(in.PrivateIpAddress), PublicIP: aws.ToString(in.PublicIpAddress)}
	if in.LaunchTime != nil {
		out.Launched = *in.LaunchTime
	}
	for _, t := range in.Tags {
		if aws.ToString(t.Key) == provisioner.TagNode {
			out.NodeID = aws.ToString(t.Value)
		}
	}
	if in.State != nil {
		switch in.State.Name {
		case types.InstanceStateNamePending:
			out.State = provisioner.Pending
		case types.InstanceStateNameRunning:
			out.State = provisioner.Running
		case types.InstanceStateNameStopping, types.InstanceStateNameShuttingDown:
			out.State = provisioner.Stopping
			if in.State.Name == types.InstanceStateNameShuttingDown {
				out.State = provisioner.Terminated
			}
		case types.InstanceStateNameStopped:
			out.State = provisioner.Stopped
		default:
			out.State = provisioner.Terminated
		}
	}
	if in.StateReason != nil {
		out.Reason = aws.ToString(in.StateReason.Message)
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
