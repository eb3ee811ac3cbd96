package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/agent/client"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/clientopts"
	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
	"github.com/aerolithdb/aerolith/provisioner/local"
)

// The provisioning verbs of `aerolith cluster`: create, list, show, scale
// and destroy clusters through the provisioner (issue 13). They share the
// group's --output flag; the admin key of a cluster they made is in the
// state directory, so they need no --admin-key.

type provisionFlags struct {
	stateDir string
	f        *clientFlags
}

// store is --state-dir, made absolute: a local instance runs in its own
// directory, so a relative path recorded for it (its agent binary, its
// certificates) would point nowhere.
func (p *provisionFlags) store() deployment.Store {
	dir := p.stateDir
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return deployment.Store{Dir: dir}
}

// newClusterProvisionCommands returns the verbs; cluster.go registers them.
func newClusterProvisionCommands(m *Main, f *clientFlags) []*cobra.Command {
	p := &provisionFlags{f: f}
	cmds := []*cobra.Command{newClusterCreateCommand(m, p), newClusterListCommand(m, p), newClusterShowCommand(m, p),
		newClusterScaleCommand(m, p), newClusterDestroyCommand(m, p)}
	for _, c := range cmds {
		c.Flags().StringVar(&p.stateDir, "state-dir", deployment.DefaultStateDir(), "where the specs, secrets and local instances of the clusters made by this CLI are kept (env "+deployment.EnvStateDir+")")
	}
	return cmds
}

type createOptions struct {
	spec          provisioner.ClusterSpec
	tags          []string
	agentSettings []string
	endpoint      string
	project       string // gcp
	insecureHTTP  bool
	dryRun        bool
	billingURL    string
	billingKey    string
	billingCAFile string
	tenants       []string
	timeout       time.Duration
	azure         azureFlags
}

func newClusterCreateCommand(m *Main, p *provisionFlags) *cobra.Command {
	o := &createOptions{}
	var cloud string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a cluster: launch its nodes and wait until it is formed",
		Long: `Create the cluster NAME on a cloud and wait until its nodes have formed one
healthy cluster. --cloud local runs every node as processes of this machine,
each on its own loopback address (127.x.y.z) with its own data directory under
--state-dir; the nodes keep running after this command returns, and a crashed
agent is restarted. Rerunning an interrupted create converges: it never
starts a node twice.

With --billing-url (and the billing admin key, --billing-key or
AEROLITH_BILLING_KEY) the cluster is registered in billing for the --tenant
tenants and its nodes enroll: they enforce the tenants' policies and meter
their usage.

Progress goes to stderr; the result to stdout (--output json for scripts).`,
		Example: `  aerolith cluster create shop --cloud local --nodes 3
  aerolith cluster create shop --cloud local --nodes 3 --billing-url https://127.0.0.1:7080 --tenant t-123
  aerolith cluster create shop --cloud aws --region eu-west-1 --nodes 3 --dry-run
  aerolith cluster create shop --cloud gcp --project acme-prod --zone europe-west1-b --nodes 3 --dry-run`,
		Args: argsBetween(1, 1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.spec.Name = args[0]
			o.spec.Cloud = provisioner.Cloud(cloud)
			if err := p.f.resolve(); err != nil {
				return err
			}
			return runCreate(cmd.Context(), m, p, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cloud, "cloud", string(provisioner.Local), "where the nodes run: local, aws, gcp or azure")
	fl.IntVar(&o.spec.Nodes, "nodes", 3, "number of nodes: 1, 3, 5 or 7")
	fl.StringVar(&o.spec.Region, "region", "", "region (aws; gcp: the zone's region, env CLOUDSDK_COMPUTE_REGION)")
	fl.StringVar(&o.spec.Zone, "zone", "", "zone (gcp, env CLOUDSDK_COMPUTE_ZONE; aws: availability zone, optional)")
	fl.StringVar(&o.spec.InstanceType, "instance-type", "", "instance type (aws; default t3.medium)")
	fl.IntVar(&o.spec.DiskGB, "disk-gb", 0, "data disk per node in GiB (aws; default 20)")
	fl.StringVar(&o.spec.Image, "image", "", "machine image (aws: an AMI id)")
	fl.StringVar(&o.project, "project", "", "GCP project id (gcp; env GOOGLE_CLOUD_PROJECT or CLOUDSDK_CORE_PROJECT)")
	fl.StringVar(&o.endpoint, "endpoint", "", "the cloud API's endpoint URL (aws: e.g. a local aerolith cloudsim serve)")
	fl.StringSliceVar(&o.spec.AllowedCIDRs, "allowed-cidr", nil, "CIDR allowed to reach the data API (repeatable; aws)")
	fl.StringArrayVar(&o.tags, "tag", nil, "tag key=value put on every resource (repeatable)")
	fl.StringVar(&o.spec.Agent.URL, "agent-url", "", "URL of the aerolith binary the nodes run (default for local: this binary)")
	fl.StringVar(&o.spec.Agent.SHA256, "agent-sha256", "", "SHA-256 of the binary at --agent-url (hex)")
	fl.StringArrayVar(&o.agentSettings, "agent-setting", nil, "extra agent option key=value for every node, e.g. meter-window=1s (repeatable)")
	fl.BoolVar(&o.insecureHTTP, "insecure-http", false, "nodes serve plain HTTP instead of TLS (certificates from the cluster's local CA; on a cloud, from billing through the enrollment token)")
	fl.BoolVar(&o.dryRun, "dry-run", false, "print the plan and change nothing")
	fl.StringVar(&o.billingURL, "billing-url", "", "register the cluster in this billing service and enroll its nodes (env AEROLITH_BILLING_URL is not used: managed is explicit)")
	fl.StringVar(&o.billingKey, "billing-key", "", "billing admin key (env AEROLITH_BILLING_KEY)")
	fl.StringVar(&o.billingCAFile, "billing-ca-file", "", "CA bundle (PEM) billing's certificate is verified with")
	fl.StringArrayVar(&o.tenants, "tenant", nil, "tenant id the cluster serves (repeatable; with --billing-url)")
	fl.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long to wait for the cluster to be formed")
	o.azure.register(fl)
	return cmd
}

func parseKV(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Errorf("--%s %q: want key=value", flag, kv)}
		}
		out[k] = v
	}
	return out, nil
}

