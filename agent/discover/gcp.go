package discover

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"
)

// gcpProvider finds the running GCE instances carrying a label.
type gcpProvider struct {
	client               *compute.InstancesClient
	project, zone        string
	endpoint             string
	labelKey, labelValue string
	port                 int
}

var (
	gcpLabelKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	gcpLabelValRE = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
	gcpZoneRE     = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+-[a-z]$`)
	gcpProjectRE  = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
)

// checkGCP applies GCE's rules to a gcp discovery string's settings.
func checkGCP(args map[string]string) error {
	switch {
	case !gcpProjectRE.MatchString(args["project"]):
		return fmt.Errorf("discover: project: %q is not a GCP project id (6-30 lowercase letters, digits or '-', starting with a letter)", clip(args["project"]))
	case !gcpZoneRE.MatchString(args["zone"]):
		return fmt.Errorf("discover: zone: %q is not a GCE zone such as europe-west1-b", clip(args["zone"]))
	case !gcpLabelKeyRE.MatchString(args["label_key"]):
		return fmt.Errorf("discover: label_key: %q is not a GCE label key (lowercase letters, digits, '_' or '-', starting with a letter, at most 63)", clip(args["label_key"]))
	case !gcpLabelValRE.MatchString(args["label_value"]):
		return fmt.Errorf("discover: label_value: %q is not a GCE label value (at most 63 lowercase letters, digits, '_' or '-')", clip(args["label_value"]))
	}
	return nil
}

// NewGCP returns the cloud-label provider of a ProviderGCP config: the
// internal IPv4 addresses of the running instances of project and zone
// labelled label_key=label_value (the Compute API's instances.list with a
// label filter, every page), each with port (the setting, else raftPort).
// Credentials are application default credentials (on a GCE VM, its
// service account through the metadata server;
// GOOGLE_APPLICATION_CREDENTIALS elsewhere); endpoint overrides the API's
// base URL (a simulator). Throttling and 5xx answers are retried. It does
// no network I/O.
func NewGCP(ctx context.Context, c Config, raftPort int) (Provider, error) {
	if c.Provider != ProviderGCP {
		return nil, fmt.Errorf("discover: provider %q is not %s", c.Provider, ProviderGCP)
	}
	port := raftPort
	if p := c.Args["port"]; p != "" {
		port, _ = strconv.Atoi(p) // checked by Parse
	}
	if port <= 0 {
		return nil, errNoPort
	}
	var opts []option.ClientOption
	if e := c.Args["endpoint"]; e != "" {
		opts = append(opts, option.WithEndpoint(e))
	}
	client, err := compute.NewInstancesRESTClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("discover: gcp client: %w", err)
	}
	return &gcpProvider{client: client, project: c.Args["project"], zone: c.Args["zone"], endpoint: c.Args["endpoint"],
		labelKey: c.Args["label_key"], labelValue: c.Args["label_value"], port: port}, nil
}

func (g *gcpProvider) String() string {
	s := fmt.Sprintf("gcp project=%s zone=%s label %s=%s", g.project, g.zone, g.labelKey, g.labelValue)
	if g.endpoint != "" {
		s += " endpoint=" + g.endpoint
	}
	return s
}

// Addrs lists the running labelled instances' internal addresses,
// following every page.
func (g *gcpProvider) Addrs(ctx context.Context) ([]string, error) {
	it := g.client.List(ctx, &computepb.ListInstancesRequest{
		Project: g.project, Zone: g.zone,
		Filter: proto.String(fmt.Sprintf("(labels.%s = %q) AND (status = RUNNING)", g.labelKey, g.labelValue)),
	}, gax.WithRetry(func() gax.Retryer {
		return &gcpRetryer{bo: gax.Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second}}
	}))
	var out []string
	for {
		in, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("gce instances.list: %w", err)
		}
		// The filter already asks for running instances; one stopping
		// meanwhile must not be dialed.
		nics := in.GetNetworkInterfaces()
		if in.GetStatus() != "RUNNING" || len(nics) == 0 || nics[0].GetNetworkIP() == "" {
			continue
		}
		out = append(out, hostPort(nics[0].GetNetworkIP(), g.port))
	}
}

// gcpRetryer retries GCE's throttling (429; 403 rateLimitExceeded) and
// server errors a few times.
type gcpRetryer struct {
	bo       gax.Backoff
	attempts int
}

func (r *gcpRetryer) Retry(err error) (time.Duration, bool) {
	r.attempts++
	var ge *googleapi.Error
	if r.attempts >= 6 || !errors.As(err, &ge) {
		return 0, false
	}
	rate := ge.Code == 403 && len(ge.Errors) > 0 && (ge.Errors[0].Reason == "rateLimitExceeded" || ge.Errors[0].Reason == "userRateLimitExceeded")
	if ge.Code == 429 || ge.Code >= 500 || rate {
		return r.bo.Pause(), true
	}
	return 0, false
}
