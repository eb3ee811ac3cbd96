package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aerolithdb/aerolith/tests/proctest"
)

// An A/B comparison runs the 100-client put and linearizable get workloads
// against two 3-node clusters that run side by side for the whole
// comparison, "off" and "on", which differ in one feature (metering and
// quotas; TLS and encryption at rest). Each round runs every workload on
// both sides back to back, alternating which side goes first (off, on,
// then on, off, ...) so drift on the machine hits both; the figure that
// counts is the median over the rounds of each round's on/off ratio. A
// comparison repeats this on -ab-pairs fresh pairs of clusters and takes
// the median over all their rounds: a cluster's own luck (which node leads,
// how its processes land on the cores) persists for its whole life and can
// move one side by 20%, so rounds on one pair do not average it out.

// abSide is one side of a comparison.
type abSide struct {
	Name    string // "off" or "on"
	Cluster *proctest.Cluster
	Key     string
	// TLS, when set, is the load generator's client TLS configuration.
	TLS *tls.Config
	// ExtraPIDs are further server processes whose CPU counts for this
	// side (billing).
	ExtraPIDs []int
}

// startSide starts a 3-node cluster for one side of a comparison in dir
// (with TLS when tls; extra agent arguments, plus the profiling endpoint
// with -pprof-dir) and waits until it is ready and has a leader. On error
// the cluster, when not nil, must still be stopped.
func startSide(ctx context.Context, o options, bin, dir string, tls bool, extra []string) (*proctest.Cluster, error) {
	if o.pprofDir != "" {
		extra = append(append([]string(nil), extra...), pprofArgs...)
	}
	c, err := proctest.New(proctest.Config{Binary: bin, Dir: dir, Nodes: nodes, LogLevel: o.logLevel, TLS: tls, ExtraArgs: extra})
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, proctest.StartupTimeout)
	defer cancel()
	if err := c.Start(sctx); err != nil {
		return c, err
	}
	if err := c.WaitAllReady(sctx); err != nil {
		return c, fmt.Errorf("%w\n%s", err, c.LogTails(20))
	}
	_, err = c.WaitLeader(sctx)
	return c, err
}

// runAB runs o.managedRounds rounds of put and get on both sides and prints
// one line per run, prefixed with name.
func runAB(ctx context.Context, o options, name string, pair int, off, on abSide, stdout io.Writer) ([]ABResult, error) {
	var results []ABResult
	for round := 1; round <= o.managedRounds; round++ {
		sides := []abSide{off, on}
		if round%2 == 0 {
			sides = []abSide{on, off}
		}
		for _, op := range []string{opPut, opGet} {
			for _, sd := range sides {
				pids := append(pidsOf(sd.Cluster), sd.ExtraPIDs...)
				var prof *profiler
				if o.pprofDir != "" && round == o.pprofRound && pair == 1 {
					var err error
					// A profile shorter than the workload: its first seconds.
					if prof, err = startProfiles(ctx, o.pprofDir, fmt.Sprintf("%s-%s-%s", name, sd.Name, op), sd.Cluster, o.pprofFor); err != nil {
						return nil, err
					}
				}
				cpu0, cpuErr := cpuOf(pids)
				r, err := RunLoad(ctx, LoadConfig{URLs: sd.Cluster.URLs(), Key: sd.Key, TLS: sd.TLS, Op: op, Clients: o.clients,
					ConnsPerNode: o.connsPerNode, Total: o.managedTotal, KeySpace: o.managedTotal})
				if err != nil {
					return nil, fmt.Errorf("%s %s round %d %s: %w\n%s", name, sd.Name, round, op, err, sd.Cluster.LogTails(20))
				}
				if prof != nil {
					if err := prof.wait(); err != nil {
						return nil, err
					}
				}
				ar := ABResult{Mode: sd.Name, Pair: pair, Round: round, Result: r}
				if cpu1, err := cpuOf(pids); err == nil && cpuErr == nil && r.N > 0 {
					ar.CPUPerRequest = (cpu1 - cpu0) / time.Duration(r.N)
				}
				fmt.Fprintf(stdout, "%s=%s pair=%d round=%d %s cpu/req=%v\n", name, sd.Name, pair, round, r, ar.CPUPerRequest)
				results = append(results, ar)
			}
		}
	}
	return results, nil
}

// ABResult is one workload run on one side of a comparison.
type ABResult struct {
	Mode string `json:"mode"` // "off" or "on"
	// Pair numbers the pair of clusters (from 1), Round the round on it.
	Pair  int `json:"pair"`
	Round int `json:"round"`
	Result
	// CPUPerRequest is the CPU time (user + system) the servers used per
	// request: the three agents, plus the side's other processes (billing
	// for the managed "on" side, which ingests the usage). Unlike qps it
	// hardly moves with what else runs on the machine, so it shows the
	// cost of what the "on" side adds directly.
	CPUPerRequest time.Duration `json:"cpu_per_request_ns"`
}