func runCreate(ctx context.Context, m *Main, p *provisionFlags, o *createOptions) error {
	spec := &o.spec
	if spec.Cloud != provisioner.Local && spec.Cloud != provisioner.AWS && spec.Cloud != provisioner.GCP && spec.Cloud != provisioner.Azure {
		return usageError{fmt.Errorf("--cloud %s: this command drives local, aws, gcp and azure clusters", spec.Cloud)}
	}
	az, err := o.azure.resolve(spec)
	if err != nil {
		return err
	}
	if spec.Cloud == provisioner.GCP {
		if err := resolveGCP(ctx, o); err != nil {
			return err
		}
	}
	if spec.Cloud != provisioner.Local && o.endpoint == "" && (spec.Agent.URL == "" || spec.Agent.SHA256 == "") {
		return usageError{fmt.Errorf("--agent-url and --agent-sha256: required for --cloud %s (its nodes download the agent from that URL and check its digest before running it)", spec.Cloud)}
	}
	if spec.Tags, err = parseKV("tag", o.tags); err != nil {
		return err
	}
	settings, err := parseKV("agent-setting", o.agentSettings)
	if err != nil {
		return err
	}
	for k := range settings {
		switch k {
		case "node-id", "data-dir", "admin-key", "join", "bootstrap-expect", "http-addr", "raft-addr", "advertise", "billing-url", "enrollment-token":
			return usageError{fmt.Errorf("--agent-setting %s: set by the provisioner; remove it", k)}
		}
	}
	if spec.Agent.URL == "" && (spec.Cloud == provisioner.Local || o.endpoint != "") {
		// This binary, as a file: a local node, or a node of a simulated
		// cloud on this machine, runs it after checking its digest.
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		sum, err := local.FileSHA256(exe)
		if err != nil {
			return fmt.Errorf("hash %s: %w", exe, err)
		}
		spec.Agent = provisioner.Artifact{URL: "file://" + exe, SHA256: sum}
	}
	if o.billingURL == "" && len(o.tenants) > 0 {
		return usageError{errors.New("--tenant: needs --billing-url (the tenants are billing's)")}
	}
	if o.billingURL != "" && len(o.tenants) == 0 {
		return usageError{errors.New("--billing-url: name at least one --tenant the cluster serves")}
	}
	if o.billingURL != "" {
		// Validated now with placeholders; the real id and token come from billing.
		spec.Managed = &provisioner.Managed{BillingURL: o.billingURL, ClusterID: "pending", EnrollmentToken: "pending"}
	}
	spec.Defaults()
	if err := spec.Validate(); err != nil {
		return usageError{err}
	}
	store := p.store()
	progress := newProgress(m.Stderr)
	progress.local = spec.Cloud == provisioner.Local
	if spec.Cloud != provisioner.Local && spec.Managed == nil && !o.insecureHTTP {
		// Refused before anything is made: nobody could issue the nodes'
		// certificates.
		return usageError{fmt.Errorf("--cloud %s: the nodes get their certificates from billing (--billing-url and --tenant); without billing, choose --insecure-http explicitly", spec.Cloud)}
	}
	if o.dryRun {
		rec := &deployment.Record{Spec: *spec, Endpoint: o.endpoint, Project: o.project, InsecureHTTP: o.insecureHTTP, Azure: az}
		env, err := newClusterEnv(ctx, store, rec, &deployment.Secrets{}, progress.event)
		if err != nil {
			return err
		}
		plan, err := env.Prov.Plan(ctx, spec)
		if err != nil {
			return err
		}
		return printPlan(m.Stdout, p.f.json(), plan)
	}
	var bc *billingclient.Client
	if o.billingURL != "" {
		if bc, err = newBillingAdmin(o.billingURL, o.billingKey, o.billingCAFile); err != nil {
			return err
		}
	}
	unlock, err := store.Lock(spec.Name)
	if err != nil {
		return err
	}
	defer unlock()
	create := deployment.Create{Record: deployment.Record{Spec: *spec, Endpoint: o.endpoint, Project: o.project, InsecureHTTP: o.insecureHTTP, Tenants: o.tenants, AgentSettings: settings, Azure: az}}
	if bc != nil {
		create.Billing = bc
		create.Registration = deployment.Registration{BillingURL: o.billingURL, Tenants: o.tenants}
		if o.billingCAFile != "" {
			b, err := os.ReadFile(o.billingCAFile)
			if err != nil {
				return err
			}
			create.Registration.BillingCA = string(b)
		}
	}
	env, resumed, err := store.Begin(ctx, create, func(rec *deployment.Record, sec *deployment.Secrets) (*deployment.Env, error) {
		return newClusterEnv(ctx, store, rec, sec, progress.event)
	})
	if errors.Is(err, deployment.ErrExists) {
		return usageError{fmt.Errorf("%w; aerolith cluster scale changes its size, destroy removes it", err)}
	}
	if err != nil {
		return err
	}
	if resumed {
		// A rerun (after an interrupted create): the same cluster, resumed.
		progress.line("cluster %s exists in %s: resuming its creation", spec.Name, store.ClustersDir())
	}
	return applyAndReport(ctx, m, p, env, o.timeout, progress)
}

