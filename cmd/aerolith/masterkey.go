package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/internal/seal"
)

// newMasterKeyCommand builds `aerolith master-key`: the master key of
// encryption at rest.
func newMasterKeyCommand(m *Main) *cobra.Command {
	cmd := groupCommand("master-key", "Master key of encryption at rest: create one")
	cmd.Long = `A master key enables encryption at rest: start every agent of a cluster with
--master-key-file pointing at a copy of the same key. It wraps the node's raft
log key, the snapshots' stream keys and the tenants' data keys; losing it makes
the data unreadable, so keep a copy somewhere safe (off the nodes).

  aerolith master-key create /etc/aerolith/master.key
  aerolith agent --master-key-file /etc/aerolith/master.key ...`
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd.AddCommand(&cobra.Command{
		Use:   "create FILE",
		Short: "Write a new random master key to FILE (mode 0600; never overwrites)",
		Args:  argsBetween(1, 1, "FILE"),
		RunE: func(_ *cobra.Command, args []string) error {
			mk, err := seal.GenerateMasterKey(args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(m.Stdout, "created master key %s in %s (0600): copy it to every node of the cluster and keep a backup off the nodes\n", mk.ID(), args[0])
			return err
		},
	})
	return cmd
}

// newClusterDataKeysCommands builds `aerolith cluster rotate-data-key` and
// `aerolith cluster data-keys` (encryption at rest).
func newClusterDataKeysCommands(m *Main, f *clientFlags) []*cobra.Command {
	var tenant string
	rotate := &cobra.Command{
		Use:   "rotate-data-key [--tenant T]",
		Short: "Rotate tenants' data keys of encryption at rest (needs the cluster admin key)",
		Long: `Make a new current data key for one tenant (--tenant) or every tenant. New
writes use it at once; reads and writes continue; documents sealed under older
keys stay readable and the leader re-encrypts them in the background, a batch
at a time. "aerolith cluster data-keys" shows the progress.`,
		Args: argsBetween(0, 0, "(none)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			out, err := c.RotateDataKeys(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, out)
			}
			for _, r := range out {
				fmt.Fprintf(m.Stdout, "%s: data key version %d\n", r.Tenant, r.Version)
			}
			return nil
		},
	}
	rotate.Flags().StringVar(&tenant, "tenant", "", "the tenant whose key to rotate; default: every tenant")
	status := &cobra.Command{
		Use:   "data-keys",
		Short: "Show tenants' data key versions and re-encryption progress (needs the cluster admin key)",
		Args:  argsBetween(0, 0, "(none)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			out, err := c.DataKeys(cmd.Context())
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, out)
			}
			for _, s := range out {
				fmt.Fprintf(m.Stdout, "%s: current version %d, %s not yet re-encrypted, by version %v\n", s.Tenant, s.CurrentVersion, plural(s.Pending, "document"), s.Documents)
			}
			return nil
		},
	}
	return []*cobra.Command{rotate, status}
}
