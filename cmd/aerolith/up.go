package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/agent/client"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/apiclient"
	"github.com/aerolithdb/aerolith/provisioner/local"
)

// upConfig is what `aerolith up` was asked to do.
type upConfig struct {
	nodes          int
	basePort       int
	billingPort    int
	meterWindow    time.Duration
	dataDir        string
	exitAfterReady bool
	readyTimeout   time.Duration
	stopTimeout    time.Duration
	logLevel       string
	insecureHTTP   bool
}

// newUpCommand builds `aerolith up`: a local cluster of agent processes.
func newUpCommand(m *Main) *cobra.Command {
	cfg := upConfig{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a local managed cluster: billing and N agent processes on 127.0.0.1, a demo tenant with sample data",
		Long: `Start a local Aerolith deployment on 127.0.0.1: the billing service and a
cluster of --nodes agent processes managed by it.

Billing serves HTTP on --billing-port (default 7080) and raft on the port
after it, under its own generated admin key. It runs a demo billing cycle: a
draft invoice for every ` + upBillingPeriod + ` period, finalized a day later.

TLS is on by default: up creates a CA for the deployment (<data-dir>/` + upCADir + `,
kept with --data-dir), issues a node certificate to every agent and a server
certificate to billing (for 127.0.0.1 and localhost) under <data-dir>/` + upCertsDir + `,
and everything serves HTTPS (raft between the agents with mutual TLS). Point
the CLI at the CA with AEROLITH_CA_FILE (printed at the end).
--insecure-http runs everything in plain text instead.

Node i (1-based) serves HTTP on --base-port+2(i-1) and raft on the port after
it: with the default base port 7070, node1 is 7070/7071, node2 7072/7073 and
node3 7074/7075. The agents form one cluster (--bootstrap-expect N --join
<their raft addresses>) under a generated admin key.

up creates the tenant "` + upTenantName + `" on the ` + upTenantTier + ` tier in billing, registers the cluster
for it and starts the agents with the cluster's enrollment token, so they
enforce the tenant's quotas and meter its usage into billing (windows of
--meter-window). Once every node is ready (leader elected, policy fetched),
up creates a readwrite API key for the tenant, writes a few sample documents
into its "demo" collection with that key (each only when absent, so a rerun
keeps your edits), runs a query and prints the
endpoints, the keys and the commands that show the tenant's usage and
invoices.

Without --data-dir, everything lives in a temporary directory, removed when
you stop up; when a process failed or up did, it is kept (and named) for its
logs. With --data-dir, the data, the admin keys (<data-dir>/admin-key,
<data-dir>/billing-admin-key), the demo tenant, cluster and tenant key
(<data-dir>/` + upStateFile + `) and the logs (<data-dir>/nodeN.log,
<data-dir>/billing.log) are kept, and a later run with the same directory
restarts the same deployment.

The agents run as instances of the provisioner's local driver, as the nodes
of 'aerolith cluster create --cloud local' do: each is an 'aerolith
local-instance' process that boots its agent from cloud-init user data (the
same renderer as every cloud's) and supervises it; their files are in
<data-dir>/` + upCluster + `. They are tied to up: if up dies, they stop.

up then runs until Ctrl-C or SIGTERM. A process that exits meanwhile is
restarted (an agent by its instance, billing by up), after ` + upRestartPolicy.InitialBackoff.String() + `
and then backing off up to ` + upRestartPolicy.MaxBackoff.String() + ` while it keeps crashing; up says on
stderr which process exited, how, where its log is and when it restarts,
and gives up (loudly, keeping the others running) after ` + strconv.Itoa(upRestartPolicy.MaxRestarts) + ` restarts in a
row, each run shorter than ` + upRestartPolicy.ResetAfter.String() + `. Ctrl-C stops the agents' instances,
keeping them (a later run with the same --data-dir starts the same
instances: the same nodes and data), then billing (SIGTERM, then SIGKILL
after --stop-timeout). --exit-after-ready stops them right after the demo
instead (for scripts and CI).`,
		Example: `  aerolith up
  aerolith up --data-dir ./aerolith-data --base-port 9000
  aerolith up --exit-after-ready`,
		Args: argsBetween(0, 0, "(none)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.validate(); err != nil {
				return usageError{err}
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the aerolith binary to run agents: %w", err)
			}
			return runUp(cmd.Context(), m, cfg, exe)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&cfg.nodes, "nodes", 3, "number of agents")
	fl.IntVar(&cfg.basePort, "base-port", 7070, "HTTP port of node1; node i uses base+2(i-1) for HTTP and the next port for raft")
	fl.IntVar(&cfg.billingPort, "billing-port", 7080, "HTTP port of the billing service; its raft port is the next one")
	fl.DurationVar(&cfg.meterWindow, "meter-window", 10*time.Second, "agents' metering window: usage reaches billing this often")
	fl.StringVar(&cfg.dataDir, "data-dir", "", "keep data, admin key and logs here across runs (default: a temporary directory removed on a clean stop)")
	fl.BoolVar(&cfg.exitAfterReady, "exit-after-ready", false, "stop the cluster and exit once it is ready and the demo ran")
	fl.DurationVar(&cfg.readyTimeout, "ready-timeout", 60*time.Second, "how long to wait for every node to be ready and a leader elected")
	fl.DurationVar(&cfg.stopTimeout, "stop-timeout", 15*time.Second, "how long each agent gets to stop after SIGTERM before SIGKILL")
	fl.StringVar(&cfg.logLevel, "log-level", "info", "agents' log level: debug, info, warn or error")
	fl.BoolVar(&cfg.insecureHTTP, "insecure-http", false, "serve plain HTTP and raft without TLS (default: TLS with a CA created under the data directory)")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	return cmd
}

