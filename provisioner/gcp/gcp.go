// Package gcp is the provisioner's driver for Google Compute Engine, on the
// official cloud.google.com/go/compute/apiv1 REST clients: two firewall
// rules per cluster on network target tags (raft, and agent to agent, only
// from instances carrying the cluster's tag; the data API only from the
// allowed CIDRs), one instance per node named after the node (GCE names
// are unique per zone, so a launch is never doubled) with its user data in
// the `user-data` metadata item, the provisioner's tags as labels and a
// boot disk of the requested size and image. Every insert carries a
// requestId derived from the launch token, so a retry (the SDK's, or a
// rerun after a crash) is answered with the original operation; every
// mutation waits on its operation (op.Wait); lists follow every page of
// the iterator.
//
// Credentials are found the way Google's libraries find them (application
// default credentials: GOOGLE_APPLICATION_CREDENTIALS, gcloud's file, the
// metadata server); the project comes from the Config, else
// GOOGLE_CLOUD_PROJECT or CLOUDSDK_CORE_PROJECT, else the credentials.
// Endpoint overrides the API's base URL (the cloud simulator in tests).
package gcp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/googleapis/gax-go/v2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/aerolithdb/aerolith/provisioner"
)

// Ports the firewall rules open.
const (
	APIPort  = 7070
	RaftPort = 7071
)

// DefaultImage is the boot image when a spec names none.
const DefaultImage = "projects/debian-cloud/global/images/family/debian-12"

// DefaultNetwork is the VPC network instances and rules are put on.
const DefaultNetwork = "global/networks/default"

// maxUserData is GCE's limit on one metadata value.
const maxUserData = 256 << 10

// Config configures a Driver.
type Config struct {
	// Project is the GCP project id; default GOOGLE_CLOUD_PROJECT, then
	// CLOUDSDK_CORE_PROJECT, then the project of the default credentials.
	Project string
	// Network, optional, is the VPC network (default DefaultNetwork).
	Network string
	// Endpoint, optional, overrides the Compute Engine API's base URL.
	Endpoint string
	// ClientOptions are added to the clients' (tests give credentials
	// here: option.WithTokenSource).
	ClientOptions []option.ClientOption
	// MaxAttempts of a call retried on throttling and 5xx; default 10.
	MaxAttempts int
	// MaxBackoff caps the delay between attempts; default 20s.
	MaxBackoff time.Duration
}

// Driver implements provisioner.Driver on Compute Engine.
type Driver struct {
	instances *compute.InstancesClient
	firewalls *compute.FirewallsClient
	project   string
	network   string
	retry     gax.CallOption
}

var _ provisioner.Driver = (*Driver)(nil)

// ErrNoProject is returned by New when no project is configured anywhere.
var ErrNoProject = errors.New("gcp: no project: give --project or set GOOGLE_CLOUD_PROJECT (or CLOUDSDK_CORE_PROJECT)")

// ProjectFromEnv returns the project named by the standard environment
// variables, "" when none.
func ProjectFromEnv() string {
	for _, k := range []string{"GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// DefaultProject is the project the environment names
// (ProjectFromEnv), else the one of the application default credentials
// (a service account key's project_id), "" when neither says.
func DefaultProject(ctx context.Context) string {
	if p := ProjectFromEnv(); p != "" {
		return p
	}
	if creds, err := google.FindDefaultCredentials(ctx, compute.DefaultAuthScopes()...); err == nil {
		return creds.ProjectID
	}
	return ""
}

// New builds the REST clients. Credentials are looked up (files and
// environment) but no request is made.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 20 * time.Second
	}
	if cfg.Network == "" {
		cfg.Network = DefaultNetwork
	}
	if cfg.Project == "" && len(cfg.ClientOptions) == 0 {
		cfg.Project = DefaultProject(ctx)
	} else if cfg.Project == "" {
		cfg.Project = ProjectFromEnv()
	}
	if cfg.Project == "" {
		return nil, ErrNoProject
	}
	opts := append([]option.ClientOption(nil), cfg.ClientOptions...)
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	ic, err := compute.NewInstancesRESTClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("gcp: instances client: %w", err)
	}
	fc, err := compute.NewFirewallsRESTClient(ctx, opts...)
	if err != nil {
		ic.Close()
		return nil, fmt.Errorf("gcp: firewalls client: %w", err)
	}
	return &Driver{instances: ic, firewalls: fc, project: cfg.Project, network: cfg.Network,
		retry: retryOption(cfg.MaxAttempts, cfg.MaxBackoff)}, nil
}

// Close releases the clients' connections.
func (d *Driver) Close() error {
	return errors.Join(d.instances.Close(), d.firewalls.Close())
}

// Project is the project the driver works in.
func (d *Driver) Project() string { return d.project }

// Cloud implements provisioner.Driver.
func (d *Driver) Cloud() provisioner.Cloud { return provisioner.GCP }

// NetworkTag is the network tag every instance of cluster carries; the
// firewall rules target it, and the raft rule admits only it.
func NetworkTag(cluster string) string { return "aerolith-" + cluster }

// Firewall rule names of a cluster.
func raftRule(cluster string) string { return "aerolith-" + cluster + "-raft" }
func apiRule(cluster string) string  { return "aerolith-" + cluster + "-api" }

