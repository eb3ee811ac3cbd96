package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newMeterCommand) }

// newMeterCommand builds `aerolith meter`: the usage meter of a managed
// agent (its dead letters).
func newMeterCommand(m *Main) *cobra.Command {
	f := &clientFlags{}
	cmd := groupCommand("meter", "Inspect a managed agent's usage meter: dead-lettered usage records")
	addClientFlags(cmd, f)
	dead := groupCommand("dead-letters", "List or replay the usage records billing rejected for good (needs the cluster admin key)")
	dead.Long = `Billing rejects a usage record for good when its tenant is not assigned to the
cluster, or when its window starts more than an hour after billing's clock (the
node's clock is ahead). The record is then kept in the node's dead-letter
bucket, not billed; the agent logs an error and exports
aerolith_meter_dead_letters. Each node keeps its own: these commands act on the
node at --url.

Fix the cause (assign the tenant to the cluster again; set the node's clock
right), then replay: the records are sent again under new sequence numbers and
billed once. Use --restamp for records rejected because of the clock, to move
their windows to end now.

  aerolith meter dead-letters list --url https://node1:8080
  aerolith meter dead-letters replay --all
  aerolith meter dead-letters replay 17 18 --restamp`
	list := &cobra.Command{
		Use:   "list",
		Short: "List the node's dead letters, oldest first, with billing's reasons",
		Args:  argsBetween(0, 0, "(none)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			dl, err := c.DeadLetters(cmd.Context())
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, dl)
			}
			if len(dl) == 0 {
				_, err := fmt.Fprintln(m.Stdout, "no dead letters")
				return err
			}
			for _, d := range dl {
				fmt.Fprintf(m.Stdout, "seq %d  tenant %s  window %s to %s  reads %d writes %d queries %d egress %dB\n  dead-lettered %s: %s\n",
					d.Seq, d.Tenant, d.Start.Format(time.RFC3339), d.End.Format(time.RFC3339), d.Reads, d.Writes, d.Queries, d.EgressBytes,
					d.At.Format(time.RFC3339), d.Reason)
			}
			return nil
		},
	}
	var all, restamp bool
	replay := &cobra.Command{
		Use:   "replay (SEQ... | --all) [--restamp]",
		Short: "Send dead letters to billing again, once their cause is fixed",
		Args: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usageError{fmt.Errorf("%s: give the sequence numbers to replay, or --all", cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			seqs := make([]uint64, 0, len(args))
			for _, a := range args {
				s, err := strconv.ParseUint(a, 10, 64)
				if err != nil || s == 0 {
					return usageError{fmt.Errorf("sequence number %q: want a positive integer (see aerolith meter dead-letters list)", a)}
				}
				seqs = append(seqs, s)
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			out, err := c.ReplayDeadLetters(cmd.Context(), seqs, restamp)
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, out)
			}
			for _, r := range out {
				fmt.Fprintf(m.Stdout, "seq %d (tenant %s) replayed as seq %d, window %s to %s\n",
					r.Seq, r.Tenant, r.NewSeq, r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339))
			}
			_, err = fmt.Fprintf(m.Stdout, "%d dead letters replayed\n", len(out))
			return err
		},
	}
	replay.Flags().BoolVar(&all, "all", false, "replay every dead letter of the node")
	replay.Flags().BoolVar(&restamp, "restamp", false, "move each window to end now (records rejected because the node's clock was ahead)")
	dead.AddCommand(list, replay)
	cmd.AddCommand(dead)
	return cmd
}
