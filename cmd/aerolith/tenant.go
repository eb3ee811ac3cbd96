package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
)

// newTenantCommand builds `aerolith tenant`: billed customers.
func newTenantCommand(m *Main) *cobra.Command {
	f := &billingFlags{}
	cmd := groupCommand("tenant", "Manage billing tenants (create, list, show, set-tier, suspend, resume, delete, audit, keys)")
	addBillingFlags(cmd, f)
	cmd.AddCommand(
		newTenantCreateCommand(m, f),
		newTenantListCommand(m, f),
		newTenantShowCommand(m, f),
		newTenantSetTierCommand(m, f),
		newTenantSuspendCommand(m, f),
		newTenantResumeCommand(m, f),
		newTenantDeleteCommand(m, f),
		newTenantAuditCommand(m, f),
		newTenantKeysCommand(m, f),
	)
	return cmd
}

// newTenantCreateCommand builds `aerolith tenant create`.
func newTenantCreateCommand(m *Main, f *billingFlags) *cobra.Command {
	var req billingclient.TenantRequest
	create := &cobra.Command{
		Use:     "create",
		Short:   "Create a tenant on a tier",
		Example: `  aerolith tenant create --org "Acme Inc" --name acme --email ap@acme.example --tier starter`,
		Args:    argsBetween(0, 0, "(none; use the flags)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := c.CreateTenant(cmd.Context(), req)
			if err != nil {
				return err
			}
			return printTenant(m.Stdout, f, t, "created")
		},
	}
	create.Flags().StringVar(&req.Organization, "org", "", "organization (required)")
	create.Flags().StringVar(&req.Name, "name", "", "tenant name (required)")
	create.Flags().StringVar(&req.Email, "email", "", "billing email (required)")
	create.Flags().StringVar(&req.Tier, "tier", "free", "tier: free, starter, professional, enterprise or one of the tiers file")
	return apiFields(create, "organization", "--org", "name", "--name", "email", "--email", "tier", "--tier")
}

// newTenantListCommand builds `aerolith tenant list`.
func newTenantListCommand(m *Main, f *billingFlags) *cobra.Command {
	var all bool
	var limit, offset int
	list := &cobra.Command{
		Use:   "list",
		Short: "List tenants",
		Args:  argsBetween(0, 0, "(none)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The client leaves a negative page out of the request, so the
			// service would answer for its defaults without a word.
			if limit < 0 || offset < 0 {
				return usageError{fmt.Errorf("--limit and --offset: must be >= 0, got %d and %d", limit, offset)}
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			page, err := c.ListTenants(cmd.Context(), billingclient.ListTenantsOptions{Limit: limit, Offset: offset, IncludeDeleted: all})
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, page)
			}
			tw := newTable(m.Stdout)
			fmt.Fprintln(tw, "ID\tNAME\tORGANIZATION\tTIER\tSTATUS\tCREDIT\tCREATED")
			for _, t := range page.Tenants {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Organization, t.Tier, tenantStatus(t), formatCents(t.CreditCents), billingTime(t.CreatedAt))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.Total > len(page.Tenants) {
				_, err = fmt.Fprintf(m.Stdout, "(%d of %d; use --limit and --offset for more)\n", len(page.Tenants), page.Total)
			}
			return err
		},
	}
	list.Flags().BoolVar(&all, "all", false, "include deleted tenants")
	list.Flags().IntVar(&limit, "limit", 0, "page size (default 100, at most 1000)")
	list.Flags().IntVar(&offset, "offset", 0, "tenants to skip")
	return apiFields(list, "limit", "--limit", "offset", "--offset")
}

// newTenantShowCommand builds `aerolith tenant show`.
func newTenantShowCommand(m *Main, f *billingFlags) *cobra.Command {
	show := &cobra.Command{
		Use:   "show TENANT_ID",
		Short: "Show a tenant",
		Args:  argsBetween(1, 1, "TENANT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := c.GetTenant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printTenant(m.Stdout, f, t, "")
		},
	}
	return show
}

// newTenantSetTierCommand builds `aerolith tenant set-tier`.
func newTenantSetTierCommand(m *Main, f *billingFlags) *cobra.Command {
	setTier := &cobra.Command{
		Use:   "set-tier TENANT_ID TIER",
		Short: "Move a tenant to another tier from now on (the period is prorated by the second)",
		Args:  argsBetween(2, 2, "TENANT_ID TIER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			t, changed, err := c.ChangeTier(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, struct {
					contract.Tenant
					Unchanged bool `json:"unchanged,omitempty"`
				}{t, !changed})
			}
			if !changed {
				fmt.Fprintf(m.Stdout, "tier unchanged: tenant %s is already on %s (nothing was changed or recorded)\n", t.ID, t.Tier)
				return nil
			}
			return printTenant(m.Stdout, f, t, "tier set")
		},
	}
	return apiFields(setTier, "tier", "TIER")
}

