// Command billingbench measures usage ingestion of the billing service
// (`go run ./tests/billingbench` from the repository root; part of `make
// bench`). It builds the aerolith binary (or uses -binary), starts one
// `aerolith billing serve` process on loopback (its own data directory,
// fsync on, --log-level warn), creates tenants and registers one cluster
// serving them, then runs -senders concurrent senders, each one node of the
// cluster, posting batches of -batch usage records with consecutive
// sequence numbers to POST /api/v1/usage with the enrollment token, until
// -records records are acknowledged. Every record must come back accepted;
// afterwards the tenants' metered usage must equal what was sent.
//
// It prints one line in the storage benchmark's format:
//
//	op=usage-ingest senders=8 batch=100 records=400000 records_per_sec=... batches_per_sec=... p50=... p99=... p999=...
//
// Latency is per batch, from sending the request to having read the whole
// answer; percentiles are taken from the sorted samples at index (n-1)·q.
// A warm-up of -warmup batches per sender runs first and is not measured.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "billingbench:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	records  int
	senders  int
	batch    int
	tenants  int
	warmup   int
	binary   string
	out      string
	logLevel string
	keepDir  bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("billingbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.records, "records", 400_000, "records to ingest (measured)")
	fs.IntVar(&o.senders, "senders", 8, "concurrent senders (one cluster node each)")
	fs.IntVar(&o.batch, "batch", 100, "records per batch")
	fs.IntVar(&o.tenants, "tenants", 100, "tenants the records are spread over")
	fs.IntVar(&o.warmup, "warmup", 20, "unmeasured batches per sender before the run")
	fs.StringVar(&o.binary, "binary", "", "use this aerolith binary instead of building one")
	fs.StringVar(&o.out, "out", "", "also write the result as JSON to this file")
	fs.StringVar(&o.logLevel, "log-level", "warn", "billing --log-level")
	fs.BoolVar(&o.keepDir, "keep", false, "keep the data directory")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.senders < 1:
		return o, fmt.Errorf("-senders: must be >= 1, got %d", o.senders)
	case o.batch < 1 || o.batch > 1000:
		return o, fmt.Errorf("-batch: must be 1 to 1000 (the service's batch limit), got %d", o.batch)
	case o.records < o.batch*o.senders:
		return o, fmt.Errorf("-records: must be at least -batch × -senders (%d), got %d", o.batch*o.senders, o.records)
	case o.tenants < 1 || o.tenants > 1000:
		return o, fmt.Errorf("-tenants: must be 1 to 1000, got %d", o.tenants)
	case o.warmup < 0:
		return o, fmt.Errorf("-warmup: must be >= 0, got %d", o.warmup)
	}
	return o, nil
}

// Result is the benchmark's outcome (-out writes it as JSON).
type Result struct {
	Date          time.Time     `json:"date"`
	CPUs          int           `json:"cpus"`
	GOOS          string        `json:"goos"`
	GOARCH        string        `json:"goarch"`
	Senders       int           `json:"senders"`
	Batch         int           `json:"batch"`
	Tenants       int           `json:"tenants"`
	Records       int           `json:"records"`
	Batches       int           `json:"batches"`
	Elapsed       time.Duration `json:"elapsed_ns"`
	RecordsPerSec float64       `json:"records_per_sec"`
	BatchesPerSec float64       `json:"batches_per_sec"`
	P50           time.Duration `json:"p50_ns"`
	P99           time.Duration `json:"p99_ns"`
	P999          time.Duration `json:"p999_ns"`
	Max           time.Duration `json:"max_ns"`
}