func (c upConfig) validate() error {
	switch {
	case c.nodes < 1 || c.nodes > 9:
		return fmt.Errorf("--nodes: must be between 1 and 9, got %d", c.nodes)
	case c.basePort < 1 || c.basePort+2*c.nodes-1 > 65535:
		return fmt.Errorf("--base-port: %d leaves no room for %d ports", c.basePort, 2*c.nodes)
	case c.billingPort < 1 || c.billingPort+1 > 65535:
		return fmt.Errorf("--billing-port: %d leaves no room for 2 ports", c.billingPort)
	case c.billingPort+1 >= c.basePort && c.billingPort <= c.basePort+2*c.nodes-1:
		return fmt.Errorf("--billing-port: ports %d-%d overlap the agents' %d-%d; pick another --billing-port or --base-port", c.billingPort, c.billingPort+1, c.basePort, c.basePort+2*c.nodes-1)
	case c.meterWindow < time.Second:
		return fmt.Errorf("--meter-window: %s is too short; use 1s or more", c.meterWindow)
	case c.readyTimeout <= 0:
		return errors.New("--ready-timeout: must be positive")
	case c.stopTimeout <= 0:
		return errors.New("--stop-timeout: must be positive")
	}
	switch c.logLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level: unknown level %q: want debug, info, warn or error", c.logLevel)
	}
	return nil
}