// newClusterEnv builds what acting on rec's cluster needs; local
// instances run as this binary's hidden local-instance command.
func newClusterEnv(ctx context.Context, store deployment.Store, rec *deployment.Record, sec *deployment.Secrets, onEvent func(provisioner.Event)) (*deployment.Env, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	env, err := deployment.New(ctx, deployment.Config{Store: store, Record: rec, Secrets: sec, OnEvent: onEvent, UserAgent: "aerolith-cli",
		LocalCommand: []string{exe, localInstanceCommand}})
	var unsupported deployment.UnsupportedCloudError
	if errors.As(err, &unsupported) {
		return nil, usageError{fmt.Errorf("--cloud %s: this command drives local, aws and gcp clusters", rec.Spec.Cloud)}
	}
	return env, err
}

func newBillingAdmin(url, key, caFile string) (*billingclient.Client, error) {
	if key == "" {
		key = os.Getenv("AEROLITH_BILLING_KEY")
	}
	if key == "" {
		return nil, usageError{errors.New("--billing-key: the billing admin key is required with --billing-url (or AEROLITH_BILLING_KEY)")}
	}
	hc, err := httpClient(&clientopts.Options{CAFile: caFile}, url, "billing-url", "https://127.0.0.1:7080", client.NewTransport())
	if err != nil {
		return nil, err
	}
	return billingclient.New(billingclient.Config{URL: url, Key: key, HTTPClient: hc, UserAgent: "aerolith-cli"})
}

