package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/agent/client"
)

// newClusterCommand builds `aerolith cluster`: membership of a running cluster.
func newClusterCommand(m *Main) *cobra.Command {
	f := &clientFlags{}
	cmd := groupCommand("cluster", "Inspect and change the membership of a running cluster (needs the cluster admin key)")
	addAdminClientFlags(cmd, f)
	cmd.AddCommand(
		&cobra.Command{
			Use:   "status",
			Short: "Show the leader, raft state and indexes, and the members",
			Args:  argsBetween(0, 0, "(none)"),
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, err := f.client()
				if err != nil {
					return err
				}
				st, err := adminCluster(cmd, c)
				if err != nil {
					return err
				}
				if f.json() {
					return writeJSON(m.Stdout, st)
				}
				return printClusterStatus(m.Stdout, st)
			},
		},
		&cobra.Command{
			Use:   "members",
			Short: "List the cluster members",
			Args:  argsBetween(0, 0, "(none)"),
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, err := f.client()
				if err != nil {
					return err
				}
				st, err := adminCluster(cmd, c)
				if err != nil {
					return err
				}
				if f.json() {
					members := st.Members
					if members == nil {
						members = []client.Member{}
					}
					return writeJSON(m.Stdout, members)
				}
				return printMembers(m.Stdout, st.Members)
			},
		},
		newClusterJoinCommand(m, f),
		&cobra.Command{
			Use:   "remove NODE_ID",
			Short: "Remove a node from the cluster",
			Args:  argsBetween(1, 1, "NODE_ID"),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := f.client()
				if err != nil {
					return err
				}
				if err := c.Remove(cmd.Context(), args[0]); err != nil {
					return err
				}
				if f.json() {
					return writeJSON(m.Stdout, map[string]any{"node_id": args[0], "removed": true})
				}
				_, err = fmt.Fprintf(m.Stdout, "removed %s\n", args[0])
				return err
			},
		},
	)
	cmd.AddCommand(newClusterDataKeysCommands(m, f)...)
	cmd.AddCommand(newClusterTenantsCommand(m))
	cmd.AddCommand(newClusterTokenCommand(m))
	cmd.AddCommand(newClusterProvisionCommands(m, f)...)
	return cmd
}

func newClusterJoinCommand(m *Main, f *clientFlags) *cobra.Command {
	var httpAddr string
	cmd := &cobra.Command{
		Use:   "join NODE_ID RAFT_ADDR",
		Short: "Add a node to the cluster",
		Long: `Add the node NODE_ID, reachable for raft at RAFT_ADDR, to the cluster. The
request may go to any member; it is forwarded to the leader, and repeating it
is harmless. The node joins as a non-voter and the leader promotes it to voter
once it has caught up (see "cluster members").

An agent started with --join <address of a member> joins by itself; this
command is for adding a node by hand. Do not add a node that has formed a
cluster of its own (started with neither --join nor --bootstrap-expect): its
log conflicts with the cluster's.`,
		Example: `  aerolith cluster join node4 10.0.0.4:7071 --http-addr 10.0.0.4:7070`,
		Args:    argsBetween(2, 2, "NODE_ID RAFT_ADDR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.Join(cmd.Context(), args[0], args[1], httpAddr); err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, map[string]any{"node_id": args[0], "raft_addr": args[1], "http_addr": httpAddr, "joined": true})
			}
			_, err = fmt.Fprintf(m.Stdout, "joined %s (raft %s)\n", args[0], args[1])
			return err
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http-addr", "", "the node's HTTP API address (host:port)")
	return cmd
}

// adminCluster returns the cluster admin's view of the cluster. A tenant
// key gets only the client endpoints, which must not print as a cluster
// without a leader, term or members.
func adminCluster(cmd *cobra.Command, c *client.Client) (*client.ClusterStatus, error) {
	st, err := c.Cluster(cmd.Context())
	if err != nil {
		return nil, err
	}
	if st.Endpoints != nil {
		return nil, fmt.Errorf("%s: the key is a tenant key, which sees only the client endpoints; this command needs the cluster admin key: --admin-key or %s", cmd.CommandPath(), envAdminKey)
	}
	return st, nil
}

func printClusterStatus(w io.Writer, st *client.ClusterStatus) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "NODE\t%s\n", orDash(st.NodeID))
	fmt.Fprintf(tw, "STATE\t%s\n", orDash(st.State))
	leader := "none (election in progress or no quorum)"
	if st.LeaderID != "" {
		leader = st.LeaderID
		if st.Leader != nil {
			leader += fmt.Sprintf("  raft %s  http %s", orDash(st.Leader.RaftAddr), orDash(st.Leader.HTTPAddr))
		}
	}
	fmt.Fprintf(tw, "LEADER\t%s\n", leader)
	fmt.Fprintf(tw, "TERM\t%d\n", st.Term)
	fmt.Fprintf(tw, "COMMIT INDEX\t%d\n", st.CommitIndex)
	fmt.Fprintf(tw, "APPLIED INDEX\t%d\n", st.AppliedIndex)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return printMembers(w, st.Members)
}

func printMembers(w io.Writer, members []client.Member) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tRAFT ADDR\tHTTP ADDR\tVOTER\tLEADER")
	for _, mb := range members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", mb.ID, orDash(mb.RaftAddr), orDash(mb.HTTPAddr), yesNo(mb.Voter), yesNo(mb.Leader))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
