package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/agent/client"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/service"
	"github.com/aerolithdb/aerolith/internal/clientopts"
)

// defaultBillingURL is where the billing CLI verbs look for the billing
// service when neither --billing-url nor AEROLITH_BILLING_URL is set:
// HTTPS, as billing serve and aerolith up serve by default.
const defaultBillingURL = "https://127.0.0.1:7080"

// envBillingKey holds the billing key of the billing verbs.
const envBillingKey = "AEROLITH_BILLING_KEY"

// newBillingCommand builds `aerolith billing`: the billing service daemon.
func newBillingCommand(m *Main) *cobra.Command {
	cmd := groupCommand("billing", "Run the billing service (tenants, usage, invoices, dunning)")
	cmd.AddCommand(newBillingServeCommand(m))
	return cmd
}

// newBillingServeCommand is `aerolith billing serve`. It runs until its
// context ends (SIGINT/SIGTERM), then shuts down gracefully.
func newBillingServeCommand(m *Main) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a billing replica: the HTTP billing API, the usage ledger and the billing cycle scheduler",
		Long: `Run a billing replica: the HTTP billing API (tenants, clusters and
enrollment, usage ingestion, invoices, payments, signed tenant policies) on a
replicated ledger, and the billing cycle scheduler.

Every flag can also be set with an AEROLITH_<FLAG> environment variable
(AEROLITH_ADMIN_KEY, AEROLITH_PERIOD, ...) or in a YAML file given with
--config (keys named like the flags). Precedence: flag, environment, file,
default.

Credentials: --admin-key (required; several, comma-separated, for rotation)
authorizes every operation. Admins create tenant read keys
(aerolith tenant keys create), which read one tenant's data only, and
register clusters, whose enrollment tokens send usage.

Billing cycle: at the end of each --period every tenant gets a draft invoice;
--grace later it is finalized with a due date --payment-terms ahead; a tenant
whose invoice is still unpaid --dunning-grace after its due date is
suspended, and paying resumes it (so does aerolith tenant resume, which
waives the invoices then past due for dunning). Short periods (--period 5s --usage-bucket 1s)
are for demos and tests.

TLS: --tls-cert, --tls-key and --tls-ca serve the API over HTTPS; replicas
speak mutual TLS on the raft port, which needs node certificates of one CA
(aerolith cert issue). SIGHUP reloads the files. --insecure-http serves plain
HTTP and raft instead; one of the two is required.

High availability: start three replicas with --bootstrap-expect 3 and --join
listing the three raft (or http) addresses; only the leader schedules, and
every scheduled operation is idempotent, so no period is ever billed twice.`,
		Example: `  aerolith billing serve --data-dir /var/lib/aerolith-billing --admin-key "$BILLING_ADMIN_KEY" \
    --tls-cert ./b1/tls.crt --tls-key ./b1/tls.key --tls-ca ./b1/ca.crt
  aerolith billing serve --data-dir ./b1 --admin-key "$KEY" --period 10s --usage-bucket 1s --grace 2s \
    --payment-terms 5s --dunning-grace 5s --insecure-http`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := service.Load(cmd.Flags(), os.LookupEnv)
			if err != nil {
				return usageError{err}
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			logger := cfg.Logger(m.Stderr)
			s, err := service.New(cfg, logger)
			if err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			if err := s.Open(ctx); err != nil {
				return err
			}
			var runErr error
			select {
			case <-ctx.Done():
				logger.Info("shutting down", "reason", "signal")
			case runErr = <-s.Err():
				logger.Error("shutting down", "err", runErr)
			}
			if err := s.Close(); err != nil && runErr == nil {
				runErr = err
			}
			return runErr
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	service.RegisterFlags(cmd.Flags())
	return cmd
}

// billingFlags are the flags every billing CLI verb shares.
type billingFlags struct {
	url     string
	key     string
	output  string
	verbose bool
	// conn are the TLS options (--ca-file, ...), as for the agent verbs.
	conn clientopts.Options
	// stderr receives the -v reports.
	stderr func() io.Writer
}

// addBillingFlags registers the shared flags as persistent flags of cmd.
func addBillingFlags(cmd *cobra.Command, f *billingFlags) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.url, "billing-url", "", "billing service URL; several replicas may be given comma-separated (env AEROLITH_BILLING_URL, default "+defaultBillingURL+")")
	pf.StringVar(&f.key, "key", "", "billing admin key or a tenant's billing key (role read, or tenant to change things such as wallets and payments), sent as bearer token (env "+envBillingKey+")")
	pf.StringVarP(&f.output, "output", "o", outputTable, "output format: table (for humans) or json (stable, for scripts)")
	pf.BoolVarP(&f.verbose, "verbose", "v", false, "report failovers and retries between replicas on stderr")
	f.conn.AddFlags(pf)
	f.stderr = cmd.ErrOrStderr
	needsKey(cmd, keyBilling)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
}

// client resolves the flags (environment for unset ones) and builds a
// billing client.
func (f *billingFlags) client() (*billingclient.Client, error) {
	if f.url == "" {
		f.url = os.Getenv("AEROLITH_BILLING_URL")
	}
	if f.url == "" {
		f.url = defaultBillingURL
	}
	if f.key == "" {
		f.key = os.Getenv(envBillingKey)
	}
	switch f.output {
	case outputTable, outputJSON:
	default:
		return nil, usageError{fmt.Errorf("--output: unknown format %q: want table or json", f.output)}
	}
	hc, err := httpClient(&f.conn, f.url, "billing-url", defaultBillingURL, client.NewTransport())
	if err != nil {
		return nil, err
	}
	c, err := billingclient.New(billingclient.Config{
		URL: f.url, Key: f.key, UserAgent: "aerolith-cli", HTTPClient: hc,
		ConnectTimeout: failoverTimeout, HeaderTimeout: failoverTimeout, RetryBudget: retryBudget, OnRetry: retryReporter(f.verbose, f.stderr),
	})
	if err != nil {
		return nil, usageError{fmt.Errorf("--billing-%v", err)}
	}
	return c, nil
}

func (f *billingFlags) json() bool { return f.output == outputJSON }

// formatCents renders cents as dollars: 1234 → "$12.34", -5 → "-$0.05".
func formatCents(c int64) string {
	sign := ""
	u := uint64(c)
	if c < 0 {
		sign, u = "-", uint64(-(c+1))+1
	}
	return fmt.Sprintf("%s$%d.%02d", sign, u/100, u%100)
}

// parseDollars parses an exact amount of dollars ("12", "12.3", "$12.34")
// into cents; more than two decimals or anything but digits is an error.
func parseDollars(s string) (int64, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "$")
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" && !hasFrac || len(frac) > 2 || (hasFrac && frac == "") || !allDigits(whole) || !allDigits(frac) || len(whole) > 15 {
		return 0, fmt.Errorf("%q is not an amount of dollars such as 12.34 (at most two decimals)", s)
	}
	var v int64
	for _, c := range whole {
		v = v*10 + int64(c-'0')
	}
	frac += strings.Repeat("0", 2-len(frac))
	for _, c := range frac {
		v = v*10 + int64(c-'0')
	}
	return v, nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// billingTime renders a time for tables: UTC, to the second; "-" for zero.
func billingTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}
