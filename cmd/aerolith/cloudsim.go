package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/provisioner/cloudsim"
)

func init() { commands = append(commands, newCloudsimCommand) }

// newCloudsimCommand is `aerolith cloudsim serve`: the cloud simulator as
// a process, for trying the aws, gcp and azure drivers (and the Terraform
// provider) offline. It boots every instance it launches from its user
// data.
func newCloudsimCommand(m *Main) *cobra.Command {
	var addr, dataDir, subnet, gcpKeyFile, gcpProject string
	var faults cloudsim.Faults
	var pendingFor time.Duration
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve an offline EC2, Compute Engine and Azure Resource Manager that really boot the agents they launch",
		Long: `Serve a cloud simulator at --addr that speaks three clouds' APIs on the one
address: the EC2 Query API, the Compute Engine REST API (paths under
/compute/) and Azure Resource Manager (paths under /subscriptions/). Every
instance or VM it launches is booted from its user data as cloud-init
would: the agent is downloaded, its sha256 checked, and run with the
instance's private address (a loopback address of --subnet) and its own
directory under --data-dir.

Point a driver at it with aerolith cluster create --endpoint http://ADDR and
  --cloud aws: any AWS credentials of the right shape are accepted (the
    signature's presence and shape are checked, not its value);
  --cloud gcp: requests need a bearer token from the simulator's own
    token endpoint: --gcp-key-file writes a service account key for it, to
    give as GOOGLE_APPLICATION_CREDENTIALS;
  --cloud azure: tokens come from its managed-identity endpoint: set
    IDENTITY_ENDPOINT=http://ADDR/msi/token, any IDENTITY_HEADER and any
    subscription id (AZURE_SUBSCRIPTION_ID).

GET /_sim/instances and /_sim/requests show its state and request log; PUT
/_sim/faults switches faults on, as the --fault-* flags do at start, each
in the words of the cloud asked (throttling is EC2's RequestLimitExceeded,
Compute Engine's rateLimitExceeded, ARM's 429). SIGINT or SIGTERM stops it
and every agent it booted.`,
		Example: `  aerolith cloudsim serve --addr 127.0.0.1:4566 --data-dir ./sim --gcp-key-file ./sim-sa.json
  AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=x \
    aerolith cluster create shop --cloud aws --region eu-west-1 --endpoint http://127.0.0.1:4566 --insecure-http --dry-run
  GOOGLE_APPLICATION_CREDENTIALS=./sim-sa.json \
    aerolith cluster create shop --cloud gcp --zone europe-west1-b --endpoint http://127.0.0.1:4566 --insecure-http --dry-run
  IDENTITY_ENDPOINT=http://127.0.0.1:4566/msi/token IDENTITY_HEADER=x AZURE_SUBSCRIPTION_ID=0b1f6471-1bf0-4dda-aec3-cb9272f09590 \
    aerolith cluster create shop --cloud azure --region westeurope --endpoint http://127.0.0.1:4566 --insecure-http --dry-run`,
		Args: argsBetween(0, 0, "(none)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataDir == "" {
				return usageError{errors.New("--data-dir: required: the directory of the booted instances")}
			}
			cfg := cloudsim.Config{Faults: faults, PendingFor: pendingFor, Logger: slog.New(slog.NewTextHandler(m.Stderr, nil))}
			if subnet != "" {
				p, err := netip.ParsePrefix(subnet)
				if err != nil {
					return usageError{fmt.Errorf("--subnet %q: %v", subnet, err)}
				}
				cfg.Subnet = p
			}
			abs, err := filepath.Abs(dataDir)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(abs, 0o700); err != nil {
				return err
			}
			booter := cloudsim.NewAgentBooter(abs)
			cfg.Boot = booter
			sim, err := cloudsim.New(cfg)
			if err != nil {
				return usageError{err}
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("--addr %s: %w", addr, err)
			}
			srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			fmt.Fprintf(m.Stdout, "cloudsim: EC2 endpoint http://%s (instances under %s)\n", ln.Addr(), abs)
			fmt.Fprintf(m.Stdout, "cloudsim: Azure Resource Manager endpoint http://%s (managed identity: IDENTITY_ENDPOINT=http://%s%s, any IDENTITY_HEADER)\n", ln.Addr(), ln.Addr(), cloudsim.MSITokenPath)
			if gcpKeyFile != "" {
				if err := writeGCPKey(gcpKeyFile, "http://"+ln.Addr().String(), gcpProject); err != nil {
					srv.Close()
					sim.Close()
					return err
				}
				fmt.Fprintf(m.Stdout, "cloudsim: Compute Engine endpoint http://%s, service account key %s (GOOGLE_APPLICATION_CREDENTIALS, project %s)\n", ln.Addr(), gcpKeyFile, gcpProject)
			} else {
				fmt.Fprintf(m.Stdout, "cloudsim: Compute Engine endpoint http://%s (its tokens need a service account key: --gcp-key-file)\n", ln.Addr())
			}
			var serveErr error
			select {
			case <-cmd.Context().Done():
			case serveErr = <-errc:
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			srv.Shutdown(ctx)
			// Close detaches and stops the instances' agents; the booter's
			// Close stops anything still booting.
			err = errors.Join(sim.Close(), booter.Close(ctx))
			if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
				return serveErr
			}
			if err == nil {
				fmt.Fprintln(m.Stderr, "cloudsim: stopped every agent")
			}
			return err
		},
	}
	fl := serve.Flags()
	fl.StringVar(&addr, "addr", "127.0.0.1:4566", "host:port to serve the EC2, Compute Engine and Azure Resource Manager APIs on")
	fl.StringVar(&dataDir, "data-dir", "", "directory of the booted instances (files, data, logs)")
	fl.StringVar(&subnet, "subnet", "", "IPv4 /24 the instances' private addresses come from (default: a random one in 127.64.0.0/10)")
	fl.StringVar(&gcpKeyFile, "gcp-key-file", "", "write a GCP service account key file whose token endpoint is this simulator, for the gcp driver's GOOGLE_APPLICATION_CREDENTIALS")
	fl.StringVar(&gcpProject, "gcp-project", "aerolith-sim", "the project of the --gcp-key-file account")
	fl.DurationVar(&pendingFor, "pending-for", 300*time.Millisecond, "how long a launched instance stays pending")
	fl.IntVar(&faults.EventualConsistency, "fault-eventual-consistency", 0, "hide a new resource from the first N describes")
	fl.IntVar(&faults.Throttle, "fault-throttle", 0, "answer every Nth request with the cloud's throttling error (EC2 RequestLimitExceeded, Compute Engine rateLimitExceeded, ARM 429)")
	fl.IntVar(&faults.CommitThen500, "fault-commit-then-500", 0, "apply every Nth mutating request, then answer 500")
	fl.IntVar(&faults.PageSize, "fault-page-size", 0, "cap every page of a list at N items")
	fl.IntVar(&faults.FailLaunch, "fault-fail-launch", 0, "every Nth launched instance or VM fails, as a launch out of capacity does (EC2: pending → terminated)")
	serve.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd := groupCommand("cloudsim", "The offline cloud simulator (tests and trying the cloud drivers without a cloud)")
	cmd.AddCommand(serve)
	return cmd
}

// writeGCPKey writes a service account key of project whose token_uri is
// the simulator at base.
func writeGCPKey(path, base, project string) error {
	key, err := cloudsim.GCEServiceAccountKey(base, project)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return fmt.Errorf("--gcp-key-file: %w", err)
	}
	return nil
}
