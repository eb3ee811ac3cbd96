package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
)

// newClusterTenantsCommand builds `aerolith cluster tenants`: which of
// billing's tenants a registered cluster serves. It talks to billing (the
// billing admin key), not to the cluster's agents, which pick the change
// up by themselves.
func newClusterTenantsCommand(m *Main) *cobra.Command {
	f := &billingFlags{}
	cmd := groupCommand("tenants", "List, add and remove the tenants a cluster serves (billing admin key)")
	cmd.Long = `A cluster registered in billing serves the tenants it was registered for;
these commands change them through the billing service (--billing-url and the
billing admin --key). Every agent of the cluster learns the change without a
restart: at its next tenant refresh (--policy-refresh, 30s), or at once when a
key is created for the tenant or one of its keys is used on that node.

Removing a tenant is refused while billing cannot tell that it has no data on
the cluster (billing sees usage, not documents): check on the cluster first,
then repeat with --force. Nothing is deleted: the tenant's data stays on the
cluster, its keys are refused there, and adding the tenant back serves it
again.`
	addBillingFlags(cmd, f)
	show := func(out billingclient.ClusterTenants, verb string) error {
		if f.json() {
			if out.Tenants == nil {
				out.Tenants = []string{}
			}
			return writeJSON(m.Stdout, out)
		}
		if verb != "" {
			fmt.Fprintln(m.Stdout, verb)
		}
		_, err := fmt.Fprintf(m.Stdout, "cluster %s serves %d tenant(s): %s\n", out.ClusterID, len(out.Tenants), strings.Join(out.Tenants, ", "))
		return err
	}
	list := &cobra.Command{
		Use:   "list CLUSTER_ID",
		Short: "List the tenants a cluster serves",
		Args:  argsBetween(1, 1, "CLUSTER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			out, err := c.ListClusterTenants(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return show(out, "")
		},
	}
	add := &cobra.Command{
		Use:     "add CLUSTER_ID TENANT_ID",
		Short:   "Make a cluster serve one more tenant (its agents follow without a restart)",
		Example: `  aerolith cluster tenants add cl_0123 tn_0456 && aerolith key create --tenant tn_0456 --role readwrite`,
		Args:    argsBetween(2, 2, "CLUSTER_ID TENANT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			out, err := c.AddClusterTenant(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			verb := "added tenant " + args[1]
			if out.Unchanged {
				verb = "unchanged: the cluster already serves tenant " + args[1]
			}
			return show(out, verb)
		},
	}
	var force bool
	remove := &cobra.Command{
		Use:   "remove CLUSTER_ID TENANT_ID",
		Short: "Stop a cluster serving a tenant (--force: its data is kept there, refused to its keys)",
		Args:  argsBetween(2, 2, "CLUSTER_ID TENANT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			out, err := c.RemoveClusterTenant(cmd.Context(), args[0], args[1], force)
			if err != nil {
				if billingclient.IsConflict(err) && !force {
					return fmt.Errorf("%w\n(nothing was changed; repeat with --force once the tenant's data may stay on the cluster unreachable)", err)
				}
				return err
			}
			return show(out, "removed tenant "+args[1]+": its data stays on the cluster, refused to its keys until it is added back")
		},
	}
	remove.Flags().BoolVar(&force, "force", false, "remove even though the tenant may still have data on the cluster (the data is kept, not deleted)")
	cmd.AddCommand(list, add, apiFields(remove, "force", "--force"))
	return cmd
}