// RuleNames are the names of the firewall rules of cluster.
func RuleNames(cluster string) []string { return []string{raftRule(cluster), apiRule(cluster)} }

// retryOption retries throttling (429, 403 rateLimitExceeded) and server
// errors (5xx). Inserts carry a requestId, so a retried insert that
// committed before its answer was lost is answered with its operation.
func retryOption(max int, cap time.Duration) gax.CallOption {
	return gax.WithRetry(func() gax.Retryer {
		return &retryer{max: max, bo: gax.Backoff{Initial: min(100*time.Millisecond, cap), Max: cap, Multiplier: 2}}
	})
}

type retryer struct {
	bo       gax.Backoff
	attempts int
	max      int
}

func (r *retryer) Retry(err error) (time.Duration, bool) {
	r.attempts++
	if r.attempts >= r.max || !retryable(err) {
		return 0, false
	}
	return r.bo.Pause(), true
}

func retryable(err error) bool {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return false
	}
	switch {
	case ge.Code == 429, ge.Code >= 500 && ge.Code <= 504:
		return true
	case ge.Code == 403:
		return reason(err) == "rateLimitExceeded" || reason(err) == "userRateLimitExceeded"
	}
	return false
}

// code is the HTTP status of a Google API error, 0 for other errors.
func code(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

// reason is the first error reason of a Google API error.
func reason(err error) string {
	var ge *googleapi.Error
	if errors.As(err, &ge) && len(ge.Errors) > 0 {
		return ge.Errors[0].Reason
	}
	return ""
}

// requestID is the requestId of attempt k of the insert named by token:
// a UUID, the same for every retry of that attempt.
func requestID(token string, k int) string {
	if k == 0 {
		if _, ok := parseUUID(token); ok {
			return token
		}
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "aerolith/gce/%s/%d", token, k))
	return formatUUID(sum[:16])
}

// randomRequestID is a fresh requestId (deletes: the SDK's retries of one
// call reuse it; a later call must not be answered by an old operation).
func randomRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	return formatUUID(b[:])
}

func formatUUID(u []byte) string {
	u[6] = u[6]&0x0f | 0x80 // version 8 (name-based, or random)
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func parseUUID(s string) ([16]byte, bool) {
	var out [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return out, false
	}
	j := 0
	for i := 0; i < 36; i += 2 {
		if s[i] == '-' {
			i--
			continue
		}
		n, err := strconv.ParseUint(s[i:i+2], 16, 8)
		if err != nil {
			return out, false
		}
		out[j] = byte(n)
		j++
	}
	return out, j == 16
}

// insertOp runs one idempotent insert: attempt k's requestId, the
// operation waited on, and then the resource looked up. GCE keeps a
// requestId for an hour: an insert of a resource deleted and made again
// within that time (a node replaced, a cluster recreated) is answered with
// the old, finished operation and makes nothing. That shows as an
// operation that ended before this call began and a resource that is not
// there; the next attempt then uses a new requestId. A resource found by
// name means done, whoever made it (names are unique).
func insertOp(ctx context.Context, what string, token string, insert func(ctx context.Context, requestID string) (*compute.Operation, error),
	exists func(ctx context.Context) (bool, error), retryFailed func(op *computepb.Operation) bool, pollOpts ...gax.CallOption) error {
	began := time.Now()
	for k := 0; k < 8; k++ {
		op, err := insert(ctx, requestID(token, k))
		if code(err) == 409 { // alreadyExists: made by an earlier attempt or run
			return waitExists(ctx, what, exists)
		}
		if err != nil {
			return fmt.Errorf("insert %s: %w", what, err)
		}
		if err := op.Wait(ctx, pollOpts...); err != nil {
			if retryFailed != nil && retryFailed(op.Proto()) {
				continue // the cloud gave up on this attempt; the name is free again
			}
			return fmt.Errorf("insert %s: operation %s: %w", what, op.Name(), err)
		}
		if e := op.Proto().GetError(); e != nil && len(e.GetErrors()) > 0 {
			if retryFailed != nil && retryFailed(op.Proto()) {
				continue
			}
			return fmt.Errorf("insert %s: operation %s failed: %s", what, op.Name(), e.GetErrors()[0].GetMessage())
		}
		ok, err := exists(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if end, err := time.Parse(time.RFC3339, op.Proto().GetEndTime()); err == nil && end.Before(began) {
			continue // a stale operation of an earlier life of this resource
		}
		// Just made, not yet visible (eventual consistency). Should it
		// never show (the cloud's clock behind ours made a stale
		// operation look new), the next attempt's insert says: a 409
		// when it exists, a new instance when it does not.
		wctx, cancel := context.WithTimeout(ctx, visibleWithin)
		err = waitExists(wctx, what, exists)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
	}
	return fmt.Errorf("insert %s: no attempt made it", what)
}

// visibleWithin bounds the wait for a resource whose insert finished.
const visibleWithin = 30 * time.Second

// waitExists polls until the resource is visible.
func waitExists(ctx context.Context, what string, exists func(ctx context.Context) (bool, error)) error {
	delay := 50 * time.Millisecond
	for {
		ok, err := exists(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for %s to be visible: %w", what, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 2*time.Second)
	}
}