// applyAndReport converges the cloud to env's spec, waits until the
// cluster is formed and prints it.
func applyAndReport(ctx context.Context, m *Main, p *provisionFlags, env *deployment.Env, timeout time.Duration, progress *progress) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	spec := &env.Rec.Spec
	if _, err := env.Converge(ctx, func(s string) { progress.line("%s", s) }); err != nil {
		if errors.Is(err, local.ErrCrashLoop) {
			// A rerun resumes with the same settings: it would crash again.
			return fmt.Errorf("%w; its nodes keep restarting the agent: fix the setting, then aerolith cluster destroy %s --yes (with --billing-key if it is registered in billing) and create it again", err, spec.Name)
		}
		return err
	}
	progress.line("cluster %s is healthy (%d nodes)", spec.Name, spec.Nodes)
	return printShow(ctx, m.Stdout, p, env)
}

func newClusterListCommand(m *Main, p *provisionFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the clusters this CLI made (in --state-dir) and their running nodes",
		Args:  argsBetween(0, 0, "(none)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := p.f.resolve(); err != nil {
				return err
			}
			store := p.store()
			names, err := store.Names()
			if err != nil {
				return err
			}
			type row struct {
				Name    string `json:"name"`
				Cloud   string `json:"cloud"`
				Nodes   int    `json:"nodes"`
				Running int    `json:"running"`
				Managed bool   `json:"managed"`
				Error   string `json:"error,omitempty"`
			}
			rows := []row{}
			for _, n := range names {
				rec, sec, err := store.Load(n)
				if err != nil {
					rows = append(rows, row{Name: n, Error: err.Error()})
					continue
				}
				r := row{Name: n, Cloud: string(rec.Spec.Cloud), Nodes: rec.Spec.Nodes, Managed: rec.Spec.Managed != nil}
				if env, err := newClusterEnv(cmd.Context(), store, rec, sec, nil); err != nil {
					r.Error = err.Error()
				} else if st, err := env.Prov.Read(cmd.Context(), &rec.Spec); err != nil && !errors.Is(err, provisioner.ErrNotFound) {
					r.Error = err.Error()
				} else if st != nil {
					for _, in := range st.Nodes {
						if in.State == provisioner.Running {
							r.Running++
						}
					}
				}
				rows = append(rows, r)
			}
			if p.f.json() {
				return writeJSON(m.Stdout, rows)
			}
			tw := newTable(m.Stdout)
			fmt.Fprintln(tw, "NAME\tCLOUD\tNODES\tRUNNING\tMANAGED\tERROR")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", r.Name, orDash(r.Cloud), r.Nodes, r.Running, yesNo(r.Managed), orDash(r.Error))
			}
			return tw.Flush()
		},
	}
}

func newClusterShowCommand(m *Main, p *provisionFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a cluster this CLI made: its nodes as the cloud reports them, drift, leader, how to connect",
		Args:  argsBetween(1, 1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := p.f.resolve(); err != nil {
				return err
			}
			rec, sec, err := p.store().Load(args[0])
			if err != nil {
				return err
			}
			env, err := newClusterEnv(cmd.Context(), p.store(), rec, sec, nil)
			if err != nil {
				return err
			}
			return printShow(cmd.Context(), m.Stdout, p, env)
		},
	}
}