// runUp runs the whole quickstart; see newUpCommand.
func runUp(ctx context.Context, m *Main, cfg upConfig, exe string) (err error) {
	nodes := planNodes(cfg)
	// A second up on a --data-dir in use would also find the ports taken;
	// say what is really wrong first.
	var unlock func()
	if cfg.dataDir != "" {
		if _, serr := os.Stat(cfg.dataDir); serr == nil {
			if unlock, err = lockUpDir(cfg.dataDir); err != nil {
				return err
			}
			defer unlock()
		}
	}
	// Fail fast, before creating anything, when a port is taken.
	for _, n := range nodes {
		if err := checkPortsFree(n); err != nil {
			return err
		}
	}
	if err := checkPortsFree(&localNode{id: "billing", httpAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.billingPort)),
		raftAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.billingPort+1))}); err != nil {
		return err
	}

	dir, keep := cfg.dataDir, true
	var watch *upWatch
	if dir == "" {
		if dir, err = os.MkdirTemp("", "aerolith-up-"); err != nil {
			return err
		}
		keep = false
		defer func() {
			// The temporary directory goes only after a clean stop the
			// user asked for: after a failure or a crash it holds the logs
			// the messages pointed to.
			var crashed []string
			if watch != nil {
				crashed = watch.crashes()
			}
			if err == nil && len(crashed) == 0 {
				if rerr := os.RemoveAll(dir); rerr != nil {
					err = fmt.Errorf("remove %s: %w", dir, rerr)
				}
				return
			}
			why := "up failed"
			if err == nil {
				why = strings.Join(slices.Compact(slices.Sorted(slices.Values(crashed))), ", ") + " exited unexpectedly during the run"
			}
			fmt.Fprintf(m.Stderr, "aerolith up: kept %s with the data and logs (%s); remove it when done\n", dir, why)
		}()
	} else if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if keep && unlock == nil {
		if unlock, err = lockUpDir(dir); err != nil {
			return err
		}
		defer unlock()
	}
	key, reused, err := adminKey(filepath.Join(dir, "admin-key"))
	if err != nil {
		return err
	}
	billingKey, _, err := adminKey(filepath.Join(dir, "billing-admin-key"))
	if err != nil {
		return err
	}
	state, haveState, err := loadUpState(dir)
	if err != nil {
		return err
	}
	var certs *upTLS // nil: plain HTTP
	if !cfg.insecureHTTP {
		if certs, err = setUpTLS(dir); err != nil {
			return err
		}
	}

	bn := planBilling(cfg, dir)
	// Billing stops after the agents: they flush their usage to it.
	b := &localCluster{exe: exe, dir: dir, key: billingKey, nodes: []*localNode{bn}, logLevel: cfg.logLevel, stderr: m.Stderr, exited: make(chan struct{})}
	c := &localCluster{exe: exe, dir: dir, key: key, nodes: nodes, logLevel: cfg.logLevel, stderr: m.Stderr, exited: make(chan struct{})}
	if err := certs.certFlags(b); err != nil {
		return err
	}
	agents, err := newUpAgents(c, cfg)
	if err != nil {
		return err
	}
	runCtx, endRun := context.WithCancel(context.WithoutCancel(ctx))
	defer endRun()
	watch = &upWatch{out: m.Stderr, agents: c, billing: b, ctx: runCtx, readyTimeout: cfg.readyTimeout}
	sup := local.New(local.Config{StopTimeout: cfg.stopTimeout, OnEvent: watch.event})
	stopAll := func() error {
		endRun()
		fmt.Fprintln(m.Stdout, "Stopping agents, then billing...")
		// The agents stop first: they flush their usage to billing.
		err := errors.Join(agents.stop(), watch.stopProblems(), sup.Stop(context.Background()))
		watch.probes.Wait()
		if err != nil {
			return fmt.Errorf("processes did not stop cleanly: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		fmt.Fprintln(m.Stdout, "Stopped.")
		return nil
	}
	// failed stops the processes after err and returns err, plus any that
	// had to be killed; when ctx was cancelled (Ctrl-C while starting) a
	// clean stop is success.
	failed := func(err error) error {
		stopErr := stopAll()
		if ctx.Err() != nil {
			return stopErr
		}
		if stopErr != nil {
			return fmt.Errorf("%w; %v", err, stopErr)
		}
		return err
	}

	if err := agents.prepare(ctx, watch.event); err != nil {
		return failed(err)
	}
	// Billing first: the agents enroll with it.
	fmt.Fprintf(m.Stdout, "Starting billing and %d agents (data in %s)...\n", len(nodes), dir)
	if err := b.start(sup); err != nil {
		return failed(err)
	}
	admin, err := billingclient.New(billingclient.Config{URL: billingURL(bn), Key: billingKey, UserAgent: "aerolith-up", HTTPClient: b.hc})
	if err != nil {
		return failed(err)
	}
	readyCtx, cancel := context.WithTimeout(ctx, cfg.readyTimeout)
	defer cancel()
	if err := waitBilling(readyCtx, b, admin); err != nil {
		return failed(err)
	}
	state, tenantReused, err := setUpTenant(readyCtx, admin, state, haveState)
	if err != nil {
		return failed(err)
	}
	if err := saveUpState(dir, state); err != nil {
		return failed(err)
	}

	agents.configure(billingURL(bn), state.EnrollmentToken, cfg.meterWindow)
	for _, n := range c.nodes {
		n.scheme = certs.scheme()
	}
	c.hc = certs.httpClient()
	if err := agents.start(readyCtx, certs); err != nil {
		return failed(err)
	}
	status, err := c.waitReady(readyCtx)
	if err != nil {
		return failed(err)
	}
	// From here on the supervisor restarts a process that exits; an exit
	// reported before this point still fails the start.
	watch.startedUp()
	agents.watchInstances(runCtx, watch)
	for _, g := range []*localCluster{b, c} {
		select {
		case <-g.exited:
			g.printLogTail(g.exit.node)
			return failed(fmt.Errorf("%s exited while starting (%s); its log: %s", g.exit.node.id, local.ExitReason(g.exit.err), g.exit.node.logPath))
		default:
		}
	}
	state, keyReused, err := tenantKey(readyCtx, c, state)
	if err != nil {
		return failed(err)
	}
	if err := saveUpState(dir, state); err != nil {
		return failed(err)
	}
	cancel()

	printUpBanner(m.Stdout, c, b, status, upKeys{admin: key, adminReused: reused, billing: billingKey, state: state, tenantReused: tenantReused, keyReused: keyReused, meterWindow: cfg.meterWindow, caFile: certs.caFileOrEmpty()}, keep)
	if err := runDemo(ctx, m.Stdout, c, state.TenantKey); err != nil {
		return failed(fmt.Errorf("write demo data: %w", err))
	}

	if cfg.exitAfterReady {
		return stopAll()
	}
	fmt.Fprintln(m.Stdout, "\nThe cluster runs until Ctrl-C. up restarts a process that exits and says so here.")
	<-ctx.Done()
	return stopAll()
}

// adminKey reads the key stored at path or generates and stores a new one.
func adminKey(path string) (key string, reused bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key = strings.TrimSpace(string(b))
		if key == "" {
			return "", false, fmt.Errorf("%s is empty: delete it to generate a new admin key", path)
		}
		return key, true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", false, err
	}
	key = hex.EncodeToString(raw[:])
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return key, false, nil
}