// newTenantSuspendCommand builds `aerolith tenant suspend`.
func newTenantSuspendCommand(m *Main, f *billingFlags) *cobra.Command {
	var reason string
	suspend := &cobra.Command{
		Use:   "suspend TENANT_ID",
		Short: "Suspend a tenant (its policy then says suspended and agents block it)",
		Args:  argsBetween(1, 1, "TENANT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := c.SuspendTenant(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			return printTenant(m.Stdout, f, t, "suspended")
		},
	}
	suspend.Flags().StringVar(&reason, "reason", "", `reason recorded in the audit trail (default "manual")`)
	return apiFields(suspend, "reason", "--reason")
}

// newTenantResumeCommand builds `aerolith tenant resume`.
func newTenantResumeCommand(m *Main, f *billingFlags) *cobra.Command {
	var reason string
	resume := &cobra.Command{
		Use:   "resume TENANT_ID",
		Short: "Reactivate a suspended tenant (invoices past due now no longer suspend it for dunning)",
		Args:  argsBetween(1, 1, "TENANT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := c.ResumeTenant(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			return printTenant(m.Stdout, f, t, "resumed")
		},
	}
	resume.Flags().StringVar(&reason, "reason", "", "reason recorded in the audit trail")
	return apiFields(resume, "reason", "--reason")
}

// newTenantDeleteCommand builds `aerolith tenant delete`.
func newTenantDeleteCommand(m *Main, f *billingFlags) *cobra.Command {
	var yes bool
	del := &cobra.Command{
		Use:   "delete TENANT_ID",
		Short: "Delete a tenant (soft: invoices, payments and audit trail are kept; a final invoice covers the period so far; asks first, --yes to skip)",
		Long: `Delete a tenant: it is billed a final prorated invoice for the period so far
and can no longer be served; its invoices, payments and audit trail are kept.
On a terminal the command shows the tenant and asks you to type its name;
scripts pass --yes (without a terminal and without --yes it refuses).`,
		Example: `  aerolith tenant delete tn_0123
  aerolith tenant delete tn_0123 --yes`,
		Args: argsBetween(1, 1, "TENANT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if !yes {
				t, err := c.GetTenant(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				action := fmt.Sprintf("delete tenant %s %q of %q (tier %s) and issue its final invoice", t.ID, t.Name, t.Organization, t.Tier)
				if err := m.confirm(false, action, t.Name); err != nil {
					return err
				}
			}
			t, err := c.DeleteTenant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printTenant(m.Stdout, f, t, "deleted")
		},
	}
	del.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking")
	return del
}

// newTenantAuditCommand builds `aerolith tenant audit`.
func newTenantAuditCommand(m *Main, f *billingFlags) *cobra.Command {
	var auditAfter uint64
	var auditLimit int
	var auditAll bool
	audit := &cobra.Command{
		Use:   "audit TENANT_ID",
		Short: "Show a tenant's billing audit trail, oldest first (a page; --all for every entry)",
		Example: `  aerolith tenant audit tn_0123 --limit 20
  aerolith tenant audit tn_0123 --after 20      # the next page
  aerolith tenant audit tn_0123 --all -o json`,
		Args: argsBetween(1, 1, "TENANT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if auditLimit < 0 {
				return usageError{fmt.Errorf("--limit: must be >= 0 (0: the service's page size), got %d", auditLimit)}
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			var entries []contract.AuditEntry
			next := auditAfter
			for {
				p, err := c.Audit(cmd.Context(), args[0], next, auditLimit)
				if err != nil {
					return err
				}
				entries = append(entries, p.Entries...)
				next = p.Next
				if !auditAll || next == 0 {
					break
				}
			}
			if f.json() {
				if entries == nil {
					entries = []contract.AuditEntry{}
				}
				return writeJSON(m.Stdout, entries)
			}
			tw := newTable(m.Stdout)
			fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tENTITY\tDETAILS")
			for _, e := range entries {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, billingTime(e.Time), e.Actor, e.Action, e.EntityID, auditDetails(e.Details))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if next != 0 {
				_, err = fmt.Fprintf(m.Stdout, "(more: --after %d, or --all)\n", next)
			}
			return err
		},
	}
	audit.Flags().Uint64Var(&auditAfter, "after", 0, "start after this sequence number (the \"more\" line of the previous page)")
	audit.Flags().IntVar(&auditLimit, "limit", 0, "entries per page (0: the service's default)")
	audit.Flags().BoolVar(&auditAll, "all", false, "fetch every page")
	return apiFields(audit, "after", "--after", "limit", "--limit")
}

// newTenantKeysCommand builds `aerolith tenant keys`: a tenant's billing
// keys, read keys and tenant keys.
func newTenantKeysCommand(m *Main, f *billingFlags) *cobra.Command {
	cmd := groupCommand("keys", "Manage a tenant's billing API keys (read keys, and tenant keys that manage the tenant's own clusters and keys)")
	cmd.AddCommand(
		newTenantKeysCreateCommand(m, f),
		newTenantKeysListCommand(m, f),
		newTenantKeysRevokeCommand(m, f),
	)
	return cmd
}

