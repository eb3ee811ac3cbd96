package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/internal/csvcell"
)

// exporter pages through a collection and writes it out.
type exporter struct {
	client     *client.Client
	collection string
	idField    string
	pageSize   int
	opts       []client.Option
}

// each calls fn for every document of the collection, in id order.
func (e *exporter) each(ctx context.Context, fn func(client.Document) error) (int, error) {
	n := 0
	for offset := 0; ; {
		page, err := e.client.List(ctx, e.collection, e.pageSize, offset, e.opts...)
		if err != nil {
			return n, err
		}
		for _, d := range page.Documents {
			if err := fn(d); err != nil {
				return n, err
			}
			n++
		}
		offset += len(page.Documents)
		if len(page.Documents) == 0 || offset >= page.Total {
			return n, nil
		}
	}
}

func (e *exporter) run(ctx context.Context, format string, w io.Writer) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var n int
	var err error
	switch format {
	case formatJSONL:
		n, err = e.each(ctx, func(d client.Document) error {
			line, err := e.jsonLine(d)
			if err != nil {
				return err
			}
			bw.Write(line)
			return bw.WriteByte('\n')
		})
	case formatCSV:
		n, err = e.csv(ctx, bw)
	default:
		return 0, fmt.Errorf("unknown format %q: want jsonl or csv", format)
	}
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// jsonLine renders a document as its data with the id field first.
func (e *exporter) jsonLine(d client.Document) ([]byte, error) {
	data := bytes.TrimSpace(d.Data)
	if len(data) == 0 || data[0] != '{' {
		return nil, fmt.Errorf("document %q: data is not a JSON object", d.ID)
	}
	var buf bytes.Buffer
	if e.idField == "" {
		if err := json.Compact(&buf, data); err != nil {
			return nil, fmt.Errorf("document %q: %v", d.ID, err)
		}
		return buf.Bytes(), nil
	}
	keep, err := e.ownsIDField(d)
	if err != nil {
		return nil, err
	}
	if keep {
		if err := json.Compact(&buf, data); err != nil {
			return nil, fmt.Errorf("document %q: %v", d.ID, err)
		}
		return buf.Bytes(), nil
	}
	key, _ := json.Marshal(e.idField)
	id, _ := json.Marshal(d.ID)
	buf.WriteByte('{')
	buf.Write(key)
	buf.WriteByte(':')
	buf.Write(id)
	if err := json.Compact(&buf, data); err != nil {
		return nil, fmt.Errorf("document %q: %v", d.ID, err)
	}
	// out is now {"id":"x"{...}: turn the data's opening brace into a
	// comma, or drop it when the data is the empty object.
	out := buf.Bytes()
	brace := len(key) + len(id) + 2
	if out[brace+1] == '}' {
		out[brace] = '}'
		return out[:brace+1], nil
	}
	out[brace] = ','
	return out, nil
}

// ownsIDField reports whether the document's data already has the id field
// with the document's id as value (then the data is written as it is). A
// different value is an error: writing either would lose the other.
func (e *exporter) ownsIDField(d client.Document) (bool, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(d.Data, &fields); err != nil {
		return false, fmt.Errorf("document %q: %v", d.ID, err)
	}
	raw, ok := fields[e.idField]
	if !ok {
		return false, nil
	}
	if id, err := idFromJSON(raw); err == nil && id == d.ID {
		return true, nil
	}
	return false, fmt.Errorf("document %q: its data has a field %q with another value (%s); export with another --id-field", d.ID, e.idField, compactJSON(raw, 40))
}

// csv writes the collection as CSV with a header that is the union of all
// flattened fields: the id column first, then the rest sorted. Every cell
// and column name goes through csvcell.Escape, so a value such as
// "=HYPERLINK(...)" is not run as a formula by a spreadsheet; import
// undoes it (csvcell.Unescape).
func (e *exporter) csv(ctx context.Context, w io.Writer) (int, error) {
	var rows []map[string]string
	columns := map[string]bool{}
	n, err := e.each(ctx, func(d client.Document) error {
		row := map[string]string{}
		var data any
		dec := json.NewDecoder(bytes.NewReader(d.Data))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			return fmt.Errorf("document %q: %v", d.ID, err)
		}
		obj, ok := data.(map[string]any)
		if !ok {
			return fmt.Errorf("document %q: data is not a JSON object", d.ID)
		}
		if e.idField != "" {
			if _, err := e.ownsIDField(d); err != nil {
				return err
			}
			delete(obj, e.idField) // equal to the id when present
		}
		if err := flatten(row, "", obj); err != nil {
			return fmt.Errorf("document %q: %v", d.ID, err)
		}
		for k := range row {
			columns[k] = true
		}
		if e.idField != "" {
			row[e.idField] = d.ID
		}
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		return n, err
	}
	header := make([]string, 0, len(columns)+1)
	for k := range columns {
		header = append(header, k)
	}
	slices.Sort(header)
	if e.idField != "" {
		header = append([]string{e.idField}, header...)
	}
	cw := csv.NewWriter(w)
	if len(header) > 0 {
		names := make([]string, len(header))
		for i, h := range header {
			names[i] = csvcell.Escape(h)
		}
		if err := cw.Write(names); err != nil {
			return n, err
		}
	}
	rec := make([]string, len(header))
	for _, row := range rows {
		for i, col := range header {
			rec[i] = csvcell.Escape(row[col])
		}
		if err := cw.Write(rec); err != nil {
			return n, err
		}
	}
	cw.Flush()
	return n, cw.Error()
}

// flatten writes the leaves of obj into row under dot paths. Arrays and
// empty objects are written as JSON; null as "null".
func flatten(row map[string]string, prefix string, obj map[string]any) error {
	for k, v := range obj {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			if err := flatten(row, path, m); err != nil {
				return err
			}
			continue
		}
		if _, dup := row[path]; dup {
			return fmt.Errorf("field %q appears twice once flattened (a key contains a dot)", path)
		}
		row[path] = cellText(v)
	}
	return nil
}

func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}
