// Package provisioner turns a ClusterSpec into running Aerolith clusters on
// a cloud (or as local processes): validation, the plan of cloud actions,
// and the lifecycle (apply, read, scale, destroy) over a Driver per cloud.
//
// The spec is the one description shared by the CLI (`aerolith cluster
// create`), the Terraform provider and the Pulumi stacks; every path boots
// its nodes with the same user data (package provisioner/cloudinit).
package provisioner

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Cloud names where a cluster runs.
type Cloud string

// The clouds a spec can name.
const (
	Local Cloud = "local"
	AWS   Cloud = "aws"
	GCP   Cloud = "gcp"
	Azure Cloud = "azure"
)

// Clouds lists every supported cloud, in the order help texts show them.
var Clouds = []Cloud{Local, AWS, GCP, Azure}

// AllowedNodeCounts are the cluster sizes a spec may ask for: odd, so a
// majority survives the loss of (n-1)/2 nodes.
var AllowedNodeCounts = []int{1, 3, 5, 7}

// ClusterSpec describes one cluster: where it runs, how many nodes of what
// size, which agent they boot, how they reach billing and who may connect.
type ClusterSpec struct {
	// Name identifies the cluster within its cloud account: every resource
	// is named and tagged after it. Lowercase letters, digits and '-', 3-40
	// characters, starting with a letter (a GCE, Azure and EC2 name).
	Name  string `json:"name"`
	Cloud Cloud  `json:"cloud"`
	// Region (aws, azure) or the zone's region (gcp); Zone for gcp, and an
	// optional availability zone for aws. Unused for local.
	Region string `json:"region,omitempty"`
	Zone   string `json:"zone,omitempty"`
	// Nodes is the number of voting members: 1, 3, 5 or 7.
	Nodes int `json:"nodes"`
	// InstanceType (aws), machine type (gcp) or VM size (azure).
	InstanceType string `json:"instance_type,omitempty"`
	// DiskGB is each node's data disk in GiB (10-16384).
	DiskGB int `json:"disk_gb,omitempty"`
	// Image is the machine image: an AMI id, a GCE image self link or
	// family, an Azure image URN (publisher:offer:sku:version).
	Image string `json:"image,omitempty"`
	// Agent is the aerolith binary the nodes download and run.
	Agent Artifact `json:"agent"`
	// Managed, when set, enrolls the nodes with billing.
	Managed *Managed `json:"managed,omitempty"`
	// AllowedCIDRs may reach the data API; raft is only ever open between
	// the cluster's own nodes.
	AllowedCIDRs []string `json:"allowed_cidrs,omitempty"`
	// Tags are added to every resource (labels on gcp).
	Tags map[string]string `json:"tags,omitempty"`
}

// Artifact is a downloadable binary checked by its SHA-256 before it runs.
type Artifact struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
}

// Managed are the settings a managed cluster's nodes enroll with.
type Managed struct {
	// BillingURL is billing's base URL (replicas separated by commas).
	BillingURL string `json:"billing_url"`
	// ClusterID and EnrollmentToken are what POST /api/v1/clusters answered.
	ClusterID       string `json:"cluster_id"`
	EnrollmentToken string `json:"enrollment_token"`
	// BillingCA, optional, is the PEM bundle billing's certificate is
	// verified with (default: the system roots).
	BillingCA string `json:"billing_ca,omitempty"`
}

// FieldError names the field of a spec that is wrong and what is allowed.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// ErrInvalidSpec marks every validation failure (errors.Is).
var ErrInvalidSpec = errors.New("invalid cluster spec")

// Is makes FieldError match ErrInvalidSpec.
func (e *FieldError) Is(target error) bool { return target == ErrInvalidSpec }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

