package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
)

// newUsageCommand builds `aerolith usage`: metered usage from the billing
// service.
func newUsageCommand(m *Main) *cobra.Command {
	f := &billingFlags{}
	cmd := groupCommand("usage", "Show a tenant's metered usage")
	addBillingFlags(cmd, f)
	var from, to, granularity string
	var all bool
	show := &cobra.Command{
		Use:   "show TENANT_ID",
		Short: "Show a tenant's usage per hour or day, and the total",
		Example: `  aerolith usage show tn_abc --from 2026-01-01 --to 2026-02-01 --granularity day
  aerolith usage show tn_abc --from 2026-01-31T00:00:00Z -o json`,
		Args: argsBetween(1, 1, "TENANT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var q billingclient.UsageQuery
			var err error
			if q.From, err = parseWhen("from", from); err != nil {
				return err
			}
			if q.To, err = parseWhen("to", to); err != nil {
				return err
			}
			switch granularity {
			case "", "hour", "day":
				q.Granularity = granularity
			default:
				return usageError{fmt.Errorf("--granularity: %q is unknown; want hour or day", granularity)}
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			s, err := c.Usage(cmd.Context(), args[0], q)
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, s)
			}
			tw := newTable(m.Stdout)
			fmt.Fprintln(tw, "START\tREADS\tWRITES\tQUERIES\tCOMPUTE_MS\tINGRESS_B\tEGRESS_B\tSTORAGE_B*S")
			row := func(label string, u contract.Counters) {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", label, u.Reads, u.Writes, u.Queries, u.QueryComputeMs, u.IngressBytes, u.EgressBytes, u.StorageByteSeconds)
			}
			shown := 0
			for _, p := range s.Points {
				if all || !p.Counters.IsZero() {
					row(billingTime(p.Start), p.Counters)
					shown++
				}
			}
			row("TOTAL", s.Total)
			if err := tw.Flush(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(m.Stdout, "tenant %s, %s to %s by %s; %d of %d steps had usage\n",
				s.Tenant, billingTime(s.From), billingTime(s.To), s.Granularity, shown, len(s.Points))
			return err
		},
	}
	show.Flags().StringVar(&from, "from", "", "start: RFC 3339 time or date (default: a day before --to, or 30 days for --granularity day)")
	show.Flags().StringVar(&to, "to", "", "end: RFC 3339 time or date (default: now)")
	show.Flags().StringVar(&granularity, "granularity", "hour", "hour or day")
	show.Flags().BoolVar(&all, "all", false, "show steps without usage too")
	cmd.AddCommand(apiFields(show, "from", "--from", "to", "--to", "granularity", "--granularity"))
	return cmd
}

// parseWhen parses an optional RFC 3339 time or date flag.
func parseWhen(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, usageError{fmt.Errorf("--%s: %q is not an RFC 3339 time (2026-01-31T12:00:00Z) or a date (2026-01-31)", name, v)}
}
