package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/agent/httpapi"
)

// maxChunkBytes keeps each import batch well under the agent's default
// 2 MiB request body limit.
const maxChunkBytes = 1 << 20

// newBatchCommand builds `aerolith batch`: bulk import and export.
func newBatchCommand(m *Main) *cobra.Command {
	f := &clientFlags{}
	cmd := groupCommand("batch", "Import and export collections in bulk (JSON Lines or CSV)")
	addClientFlags(cmd, f)
	cmd.AddCommand(newBatchImportCommand(m, f), newBatchExportCommand(m, f))
	return cmd
}

func newBatchImportCommand(m *Main, f *clientFlags) *cobra.Command {
	var file, format, idField string
	var batchSize int
	cmd := &cobra.Command{
		Use:   "import COLLECTION",
		Short: "Import documents from a JSON Lines or CSV file",
		Long: `Import documents into COLLECTION.

JSON Lines: one JSON object per line (blank lines are skipped). CSV: the header
row names the fields, dot paths ("address.city") build nested objects; cells
are typed: null, true, false, JSON numbers and JSON arrays/objects are parsed,
anything else is a string, and an empty cell leaves the field out.

The field named by --id-field (default "id"), when present, is the document id
and is not stored in the data; records without it get a generated id. Existing
documents with the same id are replaced.

The whole input is validated first: on bad input nothing is imported and the
error names the line. Documents are then written in atomic batches of
--batch-size; if the server rejects a batch, the batches before it stay
imported and the error says how many documents that was.`,
		Example: `  aerolith batch import users --file users.jsonl
  aerolith batch import users --file users.csv --id-field email --batch-size 200
  cat users.jsonl | aerolith batch import users --format jsonl`,
		Args: argsBetween(1, 1, "COLLECTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if batchSize < 1 || batchSize > httpapi.MaxBatchOps {
				return usageError{fmt.Errorf("--batch-size: %d is out of range: the agent takes 1 to %d operations per batch", batchSize, httpapi.MaxBatchOps)}
			}
			if err := document.ValidateCollection(args[0]); err != nil {
				return usageError{err}
			}
			format, err := resolveFormat(format, file)
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			open, err := inputOpener(m.Stdin, file)
			if err != nil {
				return err
			}
			imp := &importer{client: c, collection: args[0], format: format, idField: idField, batchSize: batchSize}
			n, err := imp.run(cmd.Context(), open)
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, map[string]any{"collection": args[0], "imported": n})
			}
			_, err = fmt.Fprintf(m.Stdout, "imported %s into %s\n", plural(n, "document"), args[0])
			return err
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "file to import (default: standard input)")
	cmd.Flags().StringVar(&format, "format", "", "jsonl or csv (default: from the file extension, else jsonl)")
	cmd.Flags().StringVar(&idField, "id-field", "id", "field holding the document id")
	cmd.Flags().IntVar(&batchSize, "batch-size", 500, fmt.Sprintf("documents per atomic batch (at most %d)", httpapi.MaxBatchOps))
	return cmd
}

// resolveFormat validates --format or infers it from the file name.
func resolveFormat(format, file string) (string, error) {
	if format == "" {
		if strings.EqualFold(filepath.Ext(file), ".csv") {
			return formatCSV, nil
		}
		return formatJSONL, nil
	}
	switch f := strings.ToLower(format); f {
	case formatJSONL, formatCSV:
		return f, nil
	case "ndjson", "json":
		return formatJSONL, nil
	}
	return "", usageError{fmt.Errorf("--format: unknown format %q: want jsonl or csv", format)}
}

// inputOpener returns a function that opens the import input from the
// start; it can be called twice (validation pass, then import pass).
// Standard input is read into memory once.
func inputOpener(stdin io.Reader, file string) (func() (io.ReadCloser, error), error) {
	if file != "" && file != "-" {
		if _, err := os.Stat(file); err != nil {
			return nil, err
		}
		return func() (io.ReadCloser, error) { return os.Open(file) }, nil
	}
	data, err := io.ReadAll(stdin)
	if err != nil {
		return nil, fmt.Errorf("read standard input: %w", err)
	}
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(data))), nil }, nil
}

// importer writes the records of one input into a collection.
type importer struct {
	client     *client.Client
	collection string
	format     string
	idField    string
	batchSize  int
	ids        idGenerator
}