// Line renders r in the storage benchmark's one-line format.
func (r Result) Line() string {
	return fmt.Sprintf("op=usage-ingest senders=%d batch=%d records=%d records_per_sec=%.0f batches_per_sec=%.1f p50=%s p99=%s p999=%s max=%s",
		r.Senders, r.Batch, r.Records, r.RecordsPerSec, r.BatchesPerSec, ms(r.P50), ms(r.P99), ms(r.P999), ms(r.Max))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "aerolith-billingbench-")
	if err != nil {
		return err
	}
	if o.keepDir {
		fmt.Fprintln(os.Stderr, "billingbench: data in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := o.binary
	if bin == "" {
		fmt.Fprintln(os.Stderr, "billingbench: building aerolith ...")
		if bin, err = proctest.BuildBinary(ctx, dir); err != nil {
			return err
		}
	}
	srv, err := proctest.StartBilling(ctx, proctest.BillingConfig{Binary: bin, Dir: dir, LogLevel: o.logLevel})
	if err != nil {
		return err
	}
	defer srv.Stop()

	admin, err := billingclient.New(billingclient.Config{URL: srv.URL(), Key: srv.AdminKey()})
	if err != nil {
		return err
	}
	tenants := make([]string, o.tenants)
	for i := range tenants {
		t, err := admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "Bench", Name: "bench-" + strconv.Itoa(i), Tier: "starter", Email: "bench@example.com"})
		if err != nil {
			return fmt.Errorf("create tenant: %w", err)
		}
		tenants[i] = t.ID
	}
	enr, err := admin.RegisterCluster(ctx, "bench", tenants)
	if err != nil {
		return err
	}

	// One keep-alive connection per sender, as an agent's meter holds.
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.senders, MaxConnsPerHost: o.senders, IdleConnTimeout: time.Minute}}
	agent, err := billingclient.New(billingclient.Config{URL: srv.URL(), Key: enr.EnrollmentToken, HTTPClient: hc, MaxRetries: -1})
	if err != nil {
		return err
	}
	b := &bench{o: o, agent: agent, tenants: tenants, seqs: make([]uint64, o.senders), reads: map[string]uint64{}}
	if o.warmup > 0 {
		if _, err := b.phase(ctx, o.warmup*o.senders); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	res, err := b.phase(ctx, o.records/o.batch)
	if err != nil {
		return err
	}
	if err := b.verify(ctx, admin); err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Line())
	if o.out != "" {
		raw, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.out, append(raw, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// bench is the load: senders with their sequence numbers, and the reads
// sent per tenant for verification.
type bench struct {
	o       options
	agent   *billingclient.Client
	tenants []string
	seqs    []uint64 // next sequence number per sender - 1

	mu       sync.Mutex
	reads    map[string]uint64
	from, to time.Time
}

// phase sends batches batches spread over the senders and measures them.
func (b *bench) phase(ctx context.Context, batches int) (Result, error) {
	var next atomic.Int64
	lat := make([][]time.Duration, b.o.senders)
	errc := make(chan error, b.o.senders)
	var wg sync.WaitGroup
	start := time.Now()
	for s := range b.o.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(s), 42))
			node := "node-" + strconv.Itoa(s)
			reads := map[string]uint64{}
			var from, to time.Time
			for next.Add(1) <= int64(batches) {
				now := time.Now().UTC()
				recs := make([]billingclient.UsageRecord, b.o.batch)
				for i := range recs {
					b.seqs[s]++
					t := b.tenants[rng.IntN(len(b.tenants))]
					r := uint64(1 + rng.IntN(1000))
					recs[i] = billingclient.UsageRecord{NodeID: node, Seq: b.seqs[s], TenantID: t, Start: now, End: now.Add(10 * time.Second),
						Reads: r, Writes: r / 10, EgressBytes: r * 512}
					reads[t] += r
				}
				if from.IsZero() {
					from = now
				}
				to = now
				t0 := time.Now()
				res, err := b.agent.SendUsage(ctx, recs)
				d := time.Since(t0)
				if err != nil {
					errc <- fmt.Errorf("sender %d: %w", s, err)
					return
				}
				if res.Accepted != len(recs) {
					errc <- fmt.Errorf("sender %d: %d of %d records accepted (%+v)", s, res.Accepted, len(recs), firstNotAccepted(res))
					return
				}
				lat[s] = append(lat[s], d)
			}
			b.mu.Lock()
			for t, r := range reads {
				b.reads[t] += r
			}
			if b.from.IsZero() || from.Before(b.from) {
				b.from = from
			}
			if to.After(b.to) {
				b.to = to
			}
			b.mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errc)
	if err := <-errc; err != nil {
		return Result{}, err
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(q float64) time.Duration { return all[int(float64(len(all)-1)*q)] }
	n := len(all)
	return Result{
		Date: time.Now().UTC(), CPUs: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		Senders: b.o.senders, Batch: b.o.batch, Tenants: len(b.tenants), Records: n * b.o.batch, Batches: n, Elapsed: elapsed,
		RecordsPerSec: float64(n*b.o.batch) / elapsed.Seconds(), BatchesPerSec: float64(n) / elapsed.Seconds(),
		P50: pct(0.5), P99: pct(0.99), P999: pct(0.999), Max: all[n-1],
	}, nil
}

func firstNotAccepted(r billingclient.IngestResult) billingclient.RecordResult {
	for _, rr := range r.Records {
		if rr.Status != billingclient.RecordAccepted {
			return rr
		}
	}
	return billingclient.RecordResult{}
}

// verify checks that every tenant's metered reads equal the reads sent.
func (b *bench) verify(ctx context.Context, admin *billingclient.Client) error {
	for _, t := range b.tenants {
		s, err := admin.Usage(ctx, t, billingclient.UsageQuery{From: b.from.Add(-time.Hour), To: b.to.Add(time.Hour)})
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if s.Total.Reads != b.reads[t] {
			return fmt.Errorf("verify: tenant %s metered %d reads, %d were sent", t, s.Total.Reads, b.reads[t])
		}
	}
	return nil
}
