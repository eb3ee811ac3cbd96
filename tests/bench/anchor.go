package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// RunAnchor runs the etcd anchor script with total requests, copies its
// output to w as it arrives and returns the result lines it printed.
func RunAnchor(ctx context.Context, script string, total int, w io.Writer) ([]Result, error) {
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("etcd anchor: %w (set -anchor to the path of run.sh)", err)
	}
	cmd := exec.CommandContext(ctx, script, strconv.Itoa(total))
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, w)
	cmd.Stderr = w
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("etcd anchor %s: %w", script, err)
	}
	res, err := ParseResults(&out)
	if err != nil {
		return nil, fmt.Errorf("etcd anchor output: %w", err)
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("etcd anchor printed no result lines")
	}
	return res, nil
}

// ParseResults reads lines in the anchor's format
// ("op=put clients=100 n=50000 qps=... p50=...ms p99=...ms p999=...ms") and
// ignores every other line. A line starting with "op=" that does not parse
// is an error naming the line and the field.
func ParseResults(r io.Reader) ([]Result, error) {
	var out []Result
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(text, "op=") {
			continue
		}
		res, err := parseResult(text)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %w", line, text, err)
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

func parseResult(text string) (Result, error) {
	var r Result
	seen := map[string]bool{}
	for _, f := range strings.Fields(text) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return r, fmt.Errorf("field %q: want key=value", f)
		}
		var err error
		switch k {
		case "op":
			r.Op = v
		case "clients":
			r.Clients, err = strconv.Atoi(v)
		case "n":
			r.N, err = strconv.Atoi(v)
		case "qps":
			r.QPS, err = strconv.ParseFloat(v, 64)
		case "p50":
			r.P50, err = time.ParseDuration(v)
		case "p99":
			r.P99, err = time.ParseDuration(v)
		case "p999":
			r.P999, err = time.ParseDuration(v)
		default:
			continue
		}
		if err != nil {
			return r, fmt.Errorf("field %s: %w", k, err)
		}
		seen[k] = true
	}
	for _, k := range []string{"op", "clients", "n", "qps", "p50", "p99", "p999"} {
		if !seen[k] {
			return r, fmt.Errorf("field %s: missing", k)
		}
	}
	return r, nil
}

// Ratio compares one workload: ours divided by etcd's.
type Ratio struct {
	Op       string  `json:"op"`
	Clients  int     `json:"clients"`
	QPSRatio float64 `json:"qps_ratio"` // > 1: we are faster
	P99Ratio float64 `json:"p99_ratio"` // < 1: our tail latency is lower
}

// Compare pairs results by (op, clients) and returns the ratios in the order
// of ours. Workloads missing on either side are skipped.
func Compare(ours, etcd []Result) []Ratio {
	var out []Ratio
	for _, o := range ours {
		for _, e := range etcd {
			if o.Op != e.Op || o.Clients != e.Clients {
				continue
			}
			r := Ratio{Op: o.Op, Clients: o.Clients}
			if e.QPS > 0 {
				r.QPSRatio = o.QPS / e.QPS
			}
			if e.P99 > 0 {
				r.P99Ratio = float64(o.P99) / float64(e.P99)
			}
			out = append(out, r)
			break
		}
	}
	return out
}

// WriteTable prints the side-by-side comparison.
func WriteTable(w io.Writer, ours, etcd []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tclients\taerolith qps\tetcd qps\tqps ours/etcd\taerolith p99\tetcd p99\tp99 ours/etcd\t")
	for _, r := range Compare(ours, etcd) {
		o, e := find(ours, r), find(etcd, r)
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.2f\t%v\t%v\t%.2f\t\n",
			r.Op, r.Clients, o.QPS, e.QPS, r.QPSRatio, o.P99.Round(10*time.Microsecond), e.P99.Round(10*time.Microsecond), r.P99Ratio)
	}
	return tw.Flush()
}

func find(rs []Result, r Ratio) Result {
	for _, x := range rs {
		if x.Op == r.Op && x.Clients == r.Clients {
			return x
		}
	}
	return Result{}
}