// ABRatio compares the two sides of a comparison for one workload.
type ABRatio struct {
	Op      string  `json:"op"`
	Clients int     `json:"clients"`
	OffQPS  float64 `json:"off_qps_median"`
	OnQPS   float64 `json:"on_qps_median"`
	Ratio   float64 `json:"qps_on_over_off"` // median of the rounds' ratios
	// RoundRatios are the rounds' on/off qps ratios, sorted.
	RoundRatios []float64 `json:"round_ratios"`
	OffP99      float64   `json:"off_p99_ms_median"`
	OnP99       float64   `json:"on_p99_ms_median"`
	// OffCPU and OnCPU are the median CPU microseconds per request;
	// CPURatio the median of the rounds' on/off ratios of it.
	OffCPU   float64 `json:"off_cpu_us_per_request"`
	OnCPU    float64 `json:"on_cpu_us_per_request"`
	CPURatio float64 `json:"cpu_on_over_off"`
	LossPct  float64 `json:"throughput_loss_pct"`
	// Metered and Requested (managed comparison only): what billing
	// counted for the "on" side against what it served.
	Metered   uint64 `json:"metered,omitempty"`
	Requested uint64 `json:"requested,omitempty"`
}

// abRatios reduces the runs per workload: the median qps and p99 of
// each mode, and the median over the rounds of each round's on/off qps
// ratio (the two runs of a round are back to back, so the pair shares the
// machine's state; the median of the pairs resists drift between rounds).
func abRatios(rs []ABResult) []ABRatio {
	var out []ABRatio
	for _, op := range []string{opPut, opGet} {
		var offQ, onQ, offP, onP, offC, onC []float64
		type roundKey struct{ pair, round int }
		pairs := map[roundKey][2]float64{}    // round → off, on qps
		cpuPairs := map[roundKey][2]float64{} // round → off, on CPU µs per request
		clients := 0
		for _, r := range rs {
			if r.Op != op {
				continue
			}
			clients = r.Clients
			p99 := float64(r.P99) / float64(time.Millisecond)
			k := roundKey{r.Pair, r.Round}
			pr, cp := pairs[k], cpuPairs[k]
			cpu := float64(r.CPUPerRequest) / float64(time.Microsecond)
			if r.Mode == "on" {
				onQ, onP = append(onQ, r.QPS), append(onP, p99)
				pr[1], cp[1] = r.QPS, cpu
				if cpu > 0 {
					onC = append(onC, cpu)
				}
			} else {
				offQ, offP = append(offQ, r.QPS), append(offP, p99)
				pr[0], cp[0] = r.QPS, cpu
				if cpu > 0 {
					offC = append(offC, cpu)
				}
			}
			pairs[k], cpuPairs[k] = pr, cp
		}
		var ratios []float64
		for _, pr := range pairs {
			if pr[0] > 0 && pr[1] > 0 {
				ratios = append(ratios, pr[1]/pr[0])
			}
		}
		if len(ratios) == 0 {
			continue
		}
		var cpuRatios []float64
		for _, cp := range cpuPairs {
			if cp[0] > 0 && cp[1] > 0 {
				cpuRatios = append(cpuRatios, cp[1]/cp[0])
			}
		}
		m := ABRatio{Op: op, Clients: clients, OffQPS: median(offQ), OnQPS: median(onQ), OffP99: median(offP), OnP99: median(onP),
			Ratio: median(ratios), RoundRatios: ratios}
		sort.Float64s(m.RoundRatios)
		if len(offC) > 0 && len(onC) > 0 && len(cpuRatios) > 0 {
			m.OffCPU, m.OnCPU, m.CPURatio = median(offC), median(onC), median(cpuRatios)
		}
		m.LossPct = (1 - m.Ratio) * 100
		out = append(out, m)
	}
	return out
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func writeABTable(w io.Writer, name, target string, rs []ABRatio) {
	fmt.Fprintf(w, "# %s comparison (on/off = median of the rounds' qps ratios; loss = 1 - on/off; %s; qps, p99 and cpu/req: medians per side)\n", name, target)
	fmt.Fprintf(w, "%-8s %7s %10s %10s %8s %8s %11s %11s %12s %12s %10s %16s  %s\n", "op", "clients", "off qps", "on qps", "on/off", "loss",
		"off p99", "on p99", "off cpu/req", "on cpu/req", "cpu on/off", "metered/served", "round ratios")
	for _, r := range rs {
		rr := make([]string, len(r.RoundRatios))
		for i, x := range r.RoundRatios {
			rr[i] = fmt.Sprintf("%.3f", x)
		}
		fmt.Fprintf(w, "%-8s %7d %10.0f %10.0f %8.3f %7.1f%% %9.2fms %9.2fms %10.0fµs %10.0fµs %10.3f %16s  %s\n",
			r.Op, r.Clients, r.OffQPS, r.OnQPS, r.Ratio, r.LossPct, r.OffP99, r.OnP99, r.OffCPU, r.OnCPU, r.CPURatio,
			meteredCell(r), strings.Join(rr, " "))
	}
}

// pidsOf returns the process ids of c's running nodes.
func pidsOf(c *proctest.Cluster) []int {
	var pids []int
	for i := range c.N() {
		if pid := c.PID(i); pid != 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cpuOf sums the CPU time the processes have used.
func cpuOf(pids []int) (time.Duration, error) {
	var sum time.Duration
	for _, pid := range pids {
		d, err := proctest.ProcessCPU(pid)
		if err != nil {
			return 0, err
		}
		sum += d
	}
	return sum, nil
}

// meteredCell is the metered/served column: "-" outside the managed
// comparison.
func meteredCell(r ABRatio) string {
	if r.Requested == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", r.Metered, r.Requested)
}