// run validates the whole input, then imports it chunk by chunk. It returns
// how many documents were imported.
func (imp *importer) run(ctx context.Context, open func() (io.ReadCloser, error)) (int, error) {
	total, err := imp.pass(ctx, open, nil)
	if err != nil {
		return 0, err
	}
	if total == 0 {
		return 0, nil
	}
	return imp.pass(ctx, open, imp.client)
}

// pass reads every record; with c non-nil it also sends them in batches.
func (imp *importer) pass(ctx context.Context, open func() (io.ReadCloser, error), c *client.Client) (int, error) {
	in, err := open()
	if err != nil {
		return 0, err
	}
	defer in.Close()
	rr, err := newRecordReader(imp.format, in, imp.idField)
	if err != nil {
		return 0, err
	}
	var chunk []client.BatchOp
	var chunkBytes, firstLine, lastLine, done, count int
	flush := func() error {
		if c == nil || len(chunk) == 0 {
			return nil
		}
		if _, err := c.Batch(ctx, chunk); err != nil {
			return fmt.Errorf("lines %d-%d: batch rejected: %w (%s imported before it)", firstLine, lastLine, err, plural(done, "document"))
		}
		done += len(chunk)
		chunk, chunkBytes = chunk[:0], 0
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		rec, err := rr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return done, err
		}
		if rec.id != "" {
			// Checked here so bad ids fail the validation pass, before
			// anything is imported.
			if err := document.ValidateRequestID(rec.id); err != nil {
				return done, fmt.Errorf("line %d: %v", rec.line, err)
			}
		}
		count++
		if c == nil {
			continue
		}
		if len(chunk) > 0 && (len(chunk) >= imp.batchSize || chunkBytes+len(rec.data) > maxChunkBytes) {
			if err := flush(); err != nil {
				return done, err
			}
		}
		if len(chunk) == 0 {
			firstLine = rec.line
		}
		lastLine = rec.line
		id := rec.id
		if id == "" {
			id = imp.ids.next()
		}
		chunk = append(chunk, client.BatchOp{Op: client.OpPut, Collection: imp.collection, ID: id, Data: rec.data})
		chunkBytes += len(rec.data) + len(id)
	}
	if c == nil {
		return count, nil
	}
	if err := flush(); err != nil {
		return done, err
	}
	return done, nil
}

func newBatchExportCommand(m *Main, f *clientFlags) *cobra.Command {
	var file, format, idField string
	var pageSize int
	cmd := &cobra.Command{
		Use:   "export COLLECTION",
		Short: "Export every document of a collection as JSON Lines or CSV",
		Long: `Export COLLECTION, paging through all its documents in id order.

Each document is written as its data with the id added under --id-field
(default "id"), so the output can be imported again. CSV flattens nested
objects into dot-path columns ("address.city"), writes arrays as JSON, and has
one column per field found in any document: the id first, then the others in
sorted order. CSV export holds the collection in memory to compute the header.
CSV has no types: on import, cells reading null, true, false or a number are
typed again, and empty strings come back as absent fields.`,
		Example: `  aerolith batch export users > users.jsonl
  aerolith batch export users --format csv --file users.csv`,
		Args: argsBetween(1, 1, "COLLECTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pageSize < 1 {
				return usageError{fmt.Errorf("--page-size: must be at least 1")}
			}
			format, err := resolveFormat(format, file)
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			var out io.Writer = m.Stdout
			var fh *os.File
			if file != "" && file != "-" {
				if fh, err = os.Create(file); err != nil {
					return err
				}
				defer fh.Close()
				out = fh
			}
			exp := &exporter{client: c, collection: args[0], idField: idField, pageSize: pageSize, opts: f.readOpts()}
			n, err := exp.run(cmd.Context(), format, out)
			if err != nil {
				return err
			}
			if fh != nil {
				if err := fh.Close(); err != nil {
					return err
				}
				if f.json() {
					return writeJSON(m.Stdout, map[string]any{"collection": args[0], "exported": n, "file": file})
				}
				_, err = fmt.Fprintf(m.Stdout, "exported %s from %s to %s\n", plural(n, "document"), args[0], file)
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "write to this file (default: standard output)")
	cmd.Flags().StringVar(&format, "format", "", "jsonl or csv (default: from the file extension, else jsonl)")
	cmd.Flags().StringVar(&idField, "id-field", "id", "field the document id is written to")
	cmd.Flags().IntVar(&pageSize, "page-size", 500, "documents fetched per request")
	return cmd
}
