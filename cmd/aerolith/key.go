package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/agent/tenancy"
	"github.com/aerolithdb/aerolith/internal/apiclient"
)

// apiKey is a tenant API key as the agent's /api/v1/keys routes show it.
type apiKey = client.APIKey

// newKeyCommand builds `aerolith key`: the tenant API keys of a managed
// cluster (data API keys, not billing's read keys of `aerolith tenant keys`).
func newKeyCommand(m *Main) *cobra.Command {
	f := &clientFlags{}
	cmd := groupCommand("key", "Create, list and revoke tenant API keys of a managed cluster (needs the cluster admin key)")
	addAdminClientFlags(cmd, f)

	var tenant, role, name string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API key for a tenant; the key is printed once",
		Long: `Create an API key scoped to a tenant with a role: read (get, list, query),
readwrite (also writes) or admin (also collections, indexes and the tenant's
own keys). The key string is shown once, only now: store it.`,
		Example: `  aerolith key create --tenant tn_demo --role readwrite --name ci`,
		Args:    argsBetween(0, 0, "(none; use the flags)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenant == "" {
				return usageError{fmt.Errorf("--tenant: required")}
			}
			if role == "" {
				return usageError{fmt.Errorf("--role: required (read, readwrite or admin)")}
			}
			var k apiKey
			body := map[string]string{"tenant": tenant, "role": role, "name": name}
			if err := keyCall(cmd.Context(), f, http.MethodPost, "/api/v1/keys", nil, body, &k); err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, k)
			}
			_, err := fmt.Fprintf(m.Stdout, "created key %s for tenant %s, role %s\n%s\n(the key is shown only now; store it)\n", k.ID, k.Tenant, k.Role, k.Key)
			return err
		},
	}
	create.Flags().StringVar(&tenant, "tenant", "", "tenant the key belongs to (required)")
	create.Flags().StringVar(&role, "role", "", "read, readwrite or admin (required)")
	create.Flags().StringVar(&name, "name", "", "label to tell keys apart")

	var listTenant string
	list := &cobra.Command{
		Use:     "list",
		Short:   "List a tenant's API keys (never the key strings)",
		Example: `  aerolith key list --tenant tn_demo`,
		Args:    argsBetween(0, 0, "(none; use --tenant)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if listTenant == "" {
				return usageError{fmt.Errorf("--tenant: required")}
			}
			var out struct {
				Keys []apiKey `json:"keys"`
			}
			if err := keyCall(cmd.Context(), f, http.MethodGet, "/api/v1/keys", url.Values{"tenant": {listTenant}}, nil, &out); err != nil {
				return err
			}
			if out.Keys == nil {
				out.Keys = []apiKey{}
			}
			if f.json() {
				return writeJSON(m.Stdout, out)
			}
			return printKeys(m.Stdout, out.Keys)
		},
	}
	list.Flags().StringVar(&listTenant, "tenant", "", "tenant whose keys to list (required)")

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key on every node at once",
		Long: `Revoke the API key ID (its 16 hex digits, as aerolith key list shows them)
on every node: when the command returns, no node accepts the key. The whole
key string may be given instead of its id; only the id is sent.`,
		Example: `  aerolith key revoke 3f9a0c1d2e4b5a69`,
		Args:    argsBetween(1, 1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := revokeID(args[0])
			if err != nil {
				return err
			}
			var k apiKey
			if err := keyCall(cmd.Context(), f, http.MethodDelete, "/api/v1/keys/"+url.PathEscape(id), nil, nil, &k); err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, k)
			}
			_, err = fmt.Fprintf(m.Stdout, "revoked key %s of tenant %s\n", k.ID, k.Tenant)
			return err
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// revokeID checks the ID argument of key revoke before it becomes a path
// segment: "" and ".." reached other routes ("no such route: DELETE
// /api/v1"). A whole key string is taken for its id, which is public; its
// secret is neither sent nor printed.
func revokeID(arg string) (string, error) {
	if rest, ok := strings.CutPrefix(arg, tenancy.KeyPrefix); ok {
		if id, _, ok := strings.Cut(rest, "_"); ok && tenancy.ValidID(id) {
			return id, nil
		}
		return "", usageError{errors.New("key id: the argument looks like a key string but holds no valid id; give the key's id (see aerolith key list)")}
	}
	if !tenancy.ValidID(arg) {
		return "", usageError{fmt.Errorf("key id %q: want the %d lowercase hex digits of the key's id (see aerolith key list), e.g. 3f9a0c1d2e4b5a69", clipArg(arg), tenancy.IDLen)}
	}
	return arg, nil
}

// clipArg shortens an argument quoted in an error.
func clipArg(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// keyCall sends one request of the key routes to the agent the flags name.
// Key creation is not resent after a broken connection (it could create a
// second key); list and revoke are idempotent.
func keyCall(ctx context.Context, f *clientFlags, method, path string, query url.Values, body, out any) error {
	api, err := f.apiClient()
	if err != nil {
		return err
	}
	req, err := apiclient.NewRequest(method, path, body)
	if err != nil {
		return err
	}
	req.Query = query
	req.Idempotent = method != http.MethodPost
	_, err = api.Call(ctx, req, out)
	return err
}

// printKeys writes keys as a table.
func printKeys(w io.Writer, keys []apiKey) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tTENANT\tROLE\tNAME\tCREATED\tREVOKED")
	for _, k := range keys {
		revoked := "-"
		if k.Revoked {
			revoked = "yes"
			if k.RevokedAt != nil {
				revoked = formatTime(*k.RevokedAt)
			}
		}
		name := k.Name
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Tenant, k.Role, name, formatTime(k.CreatedAt), revoked)
	}
	return tw.Flush()
}