func newClusterScaleCommand(m *Main, p *provisionFlags) *cobra.Command {
	var nodes int
	var timeout time.Duration
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "scale NAME --nodes N",
		Short: "Change a cluster's number of nodes (added nodes join; removed ones leave raft before they stop)",
		Args:  argsBetween(1, 1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := p.f.resolve(); err != nil {
				return err
			}
			store := p.store()
			unlock, err := store.Lock(args[0])
			if err != nil {
				return err
			}
			defer unlock()
			rec, sec, err := store.Load(args[0])
			if err != nil {
				return err
			}
			rec.Spec.Nodes = nodes
			if err := rec.Spec.Validate(); err != nil {
				return usageError{err}
			}
			progress := newProgress(m.Stderr)
			progress.local = rec.Spec.Cloud == provisioner.Local
			env, err := newClusterEnv(cmd.Context(), store, rec, sec, progress.event)
			if err != nil {
				return err
			}
			if dryRun {
				plan, err := env.Prov.Plan(cmd.Context(), &rec.Spec)
				if err != nil {
					return err
				}
				return printPlan(m.Stdout, p.f.json(), plan)
			}
			// Saved first: a scale interrupted and rerun, or a show in
			// between, works towards the new size.
			if err := store.Save(rec, sec); err != nil {
				return err
			}
			return applyAndReport(cmd.Context(), m, p, env, timeout, progress)
		},
	}
	cmd.Flags().IntVar(&nodes, "nodes", 0, "the new number of nodes: 1, 3, 5 or 7")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the cluster to be formed again")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	cmd.MarkFlagRequired("nodes")
	return cmd
}

func newClusterDestroyCommand(m *Main, p *provisionFlags) *cobra.Command {
	var yes bool
	var billingKey string
	cmd := &cobra.Command{
		Use:   "destroy NAME",
		Short: "Destroy a cluster: stop and delete every node and its data",
		Args:  argsBetween(1, 1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := p.f.resolve(); err != nil {
				return err
			}
			name := args[0]
			store := p.store()
			unlock, err := store.Lock(name)
			if err != nil {
				return err
			}
			defer unlock()
			rec, sec, err := store.Load(name)
			if err != nil {
				return err
			}
			var bc *billingclient.Client
			if mg := rec.Spec.Managed; mg != nil {
				// Checked before anything is destroyed.
				caFile := ""
				if mg.BillingCA != "" {
					caFile = filepath.Join(store.FilesDir(name), "billing-ca.crt")
					if err := os.MkdirAll(filepath.Dir(caFile), 0o700); err != nil {
						return err
					}
					if err := os.WriteFile(caFile, []byte(mg.BillingCA), 0o644); err != nil {
						return err
					}
				}
				if bc, err = newBillingAdmin(mg.BillingURL, billingKey, caFile); err != nil {
					return err
				}
			}
			if err := m.confirm(yes, fmt.Sprintf("destroy cluster %s: its %d nodes and all their data", name, rec.Spec.Nodes), name); err != nil {
				return err
			}
			progress := newProgress(m.Stderr)
			progress.local = rec.Spec.Cloud == provisioner.Local
			env, err := newClusterEnv(cmd.Context(), store, rec, sec, progress.event)
			if err != nil {
				return err
			}
			if err := env.Prov.Destroy(cmd.Context(), &rec.Spec); err != nil {
				return err
			}
			if bc != nil {
				// After the nodes: none of them sends usage any more once
				// the token stops working.
				mg := rec.Spec.Managed
				if err := bc.DeregisterCluster(cmd.Context(), mg.ClusterID); err != nil && !billingclient.IsNotFound(err) {
					return fmt.Errorf("deregister %s (%s) from billing: %w; the nodes are gone, rerun destroy to retry", name, mg.ClusterID, err)
				}
				progress.line("deregistered %s from billing", mg.ClusterID)
			}
			if err := store.Remove(name); err != nil {
				return err
			}
			progress.line("destroyed %s", name)
			if p.f.json() {
				return writeJSON(m.Stdout, map[string]any{"cluster": name, "destroyed": true})
			}
			_, err = fmt.Fprintf(m.Stdout, "destroyed %s\n", name)
			return err
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	cmd.Flags().StringVar(&billingKey, "billing-key", "", "billing admin key, to deregister a managed cluster (env AEROLITH_BILLING_KEY)")
	return cmd
}

func printPlan(w io.Writer, asJSON bool, plan *provisioner.Plan) error {
	if asJSON {
		if plan.Actions == nil {
			plan.Actions = []provisioner.Action{}
		}
		return writeJSON(w, plan)
	}
	if plan.Empty() {
		_, err := fmt.Fprintf(w, "cluster %s: nothing to do\n", plan.Cluster)
		return err
	}
	fmt.Fprintf(w, "plan for cluster %s:\n", plan.Cluster)
	for i, a := range plan.Actions {
		fmt.Fprintf(w, "  %d. %s\n", i+1, a)
	}
	return nil
}
