package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/agent/client"
)

// newMeterCommand builds `aerolith meter`: the usage meter of a managed
// agent (its dead letters).
func newMeterCommand(m *Main) *cobra.Command {
	f := &clientFlags{}
	cmd := groupCommand("meter", "Inspect a managed agent's usage meter: dead-lettered usage records (needs the cluster admin key)")
	addAdminClientFlags(cmd, f)
	var allNodes bool
	dead := groupCommand("dead-letters", "List or replay the usage records billing rejected for good (needs the cluster admin key)")
	dead.Long = `Billing rejects a usage record for good when its tenant is not assigned to the
cluster, or when its window starts more than an hour after billing's clock (the
node's clock is ahead). The record is then kept in the node's dead-letter
bucket, not billed; the agent logs an error and exports
aerolith_meter_dead_letters. Each node keeps its own: these commands act on the
node at --url, or with --all-nodes on every member of its cluster.

Fix the cause (assign the tenant to the cluster again; set the node's clock
right), then replay: the records are sent again under new sequence numbers and
billed once. Use --restamp for records rejected because of the clock, to move
their windows to end now.

  aerolith meter dead-letters list --all-nodes --url https://node1:8080
  aerolith meter dead-letters replay --all --all-nodes
  aerolith meter dead-letters replay 17 18 --restamp --url https://node2:8080`
	dead.PersistentFlags().BoolVar(&allNodes, "all-nodes", false, "act on every member of the cluster, not only the node at --url")
	list := &cobra.Command{
		Use:   "list",
		Short: "List dead letters, oldest first, with billing's reasons",
		Args:  argsBetween(0, 0, "(none)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			nodes, err := meterNodes(cmd.Context(), f, allNodes)
			if err != nil {
				return err
			}
			type nodeLetters struct {
				Node        string              `json:"node_id,omitempty"`
				DeadLetters []client.DeadLetter `json:"dead_letters"`
				// Error says why the node's dead letters could not be
				// read (--all-nodes; dead_letters is then null).
				Error string `json:"error,omitempty"`
			}
			var all []nodeLetters
			failed := 0
			for _, n := range nodes {
				dl, err := n.c.DeadLetters(cmd.Context())
				if err != nil {
					if !allNodes {
						return err
					}
					// One node down must not hide the others' dead letters.
					failed++
					fmt.Fprintf(m.Stderr, "aerolith: %v\n", explainError(cmd, nodeErr(n, err)))
					all = append(all, nodeLetters{Node: n.id, Error: err.Error()})
					continue
				}
				all = append(all, nodeLetters{Node: n.id, DeadLetters: dl})
			}
			if f.json() {
				if !allNodes {
					return writeJSON(m.Stdout, all[0].DeadLetters)
				}
				if err := writeJSON(m.Stdout, all); err != nil {
					return err
				}
				return nodesFailed(failed, len(nodes), "read")
			}
			for _, nl := range all {
				if nl.Error != "" {
					continue // reported on stderr
				}
				prefix := ""
				if allNodes {
					prefix = nl.Node + ": "
				}
				if len(nl.DeadLetters) == 0 {
					fmt.Fprintf(m.Stdout, "%sno dead letters\n", prefix)
				}
				for _, d := range nl.DeadLetters {
					fmt.Fprintf(m.Stdout, "%sseq %d  tenant %s  window %s to %s  reads %d writes %d queries %d egress %dB\n  dead-lettered %s: %s\n",
						prefix, d.Seq, d.Tenant, d.Start.Format(time.RFC3339), d.End.Format(time.RFC3339), d.Reads, d.Writes, d.Queries, d.EgressBytes,
						d.At.Format(time.RFC3339), d.Reason)
				}
			}
			return nodesFailed(failed, len(nodes), "read")
		},
	}
	var all, restamp bool
	replay := &cobra.Command{
		Use:   "replay (SEQ... | --all) [--restamp]",
		Short: "Send dead letters to billing again, once their cause is fixed",
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case all == (len(args) > 0):
				return usageError{fmt.Errorf("%s: give the sequence numbers to replay, or --all", cmd.CommandPath())}
			case allNodes && !all:
				return usageError{fmt.Errorf("%s: --all-nodes needs --all (sequence numbers are per node)", cmd.CommandPath())}
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
			nodes, err := meterNodes(cmd.Context(), f, allNodes)
			if err != nil {
				return err
			}
			var out []client.ReplayedDeadLetter
			failed := 0
			for _, n := range nodes {
				rep, err := n.c.ReplayDeadLetters(cmd.Context(), seqs, restamp)
				if err != nil {
					if !allNodes {
						return err
					}
					failed++
					fmt.Fprintf(m.Stderr, "aerolith: %v\n", explainError(cmd, nodeErr(n, err)))
					continue
				}
				out = append(out, rep...)
				if f.json() {
					continue
				}
				prefix := ""
				if allNodes {
					prefix = n.id + ": "
				}
				for _, r := range rep {
					fmt.Fprintf(m.Stdout, "%sseq %d (tenant %s) replayed as seq %d, window %s to %s\n",
						prefix, r.Seq, r.Tenant, r.NewSeq, r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339))
				}
			}
			if f.json() {
				if out == nil {
					out = []client.ReplayedDeadLetter{}
				}
				if err := writeJSON(m.Stdout, out); err != nil {
					return err
				}
				return nodesFailed(failed, len(nodes), "replayed")
			}
			if _, err := fmt.Fprintf(m.Stdout, "%s replayed\n", plural(len(out), "dead letter")); err != nil {
				return err
			}
			return nodesFailed(failed, len(nodes), "replayed")
		},
	}
	replay.Flags().BoolVar(&all, "all", false, "replay every dead letter of the node")
	replay.Flags().BoolVar(&restamp, "restamp", false, "move each window to end now (records rejected because the node's clock was ahead)")
	dead.AddCommand(list, replay)
	cmd.AddCommand(dead)
	return cmd
}

