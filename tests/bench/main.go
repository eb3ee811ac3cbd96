// Command bench is Aerolith's storage benchmark (`make bench`, or
// `go run ./tests/bench` from the repository root), followed by the A/B
// comparisons of ab.go (metering and quotas off/on, TLS and encryption at
// rest off/on). It builds the aerolith
// binary, starts a 3-node cluster of separate agent processes on loopback
// (fsync on, no TLS, --log-level warn), runs the etcd anchor's workloads with
// the same parameters — 8-byte sequential ids, 256-byte documents, 1 client
// putting total/10 documents, then 100 clients for puts, linearizable gets
// and stale gets — prints one line per workload in the anchor's format, stops
// the cluster, runs the etcd anchor (../shared/bench/etcd-anchor/run.sh) in
// the same invocation and prints the ratios ours/etcd.
//
// Clients spread their requests over the three nodes round-robin, request by
// request, as etcd's clientv3 balancer does; writes reaching a follower are
// forwarded to the leader by the agent, as etcd followers forward proposals.
// Connections: the anchor's 10 clientv3 clients each hold one HTTP/2
// connection per endpoint (10 per node) and multiplex all 100 clients'
// requests over them, so 100 requests are in flight. The agent speaks
// HTTP/1.1, one request at a time per keep-alive connection, so by default
// each node gets ceil(clients/3) connections (34 for 100 clients): the same
// 100 requests in flight as etcd. -conns-per-node 10 instead matches etcd's
// connection count, which caps Aerolith at 30 requests in flight.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/aerolithdb/aerolith/tests/proctest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// nodes is the cluster size, as in the anchor.
const nodes = 3

// options are the command-line flags.
type options struct {
	total        int
	clients      int
	connsPerNode int
	anchor       string
	noAnchor     bool
	out          string
	binary       string
	logLevel     string
	leaderOnly   bool
	// managedRounds and managedTotal size the A/B comparisons (ab.go:
	// metering and quotas, managed.go; TLS and encryption at rest,
	// secure.go); 0 rounds skips them. abOnly runs only these; only
	// selects one of them ("managed", "secure"; "" both).
	managedRounds int
	managedTotal  int
	abPairs       int // fresh pairs of clusters per A/B comparison
	abOnly        bool
	abWhich       string
	noEncrypt     bool
	pprofDir      string
	pprofFor      time.Duration
	pprofRound    int
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.total, "total", 50000, "requests per 100-client workload (the 1-client put runs total/10)")
	fs.IntVar(&o.clients, "clients", 100, "concurrent clients of the multi-client workloads")
	fs.IntVar(&o.connsPerNode, "conns-per-node", 0, "HTTP keep-alive connections per node for the multi-client workloads (0: ceil(clients/3), one per client)")
	fs.StringVar(&o.anchor, "anchor", "../shared/bench/etcd-anchor/run.sh", "etcd anchor script (relative to the current directory)")
	fs.BoolVar(&o.noAnchor, "no-anchor", false, "skip the etcd anchor run")
	fs.StringVar(&o.out, "out", "", "also write the results as JSON to this file")
	fs.StringVar(&o.binary, "binary", "", "use this aerolith binary instead of building one")
	fs.StringVar(&o.logLevel, "log-level", "warn", "agent --log-level")
	fs.BoolVar(&o.leaderOnly, "leader-only", false, "diagnostic: send every request to the leader instead of spreading over the nodes (not comparable with the anchor)")
	fs.IntVar(&o.managedRounds, "ab-rounds", 3, "rounds of each A/B comparison (put and get on two clusters side by side, alternating): metering and quotas off/on, TLS and encryption at rest off/on; 0 skips them")
	fs.IntVar(&o.abPairs, "ab-pairs", 3, "fresh pairs of clusters per A/B comparison; the rounds of every pair are pooled")
	fs.IntVar(&o.managedTotal, "ab-total", 0, "requests per workload, side and round of the A/B comparisons (0: half of -total)")
	fs.BoolVar(&o.abOnly, "ab-only", false, "run only the A/B comparisons (no storage workloads, no anchor)")
	fs.StringVar(&o.abWhich, "ab", "", "run only this A/B comparison: managed or secure (default both)")
	fs.StringVar(&o.pprofDir, "pprof-dir", "", "A/B comparisons: save CPU profiles of every agent during one round's workloads (of the first pair) into this directory")
	fs.IntVar(&o.pprofRound, "pprof-round", 1, "the round -pprof-dir profiles")
	fs.DurationVar(&o.pprofFor, "pprof-duration", 2*time.Second, "length of each -pprof-dir profile (keep it below the workload's duration)")
	fs.BoolVar(&o.noEncrypt, "secure-no-encryption", false, "secure comparison: TLS only, without encryption at rest")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case o.total < 10:
		return o, fmt.Errorf("-total: must be >= 10 (the 1-client put runs total/10), got %d", o.total)
	case o.clients < 1:
		return o, fmt.Errorf("-clients: must be >= 1, got %d", o.clients)
	case o.managedRounds < 0:
		return o, fmt.Errorf("-ab-rounds: must be >= 0, got %d", o.managedRounds)
	case o.abPairs < 1:
		return o, fmt.Errorf("-ab-pairs: must be >= 1, got %d", o.abPairs)
	case o.managedTotal < 0:
		return o, fmt.Errorf("-ab-total: must be >= 0 (0 = half of -total), got %d", o.managedTotal)
	case o.abWhich != "" && o.abWhich != "managed" && o.abWhich != "secure":
		return o, fmt.Errorf("-ab: want managed or secure, got %q", o.abWhich)
	case o.connsPerNode < 0:
		return o, fmt.Errorf("-conns-per-node: must be >= 0 (0 = one per client), got %d", o.connsPerNode)
	}
	if o.connsPerNode == 0 {
		o.connsPerNode = (o.clients + nodes - 1) / nodes
	}
	if o.managedTotal == 0 {
		o.managedTotal = max(o.total/2, 1)
	}
	return o, nil
}