// upKeys are the credentials the banner shows.
type upKeys struct {
	admin        string
	adminReused  bool
	billing      string
	state        upState
	tenantReused bool // tenant and cluster from the state file
	keyReused    bool // tenant key from the state file
	meterWindow  time.Duration
	caFile       string // the CA bundle clients need; "" without TLS
}

func printUpBanner(w io.Writer, c, b *localCluster, st *client.ClusterStatus, k upKeys, keep bool) {
	fmt.Fprintf(w, "\nAerolith is up: %d nodes, leader %s (term %d), managed by billing.\n\n", len(c.nodes), st.LeaderID, st.Term)
	tw := newTable(w)
	fmt.Fprintln(tw, "NODE\tHTTP\tRAFT\tLOG")
	for _, n := range c.nodes {
		mark := ""
		if n.id == st.LeaderID {
			mark = " (leader)"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\n", n.id, mark, n.baseURL(), n.raftAddr, n.logPath)
	}
	bn := b.nodes[0]
	fmt.Fprintf(tw, "billing\t%s\t%s\t%s\n", billingURL(bn), bn.raftAddr, bn.logPath)
	tw.Flush()
	how := "generated"
	if k.adminReused {
		how = "reused from " + filepath.Join(c.dir, "admin-key")
	}
	reuse := func(reused bool) string {
		if reused {
			return "reused"
		}
		return "new"
	}
	fmt.Fprintf(w, "\nAdmin key (%s): %s\n", how, k.admin)
	fmt.Fprintf(w, "Billing admin key: %s\n", k.billing)
	fmt.Fprintf(w, "Tenant %q (%s, tier %s): %s, cluster %s\n", upTenantName, reuse(k.tenantReused), upTenantTier, k.state.TenantID, k.state.ClusterID)
	fmt.Fprintf(w, "Tenant key (%s, readwrite): %s\n", reuse(k.keyReused), k.state.TenantKey)
	if keep {
		fmt.Fprintf(w, "Data, keys and logs are kept in %s; rerun with the same --data-dir to reuse them.\n", c.dir)
	} else {
		fmt.Fprintf(w, "Data lives in %s and is removed when you stop up (kept if a process failed; use --data-dir to keep it anyway).\n", c.dir)
	}
	if k.caFile != "" {
		fmt.Fprintf(w, "TLS: every endpoint serves HTTPS with certificates of the CA %s (raft between the agents: mutual TLS).\n", k.caFile)
	} else {
		fmt.Fprintln(w, "TLS: off (--insecure-http): keys and data travel in plain text.")
	}
	name := cliName(c.exe)
	fmt.Fprintf(w, "\nTry, as the tenant:\n")
	if k.caFile != "" {
		fmt.Fprintf(w, "  export AEROLITH_CA_FILE=%s\n", k.caFile)
	}
	fmt.Fprintf(w, "  export AEROLITH_URL=%s AEROLITH_KEY=%s\n", c.url(), k.state.TenantKey)
	fmt.Fprintf(w, "  %s doc list demo\n", name)
	fmt.Fprintf(w, "  %s doc query demo --filter '{\"city\":\"Oslo\"}' --explain\n", name)
	fmt.Fprintf(w, "As the cluster admin (the key, cluster and meter commands read %s, not %s):\n", envAdminKey, envKey)
	fmt.Fprintf(w, "  export %s=%s\n", envAdminKey, k.admin)
	fmt.Fprintf(w, "  %s cluster status\n", name)
	fmt.Fprintf(w, "  %s key list --tenant %s\n", name, k.state.TenantID)
	fmt.Fprintf(w, "Usage and invoices (usage reaches billing every %s; a draft invoice is made for every %s period):\n", k.meterWindow, upBillingPeriod)
	fmt.Fprintf(w, "  %s usage show %s --billing-url %s --key %s\n", name, k.state.TenantID, billingURL(bn), k.billing)
	fmt.Fprintf(w, "  %s invoice list --tenant %s --status draft --billing-url %s --key %s\n", name, k.state.TenantID, billingURL(bn), k.billing)
}

// cliName is how the user can call this binary: "aerolith" when that is
// what PATH finds, else its path (relative when under the working directory).
func cliName(exe string) string {
	if found, err := exec.LookPath("aerolith"); err == nil {
		a, errA := os.Stat(found)
		b, errB := os.Stat(exe)
		if errA == nil && errB == nil && os.SameFile(a, b) {
			return "aerolith"
		}
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, exe); err == nil && !strings.HasPrefix(rel, "..") {
			return "." + string(filepath.Separator) + rel
		}
	}
	return exe
}