var (
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9-]{1,38}[a-z0-9]$`)
	sha256RE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	tagKeyRE  = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	tagValRE  = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
	awsTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.(nano|micro|small|medium|large|metal|[0-9]*xlarge)$`)
	gcpTypeRE = regexp.MustCompile(`^[a-z][a-z0-9]*-(standard|highmem|highcpu|micro|small|medium)(-[0-9]+)?$`)
	azTypeRE  = regexp.MustCompile(`^Standard_[A-Z][A-Za-z0-9_]*$`)
	amiRE     = regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`)
)

// Regions are the regions (gcp: zones' regions) each cloud accepts. A
// spec naming another region is refused at plan time rather than failing
// halfway through an apply.
var Regions = map[Cloud][]string{
	AWS: {"af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
		"ca-central-1", "eu-central-1", "eu-north-1", "eu-south-1", "eu-west-1", "eu-west-2", "eu-west-3", "me-south-1", "sa-east-1",
		"us-east-1", "us-east-2", "us-west-1", "us-west-2"},
	GCP: {"asia-east1", "asia-northeast1", "asia-south1", "asia-southeast1", "australia-southeast1", "europe-north1", "europe-west1",
		"europe-west2", "europe-west3", "europe-west4", "northamerica-northeast1", "southamerica-east1", "us-central1", "us-east1",
		"us-east4", "us-west1", "us-west2"},
	Azure: {"australiaeast", "brazilsouth", "canadacentral", "centralindia", "centralus", "eastasia", "eastus", "eastus2", "francecentral",
		"germanywestcentral", "japaneast", "koreacentral", "northeurope", "norwayeast", "southeastasia", "swedencentral", "uksouth",
		"westeurope", "westus", "westus2", "westus3"},
}

// Defaults fills the fields a spec may leave empty with the cloud's
// defaults; it never overrides what is set.
func (s *ClusterSpec) Defaults() {
	if s.Nodes == 0 {
		s.Nodes = 3
	}
	if s.Cloud == Local {
		return
	}
	if s.DiskGB == 0 {
		s.DiskGB = 20
	}
	if len(s.AllowedCIDRs) == 0 {
		// Closed by default: nobody reaches the API until the spec says who.
		s.AllowedCIDRs = []string{}
	}
	if s.InstanceType == "" {
		switch s.Cloud {
		case AWS:
			s.InstanceType = "t3.medium"
		case GCP:
			s.InstanceType = "e2-standard-2"
		case Azure:
			s.InstanceType = "Standard_D2s_v5"
		}
	}
	if s.Cloud == GCP && s.Zone == "" && s.Region != "" {
		s.Zone = s.Region + "-b"
	}
}

// Validate checks every field and returns the first problem as a
// *FieldError naming the field and what is allowed.
func (s *ClusterSpec) Validate() error {
	if !nameRE.MatchString(s.Name) {
		return fieldErr("name", "%q is not a cluster name: 3-40 characters of lowercase letters, digits and '-', starting with a letter and not ending with '-'", s.Name)
	}
	if !slices.Contains(Clouds, s.Cloud) {
		return fieldErr("cloud", "%q is not supported; want one of %s", s.Cloud, joinClouds())
	}
	if !slices.Contains(AllowedNodeCounts, s.Nodes) {
		return fieldErr("nodes", "%d nodes: want 1, 3, 5 or 7 (an odd count keeps a majority when nodes fail)", s.Nodes)
	}
	if err := s.validatePlacement(); err != nil {
		return err
	}
	if err := s.validateAgent(); err != nil {
		return err
	}
	if m := s.Managed; m != nil {
		if err := validateBillingURL(m.BillingURL); err != nil {
			return fieldErr("managed.billing_url", "%v", err)
		}
		if m.ClusterID == "" {
			return fieldErr("managed.cluster_id", "required with billing (the id POST /api/v1/clusters answered)")
		}
		if m.EnrollmentToken == "" {
			return fieldErr("managed.enrollment_token", "required with billing (the token POST /api/v1/clusters answered)")
		}
	}
	for i, c := range s.AllowedCIDRs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return fieldErr(fmt.Sprintf("allowed_cidrs[%d]", i), "%q is not a CIDR such as 203.0.113.0/24 or 2001:db8::/32", c)
		}
		if p.Masked() != p {
			return fieldErr(fmt.Sprintf("allowed_cidrs[%d]", i), "%q has host bits set; did you mean %s?", c, p.Masked())
		}
	}
	keys := make([]string, 0, len(s.Tags))
	for k := range s.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !tagKeyRE.MatchString(k) || strings.HasPrefix(k, TagPrefix) {
			return fieldErr("tags", "key %q: want 1-63 lowercase letters, digits, '_' or '-' starting with a letter (valid on every cloud), not starting with %q (reserved)", k, TagPrefix)
		}
		if !tagValRE.MatchString(s.Tags[k]) {
			return fieldErr("tags", "value of %q (%q): want at most 63 lowercase letters, digits, '_' or '-' (valid on every cloud)", k, s.Tags[k])
		}
	}
	return nil
}

func (s *ClusterSpec) validatePlacement() error {
	if s.Cloud == Local {
		for _, f := range []struct{ name, v string }{{"region", s.Region}, {"zone", s.Zone}, {"instance_type", s.InstanceType}, {"image", s.Image}} {
			if f.v != "" {
				return fieldErr(f.name, "not used by the local cloud; remove it")
			}
		}
		if s.DiskGB != 0 {
			return fieldErr("disk_gb", "not used by the local cloud; remove it")
		}
		return nil
	}
	if !slices.Contains(Regions[s.Cloud], s.Region) {
		return fieldErr("region", "%q is not a region of %s; want one of %s", s.Region, s.Cloud, strings.Join(Regions[s.Cloud], ", "))
	}
	switch s.Cloud {
	case AWS:
		if s.Zone != "" && !(strings.HasPrefix(s.Zone, s.Region) && len(s.Zone) == len(s.Region)+1) {
			return fieldErr("zone", "%q is not an availability zone of %s (want e.g. %sa)", s.Zone, s.Region, s.Region)
		}
		if !awsTypeRE.MatchString(s.InstanceType) {
			return fieldErr("instance_type", "%q is not an EC2 instance type such as t3.medium or m6i.xlarge", s.InstanceType)
		}
		if s.Image != "" && !amiRE.MatchString(s.Image) {
			return fieldErr("image", "%q is not an AMI id such as ami-0abcdef1234567890", s.Image)
		}
	case GCP:
		if !(strings.HasPrefix(s.Zone, s.Region+"-") && len(s.Zone) == len(s.Region)+2) {
			return fieldErr("zone", "%q is not a zone of %s (want e.g. %s-b)", s.Zone, s.Region, s.Region)
		}
		if !gcpTypeRE.MatchString(s.InstanceType) {
			return fieldErr("instance_type", "%q is not a GCE machine type such as e2-standard-2 or n2-highmem-4", s.InstanceType)
		}
	case Azure:
		if s.Zone != "" && !slices.Contains([]string{"1", "2", "3"}, s.Zone) {
			return fieldErr("zone", "%q is not an Azure availability zone; want 1, 2 or 3", s.Zone)
		}
		if !azTypeRE.MatchString(s.InstanceType) {
			return fieldErr("instance_type", "%q is not an Azure VM size such as Standard_D2s_v5", s.InstanceType)
		}
	}
	if s.DiskGB < 10 || s.DiskGB > 16384 {
		return fieldErr("disk_gb", "%d: want 10 to 16384 GiB", s.DiskGB)
	}
	return nil
}

func (s *ClusterSpec) validateAgent() error {
	u, err := url.Parse(s.Agent.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "file") || (u.Scheme != "file" && u.Host == "") {
		return fieldErr("agent.url", "%q is not an https:// (or http://, file://) URL of the aerolith binary", s.Agent.URL)
	}
	if !sha256RE.MatchString(s.Agent.SHA256) {
		return fieldErr("agent.sha256", "%q is not a SHA-256 digest: want 64 lowercase hex digits (sha256sum of the binary)", s.Agent.SHA256)
	}
	return nil
}

func validateBillingURL(raw string) error {
	if raw == "" {
		return errors.New("required: billing's base URL, e.g. https://billing.example.com:7080")
	}
	for _, one := range strings.Split(raw, ",") {
		u, err := url.Parse(strings.TrimSpace(one))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%q is not an http(s) URL", one)
		}
	}
	return nil
}

func joinClouds() string {
	s := make([]string, len(Clouds))
	for i, c := range Clouds {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}
