package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/agent/client"
)

// newDocCommand builds `aerolith doc`: single-document reads and writes.
func newDocCommand(m *Main) *cobra.Command {
	f := &clientFlags{}
	cmd := groupCommand("doc", "Create, read, update, delete, list and query documents")
	addClientFlags(cmd, f)
	cmd.AddCommand(
		newDocPutCommand(m, f),
		newDocGetCommand(m, f),
		newDocDeleteCommand(m, f),
		newDocListCommand(m, f),
		newDocQueryCommand(m, f),
	)
	return cmd
}

func newDocPutCommand(m *Main, f *clientFlags) *cobra.Command {
	var data, file string
	var ifVersion uint64
	cmd := &cobra.Command{
		Use:   "put COLLECTION [ID]",
		Short: "Store a document: create it (no ID) or create/replace the document ID",
		Long: `Store a document. The JSON object comes from --data, --file or standard input.
Without ID the server creates a new document and assigns its id; with ID the
document is created or replaced (an upsert), or with --if-version only replaced
when it is at that version.`,
		Example: `  aerolith doc put users --data '{"name":"ada","age":36}'
  aerolith doc put users u42 --file user.json
  echo '{"name":"bob"}' | aerolith doc put users u43 --if-version 2`,
		Args: argsBetween(1, 2, "COLLECTION [ID]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if data != "" && file != "" {
				return usageError{fmt.Errorf("--data and --file: give only one")}
			}
			if ifVersion != 0 && len(args) < 2 {
				return usageError{fmt.Errorf("--if-version: needs an ID")}
			}
			body, err := readDocumentInput(m.Stdin, data, file)
			if err != nil {
				return err
			}
			var doc *client.Document
			created := true
			if len(args) == 1 {
				doc, err = c.Create(cmd.Context(), args[0], body)
			} else {
				var opts []client.Option
				if ifVersion != 0 {
					opts = append(opts, client.IfMatch(ifVersion))
				}
				var res *client.PutResult
				res, err = c.Put(cmd.Context(), args[0], args[1], body, opts...)
				if res != nil {
					doc, created = &res.Document, res.Created
				}
			}
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, doc)
			}
			verb := "updated"
			if created {
				verb = "created"
			}
			_, err = fmt.Fprintf(m.Stdout, "%s %s/%s version %d\n", verb, args[0], doc.ID, doc.Version)
			return err
		},
	}
	cmd.Flags().StringVarP(&data, "data", "d", "", "the document as a JSON object")
	cmd.Flags().StringVarP(&file, "file", "f", "", "read the JSON object from this file (- for standard input)")
	cmd.Flags().Uint64Var(&ifVersion, "if-version", 0, "replace only if the document is at this version")
	return cmd
}

// readDocumentInput returns the JSON object given by --data, --file or stdin.
func readDocumentInput(stdin io.Reader, data, file string) (json.RawMessage, error) {
	if data != "" {
		return parseObjectFlag("data", data)
	}
	src, name := stdin, "standard input"
	if file != "" && file != "-" {
		fh, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		src, name = fh, file
	}
	b, err := io.ReadAll(io.LimitReader(src, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	obj, err := parseObject(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return obj, nil
}

func newDocGetCommand(m *Main, f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get COLLECTION ID",
		Short: "Print one document",
		Args:  argsBetween(2, 2, "COLLECTION ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			doc, err := c.Get(cmd.Context(), args[0], args[1], f.readOpts()...)
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, doc)
			}
			return printDocument(m.Stdout, doc)
		},
	}
}

func printDocument(w io.Writer, doc *client.Document) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "ID\t%s\n", doc.ID)
	fmt.Fprintf(tw, "VERSION\t%d\n", doc.Version)
	fmt.Fprintf(tw, "CREATED\t%s\n", formatTime(doc.CreatedAt))
	fmt.Fprintf(tw, "UPDATED\t%s\n", formatTime(doc.UpdatedAt))
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeJSON(w, doc.Data)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func newDocDeleteCommand(m *Main, f *clientFlags) *cobra.Command {
	var ifVersion uint64
	cmd := &cobra.Command{
		Use:   "delete COLLECTION ID",
		Short: "Delete one document",
		Args:  argsBetween(2, 2, "COLLECTION ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			var opts []client.Option
			if ifVersion != 0 {
				opts = append(opts, client.IfMatch(ifVersion))
			}
			if err := c.Delete(cmd.Context(), args[0], args[1], opts...); err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, map[string]any{"collection": args[0], "id": args[1], "deleted": true})
			}
			_, err = fmt.Fprintf(m.Stdout, "deleted %s/%s\n", args[0], args[1])
			return err
		},
	}
	cmd.Flags().Uint64Var(&ifVersion, "if-version", 0, "delete only if the document is at this version")
	return cmd
}

