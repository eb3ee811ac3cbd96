package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newClusterTokenCommand builds `aerolith cluster enrollment-token`: a new
// enrollment token for a registered cluster, from billing (admin key, or
// the key of the tenant that owns the cluster).
func newClusterTokenCommand(m *Main) *cobra.Command {
	f := &billingFlags{}
	var revoke bool
	cmd := &cobra.Command{
		Use:   "enrollment-token CLUSTER_ID",
		Short: "Issue a new enrollment token for a registered cluster (a lost or leaked one)",
		Long: `Billing issues the cluster a new enrollment token and shows it once. The
earlier tokens keep working, so nodes still holding a lost token keep
reporting usage. With --revoke-previous they stop at once (a leaked token):
start the nodes with the new token, then expect the old ones to be refused.
A cluster holds at most 8 tokens without --revoke-previous.`,
		Example: `  aerolith cluster enrollment-token cl_0123 -o json | jq -r .enrollment_token`,
		Args:    argsBetween(1, 1, "CLUSTER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			out, err := c.IssueEnrollmentToken(cmd.Context(), args[0], revoke)
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, out)
			}
			kept := "the earlier tokens keep working"
			if revoke {
				kept = "the earlier tokens are revoked"
			}
			_, err = fmt.Fprintf(m.Stdout, "new enrollment token of cluster %s (%s; shown once):\n%s\n", out.ClusterID, kept, out.EnrollmentToken)
			return err
		},
	}
	addBillingFlags(cmd, f)
	cmd.Flags().BoolVar(&revoke, "revoke-previous", false, "revoke the cluster's earlier enrollment tokens")
	return cmd
}