// demoDocs are written into the demo collection by up.
var demoDocs = []struct {
	id   string
	data map[string]any
}{
	{"ada", map[string]any{"name": "Ada Lovelace", "age": 36, "city": "London", "langs": []string{"analytical engine"}}},
	{"grace", map[string]any{"name": "Grace Hopper", "age": 85, "city": "Arlington", "langs": []string{"COBOL"}}},
	{"ken", map[string]any{"name": "Ken Thompson", "age": 82, "city": "Berkeley", "langs": []string{"B", "Go"}}},
	{"kristen", map[string]any{"name": "Kristen Nygaard", "age": 75, "city": "Oslo", "langs": []string{"Simula"}}},
	{"ole", map[string]any{"name": "Ole-Johan Dahl", "age": 70, "city": "Oslo", "langs": []string{"Simula"}}},
}

// runDemo writes the sample documents with the tenant's key, each only
// when absent (If-None-Match: *) so a rerun with --data-dir keeps the
// user's edits, indexes "city" and prints a query.
func runDemo(ctx context.Context, w io.Writer, c *localCluster, key string) error {
	api, err := apiclient.New(apiclient.Config{URL: c.url(), Key: key, UserAgent: "aerolith-up", HTTPClient: c.hc})
	if err != nil {
		return err
	}
	wrote := 0
	for _, d := range demoDocs {
		req, err := apiclient.NewRequest(http.MethodPut, "/api/v1/collections/demo/documents/"+url.PathEscape(d.id), map[string]any{"data": d.data})
		if err != nil {
			return err
		}
		req.Header.Set("If-None-Match", "*")
		// A resend after a lost answer finds the document there, which is
		// what this write wants anyway.
		req.Idempotent = true
		_, err = api.Call(ctx, req, nil)
		switch {
		case err == nil:
			wrote++
		// The server answers an existing document with 412 (RFC 9110),
		// older servers with 409.
		case client.IsPreconditionFailed(err) || client.IsConflict(err):
		default:
			return fmt.Errorf("demo/%s: %w", d.id, err)
		}
	}
	cl, err := client.New(client.Config{URL: c.url(), Key: key, UserAgent: "aerolith-up", HTTPClient: c.hc})
	if err != nil {
		return err
	}
	if err := demoIndex(ctx, c, key, "demo", "city"); err != nil {
		return err
	}
	filter := json.RawMessage(`{"city":"Oslo"}`)
	sort := json.RawMessage(`{"age":-1}`)
	page, err := cl.Query(ctx, "demo", client.Query{Filter: filter, Sort: sort})
	if err != nil {
		return err
	}
	if kept := len(demoDocs) - wrote; kept > 0 {
		fmt.Fprintf(w, "\nWrote %d sample documents to collection \"demo\" (indexed on \"city\"); %d were there already and were left as they are.\n", wrote, kept)
	} else {
		fmt.Fprintf(w, "\nWrote %d sample documents to collection \"demo\" (indexed on \"city\").\n", wrote)
	}
	fmt.Fprintf(w, "aerolith doc query demo --filter '%s' --sort '%s':\n", filter, sort)
	return printPage(w, &clientFlags{output: outputTable}, page)
}
