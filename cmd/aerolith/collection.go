package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/agent/client"
)

// newCollectionCommand builds `aerolith collection`: the tenant's
// collections.
func newCollectionCommand(m *Main) *cobra.Command {
	f := &clientFlags{}
	cmd := groupCommand("collection", "Create, list and drop the tenant's collections")
	addClientFlags(cmd, f)
	needsKey(cmd, keyTenantAdm)
	list := &cobra.Command{
		Use:   "list",
		Short: "List the collections with their documents, bytes and indexes",
		Args:  argsBetween(0, 0, "(none)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			colls, err := c.Collections(cmd.Context(), f.readOpts()...)
			if err != nil {
				return err
			}
			if colls == nil {
				colls = []client.CollectionInfo{}
			}
			if f.json() {
				return writeJSON(m.Stdout, map[string]any{"collections": colls})
			}
			return printCollections(m.Stdout, colls)
		},
	}
	create := &cobra.Command{
		Use:   "create COLLECTION",
		Short: "Create an empty collection (succeeds when it already exists)",
		Long: `Create COLLECTION without documents. A collection also appears with its
first document or index; creating it first makes it show in "collection list"
and count against the tenant's max_collections quota from the start. Creating
a collection that exists is not an error ("created": false in -o json).`,
		Example: `  aerolith collection create orders`,
		Args:    argsBetween(1, 1, "COLLECTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			created, err := c.CreateCollection(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, map[string]any{"collection": args[0], "created": created})
			}
			msg := "created collection %s\n"
			if !created {
				msg = "collection %s already exists\n"
			}
			_, err = fmt.Fprintf(m.Stdout, msg, args[0])
			return err
		},
	}
	var yes bool
	drop := &cobra.Command{
		Use:   "drop COLLECTION",
		Short: "Delete a collection with all its documents and indexes (asks first; --yes to skip)",
		Long: `Delete COLLECTION with all its documents and indexes. On a terminal the
command asks you to type the collection's name; scripts pass --yes (without a
terminal and without --yes it refuses).`,
		Example: `  aerolith collection drop scratch
  aerolith collection drop scratch --yes`,
		Args: argsBetween(1, 1, "COLLECTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := m.confirm(yes, fmt.Sprintf("drop collection %q with all its documents and indexes", args[0]), args[0]); err != nil {
				return err
			}
			if err := c.DropCollection(cmd.Context(), args[0]); err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, map[string]any{"collection": args[0], "dropped": true})
			}
			_, err = fmt.Fprintf(m.Stdout, "dropped collection %s\n", args[0])
			return err
		},
	}
	drop.Flags().BoolVarP(&yes, "yes", "y", false, "drop without asking")
	cmd.AddCommand(create, list, drop)
	return cmd
}

func printCollections(w io.Writer, colls []client.CollectionInfo) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tDOCUMENTS\tBYTES\tINDEXES")
	for _, c := range colls {
		idx := "-"
		if len(c.Indexes) > 0 {
			idx = strings.Join(c.Indexes, ",")
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", c.Name, c.Documents, c.Bytes, idx)
	}
	return tw.Flush()
}

// newIndexCommand builds `aerolith index`: secondary indexes of a
// collection.
func newIndexCommand(m *Main) *cobra.Command {
	f := &clientFlags{}
	cmd := groupCommand("index", "Create, list and drop secondary indexes of a collection")
	addClientFlags(cmd, f)
	needsKey(cmd, keyTenantAdm)
	create := &cobra.Command{
		Use:   "create COLLECTION FIELD",
		Short: "Index a field (a dot path such as address.city) of a collection",
		Long: `Create a secondary index on FIELD of COLLECTION. Queries whose filter
constrains the field (equality, ranges, $in) then read the index instead of
every document: "aerolith doc query --explain" shows the plan.`,
		Example: `  aerolith index create users city
  aerolith doc query users --filter '{"city":"Oslo"}' --explain`,
		Args: argsBetween(2, 2, "COLLECTION FIELD"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.CreateIndex(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, map[string]any{"collection": args[0], "field": args[1], "created": true})
			}
			_, err = fmt.Fprintf(m.Stdout, "created index on %s.%s\n", args[0], args[1])
			return err
		},
	}
	list := &cobra.Command{
		Use:   "list COLLECTION",
		Short: "List the indexed fields of a collection",
		Args:  argsBetween(1, 1, "COLLECTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			fields, err := c.Indexes(cmd.Context(), args[0], f.readOpts()...)
			if err != nil {
				return err
			}
			if fields == nil {
				fields = []string{}
			}
			if f.json() {
				return writeJSON(m.Stdout, map[string]any{"collection": args[0], "indexes": fields})
			}
			tw := newTable(m.Stdout)
			fmt.Fprintln(tw, "FIELD")
			for _, fd := range fields {
				fmt.Fprintln(tw, fd)
			}
			return tw.Flush()
		},
	}
	drop := &cobra.Command{
		Use:   "drop COLLECTION FIELD",
		Short: "Drop the index on a field (the documents stay)",
		Args:  argsBetween(2, 2, "COLLECTION FIELD"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.DropIndex(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, map[string]any{"collection": args[0], "field": args[1], "dropped": true})
			}
			_, err = fmt.Fprintf(m.Stdout, "dropped index on %s.%s\n", args[0], args[1])
			return err
		},
	}
	cmd.AddCommand(create, list, drop)
	return cmd
}