// meterNode is a client of one node's dead letters.
type meterNode struct {
	id string // "" for the node at --url
	c  *client.Client
}

// nodesFailed is the error of an --all-nodes command that could not act
// on failed of total nodes (each was reported on stderr), nil when none.
func nodesFailed(failed, total int, verb string) error {
	if failed == 0 {
		return nil
	}
	return fmt.Errorf("dead letters of %d of %d nodes could not be %s (see above)", failed, total, verb)
}

func nodeErr(n meterNode, err error) error {
	if n.id == "" {
		return err
	}
	return fmt.Errorf("node %s: %w", n.id, err)
}

// meterNodes returns a client of the node at --url or, with allNodes, one
// per member of its cluster (at the member's HTTP address, with --url's
// scheme and the same key and TLS options).
func meterNodes(ctx context.Context, f *clientFlags, allNodes bool) ([]meterNode, error) {
	c, err := f.client()
	if err != nil {
		return nil, err
	}
	if !allNodes {
		return []meterNode{{c: c}}, nil
	}
	st, err := c.Cluster(ctx)
	if err != nil {
		return nil, err
	}
	scheme := "https"
	if u, err := url.Parse(strings.Split(f.url, ",")[0]); err == nil && u.Scheme != "" {
		scheme = u.Scheme
	}
	if len(st.Members) == 0 {
		// A tenant key sees the client endpoints, not the members.
		return nil, fmt.Errorf("--all-nodes: %s lists no cluster members to this key; it needs the cluster admin key (--admin-key or %s)", f.url, envAdminKey)
	}
	var out []meterNode
	for _, mb := range st.Members {
		if mb.HTTPAddr == "" {
			return nil, fmt.Errorf("node %s: its HTTP address is not known yet; retry, or give its --url", mb.ID)
		}
		nf := *f
		nf.url = scheme + "://" + mb.HTTPAddr
		nc, err := nf.client()
		if err != nil {
			return nil, err
		}
		out = append(out, meterNode{id: mb.ID, c: nc})
	}
	return out, nil
}