// newTenantKeysCreateCommand builds `aerolith tenant keys create`.
func newTenantKeysCreateCommand(m *Main, f *billingFlags) *cobra.Command {
	var name, role string
	create := &cobra.Command{
		Use:   "create TENANT_ID",
		Short: "Create a billing key scoped to the tenant (shown once): --role read (default) or tenant",
		Long: `Create a billing API key scoped to the tenant; the key is shown only now.

--role read (the default): reads the tenant's own record, usage, invoices,
payments and audit trail.
--role tenant: a customer's own credential (e.g. for the Terraform
provider): also registers, scales and deregisters the tenant's own
clusters, changes its tier and manages its keys; nothing of any other
tenant. Only the admin key creates tenant keys.`,
		Args: argsBetween(1, 1, "TENANT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role != billingclient.RoleRead && role != billingclient.RoleTenant {
				return usageError{fmt.Errorf("--role: %q is not a key role (want %s or %s)", role, billingclient.RoleRead, billingclient.RoleTenant)}
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			create := c.CreateKey
			if role == billingclient.RoleTenant {
				create = c.CreateTenantKey
			}
			k, err := create(cmd.Context(), args[0], name)
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, k)
			}
			_, err = fmt.Fprintf(m.Stdout, "created %s key %s for tenant %s; it is shown only now:\n%s\n", k.Role, k.ID, k.TenantID, k.Key)
			return err
		},
	}
	create.Flags().StringVar(&name, "name", "", "a name to recognise the key by")
	create.Flags().StringVar(&role, "role", billingclient.RoleRead, "read, or tenant (acts for the tenant: its clusters and keys)")
	return apiFields(create, "name", "--name", "role", "--role")
}

// newTenantKeysListCommand builds `aerolith tenant keys list`.
func newTenantKeysListCommand(m *Main, f *billingFlags) *cobra.Command {
	list := &cobra.Command{
		Use:   "list TENANT_ID",
		Short: "List the tenant's billing keys (never the keys themselves)",
		Args:  argsBetween(1, 1, "TENANT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			keys, err := c.ListKeys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, keys)
			}
			tw := newTable(m.Stdout)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tLAST4\tCREATED\tREVOKED")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, k.Last4, billingTime(k.CreatedAt), billingTime(k.RevokedAt))
			}
			return tw.Flush()
		},
	}
	return list
}

// newTenantKeysRevokeCommand builds `aerolith tenant keys revoke`.
func newTenantKeysRevokeCommand(m *Main, f *billingFlags) *cobra.Command {
	revoke := &cobra.Command{
		Use:   "revoke TENANT_ID KEY_ID",
		Short: "Revoke a billing key of the tenant (either role)",
		Args:  argsBetween(2, 2, "TENANT_ID KEY_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			k, err := c.RevokeKey(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, k)
			}
			_, err = fmt.Fprintf(m.Stdout, "revoked key %s of tenant %s\n", k.ID, k.TenantID)
			return err
		},
	}
	return revoke
}

// auditDetails renders an audit entry's details as key=value pairs in
// key order.
func auditDetails(d map[string]string) string {
	keys := slices.Sorted(maps.Keys(d))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(d[k])
	}
	return strings.Join(parts, " ")
}

// tenantStatus renders a tenant's status with its suspension reason.
func tenantStatus(t contract.Tenant) string {
	if t.Status == contract.StatusSuspended && t.SuspendReason != "" {
		return string(t.Status) + " (" + t.SuspendReason + ")"
	}
	return string(t.Status)
}

// printTenant prints one tenant: JSON, or a headline and its fields.
func printTenant(w io.Writer, f *billingFlags, t contract.Tenant, verb string) error {
	if f.json() {
		return writeJSON(w, t)
	}
	if verb != "" {
		fmt.Fprintf(w, "%s tenant %s\n", verb, t.ID)
	}
	tw := newTable(w)
	rows := [][2]string{
		{"id", t.ID}, {"name", t.Name}, {"organization", t.Organization}, {"email", t.Email},
		{"tier", t.Tier}, {"status", tenantStatus(t)}, {"credit", formatCents(t.CreditCents)},
		{"created", billingTime(t.CreatedAt)}, {"billed through", billingTime(t.BilledThrough)},
	}
	if !t.DeletedAt.IsZero() {
		rows = append(rows, [2]string{"deleted", billingTime(t.DeletedAt)})
	}
	if len(t.TierHistory) > 1 {
		var hist []string
		for _, h := range t.TierHistory {
			hist = append(hist, h.Tier+" from "+billingTime(h.From))
		}
		rows = append(rows, [2]string{"tier history", strings.Join(hist, "; ")})
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}