// Report is what -out writes.
type Report struct {
	Date         time.Time `json:"date"`
	Total        int       `json:"total"`
	Nodes        int       `json:"nodes"`
	CPUs         int       `json:"cpus"`
	GOOS         string    `json:"goos"`
	GOARCH       string    `json:"goarch"`
	ConnsPerNode int       `json:"conns_per_node"`
	Balancing    string    `json:"balancing"`
	Aerolith     []Result  `json:"aerolith"`
	Etcd         []Result  `json:"etcd,omitempty"`
	Ratios       []Ratio   `json:"ratios,omitempty"`
	// Managed is the metering-and-quotas comparison (off/on per round)
	// and ABRatios its medians.
	Managed       []ABResult `json:"managed,omitempty"`
	ManagedRatios []ABRatio  `json:"managed_ratios,omitempty"`
	// Secure is the TLS-and-encryption-at-rest comparison.
	Secure       []ABResult `json:"secure,omitempty"`
	SecureRatios []ABRatio  `json:"secure_ratios,omitempty"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	rep := Report{
		Date: time.Now().UTC(), Total: o.total, Nodes: nodes, CPUs: runtime.NumCPU(),
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, ConnsPerNode: o.connsPerNode,
		Balancing: "round-robin over the 3 nodes per request (etcd clientv3 balancer); follower writes forwarded by the agent",
	}
	dir, err := os.MkdirTemp("", "aerolith-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := o.binary
	if bin == "" {
		fmt.Fprintln(stdout, "# building aerolith")
		if bin, err = proctest.BuildBinary(ctx, dir); err != nil {
			return err
		}
	}
	if !o.abOnly {
		rep.Aerolith, err = benchAerolith(ctx, o, bin, filepath.Join(dir, "storage"), stdout)
		if err != nil {
			return err
		}
	}
	if o.managedRounds > 0 && o.abWhich != "secure" {
		rep.Managed, rep.ManagedRatios, err = benchManaged(ctx, o, bin, filepath.Join(dir, "managed"), stdout)
		if err != nil {
			return err
		}
	}
	if o.managedRounds > 0 && o.abWhich != "managed" {
		rep.Secure, rep.SecureRatios, err = benchSecure(ctx, o, bin, filepath.Join(dir, "secure"), stdout)
		if err != nil {
			return err
		}
	}
	if !o.noAnchor && !o.abOnly {
		fmt.Fprintf(stdout, "# etcd anchor: %s %d\n", o.anchor, o.total)
		rep.Etcd, err = RunAnchor(ctx, o.anchor, o.total, stdout)
		if err != nil {
			return err
		}
		rep.Ratios = Compare(rep.Aerolith, rep.Etcd)
		fmt.Fprintln(stdout, "# ratios (qps: higher is better for aerolith; p99: lower is better)")
		if err := WriteTable(stdout, rep.Aerolith, rep.Etcd); err != nil {
			return err
		}
	}
	if o.out != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.out, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("-out: %w", err)
		}
	}
	return nil
}

// benchAerolith starts the cluster, runs the four workloads and stops the
// cluster again before returning.
func benchAerolith(ctx context.Context, o options, bin, dir string, stdout io.Writer) ([]Result, error) {
	c, err := proctest.New(proctest.Config{Binary: bin, Dir: dir, Nodes: nodes, LogLevel: o.logLevel})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	fail := func(err error) ([]Result, error) {
		return nil, fmt.Errorf("%w\nagent logs:\n%s", err, c.LogTails(20))
	}
	sctx, cancel := context.WithTimeout(ctx, proctest.StartupTimeout)
	defer cancel()
	if err := c.Start(sctx); err != nil {
		return fail(err)
	}
	if err := c.WaitAllReady(sctx); err != nil {
		return fail(err)
	}
	leader, err := c.WaitLeader(sctx)
	if err != nil {
		return fail(err)
	}
	urls, spread := c.URLs(), "requests round-robin over the nodes"
	if o.leaderOnly {
		urls, spread = []string{c.URL(leader)}, "every request to the leader (-leader-only)"
	}
	fmt.Fprintf(stdout, "# aerolith: %d agent processes on 127.0.0.1 (leader %s), fsync on, no TLS; %s; %d keep-alive connections per node\n",
		nodes, c.NodeID(leader), spread, o.connsPerNode)

	workloads := []LoadConfig{
		{Op: opPut, Clients: 1, ConnsPerNode: 1, Total: o.total / 10},
		{Op: opPut, Clients: o.clients, ConnsPerNode: o.connsPerNode, Total: o.total},
		{Op: opGet, Clients: o.clients, ConnsPerNode: o.connsPerNode, Total: o.total, KeySpace: o.total},
		{Op: opGetSer, Clients: o.clients, ConnsPerNode: o.connsPerNode, Total: o.total, KeySpace: o.total},
	}
	var results []Result
	for _, w := range workloads {
		w.URLs, w.Key = urls, c.AdminKey()
		r, err := RunLoad(ctx, w)
		if err != nil {
			return fail(fmt.Errorf("workload %s clients=%d: %w", w.Op, w.Clients, err))
		}
		fmt.Fprintln(stdout, r)
		results = append(results, r)
	}
	stopCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := c.StopAll(stopCtx); err != nil {
		fmt.Fprintf(stdout, "# warning: stopping the cluster: %v\n", err)
	}
	return results, nil
}