func newDocListCommand(m *Main, f *clientFlags) *cobra.Command {
	var limit, offset int
	cmd := &cobra.Command{
		Use:   "list COLLECTION",
		Short: "List documents in id order, one page at a time",
		Args:  argsBetween(1, 1, "COLLECTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 || offset < 0 {
				return usageError{fmt.Errorf("--limit and --offset must not be negative")}
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			page, err := c.List(cmd.Context(), args[0], limit, offset, f.readOpts()...)
			if err != nil {
				return err
			}
			return printPage(m.Stdout, f, page)
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, "documents per page (default: the server's)")
	cmd.Flags().IntVar(&offset, "offset", 0, "documents to skip")
	return cmd
}

func newDocQueryCommand(m *Main, f *clientFlags) *cobra.Command {
	var filter, sort string
	var limit, offset int
	var explain bool
	cmd := &cobra.Command{
		Use:   "query COLLECTION",
		Short: "Find documents with a MongoDB-style filter",
		Example: `  aerolith doc query users --filter '{"age":{"$gte":30}}' --sort '{"age":-1}' --limit 10
  aerolith doc query users --filter '{"$or":[{"city":"Paris"},{"city":"Oslo"}]}' --explain`,
		Args: argsBetween(1, 1, "COLLECTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 || offset < 0 {
				return usageError{fmt.Errorf("--limit and --offset must not be negative")}
			}
			q := client.Query{Limit: limit, Offset: offset, Explain: explain}
			if filter != "" {
				raw, err := parseObjectFlag("filter", filter)
				if err != nil {
					return err
				}
				q.Filter = raw
			}
			if sort != "" {
				raw, err := parseObjectFlag("sort", sort)
				if err != nil {
					return err
				}
				q.Sort = raw
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			page, err := c.Query(cmd.Context(), args[0], q, f.readOpts()...)
			if err != nil {
				return err
			}
			return printPage(m.Stdout, f, page)
		},
	}
	cmd.Flags().StringVar(&filter, "filter", "", `filter as a JSON object, e.g. '{"age":{"$gt":30}}' (default: every document)`)
	cmd.Flags().StringVar(&sort, "sort", "", `sort as a JSON object of field: 1 or -1, e.g. '{"age":-1,"name":1}'`)
	cmd.Flags().IntVar(&limit, "limit", 0, "documents per page (default: the server's)")
	cmd.Flags().IntVar(&offset, "offset", 0, "documents to skip")
	cmd.Flags().BoolVar(&explain, "explain", false, "also print the query plan")
	return cmd
}

// printPage prints a List or Query answer.
func printPage(w io.Writer, f *clientFlags, page *client.Page) error {
	if f.json() {
		return writeJSON(w, page)
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tVERSION\tDATA")
	for _, d := range page.Documents {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", d.ID, d.Version, compactJSON(d.Data, 100))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	first := page.Offset + 1
	if len(page.Documents) == 0 {
		first = page.Offset
	}
	fmt.Fprintf(w, "(%d-%d of %d)\n", first, page.Offset+len(page.Documents), page.Total)
	if len(page.Explain) > 0 {
		return printExplain(w, page.Explain)
	}
	return nil
}

// printExplain shows a query plan: whether an index served the query, how
// many documents were read, and the plan's steps.
func printExplain(w io.Writer, raw json.RawMessage) error {
	var ex struct {
		Index   string `json:"index"`
		Scanned int    `json:"scanned"`
		Plan    string `json:"plan"`
	}
	if err := json.Unmarshal(raw, &ex); err != nil || ex.Plan == "" {
		fmt.Fprintln(w, "explain:")
		return writeJSON(w, raw)
	}
	index := "none: every document of the collection was read"
	if ex.Index != "" {
		index = ex.Index
	}
	fmt.Fprintln(w, "explain:")
	tw := newTable(w)
	fmt.Fprintf(tw, "  index\t%s\n", index)
	fmt.Fprintf(tw, "  scanned\t%s\n", plural(ex.Scanned, "document"))
	fmt.Fprintf(tw, "  plan\t%s\n", ex.Plan)
	return tw.Flush()
}

// plural renders n with noun, adding an s unless n is 1: "1 document",
// "2 documents".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
