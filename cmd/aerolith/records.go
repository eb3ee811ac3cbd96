package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aerolithdb/aerolith/internal/csvcell"
	"github.com/aerolithdb/aerolith/internal/jsontext"
)

// Import and export file formats.
const (
	formatJSONL = "jsonl"
	formatCSV   = "csv"
)

// record is one document read from an import file.
type record struct {
	line int    // 1-based line where the record starts
	id   string // empty: none given
	data json.RawMessage
}

// recordReader yields the records of an import file; Next returns io.EOF
// after the last one. Errors name the line.
type recordReader interface {
	Next() (record, error)
}

func newRecordReader(format string, r io.Reader, idField string) (recordReader, error) {
	switch format {
	case formatJSONL:
		return &jsonlReader{r: bufio.NewReaderSize(r, 64<<10), idField: idField}, nil
	case formatCSV:
		return newCSVReader(r, idField)
	}
	return nil, fmt.Errorf("unknown format %q: want jsonl or csv", format)
}

// jsonlReader reads one JSON object per line; blank lines are skipped.
type jsonlReader struct {
	r       *bufio.Reader
	idField string
	line    int
}

func (j *jsonlReader) Next() (record, error) {
	for {
		b, err := j.r.ReadBytes('\n')
		if len(b) == 0 && err != nil {
			if err == io.EOF {
				return record{}, io.EOF
			}
			return record{}, fmt.Errorf("line %d: %w", j.line+1, err)
		}
		if err != nil && err != io.EOF {
			return record{}, fmt.Errorf("line %d: %w", j.line+1, err)
		}
		j.line++
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		obj, perr := parseObject(b)
		if perr != nil {
			return record{}, fmt.Errorf("line %d: %v", j.line, perr)
		}
		// Refused here, before anything is imported: the server would
		// refuse the batch holding it after earlier batches were applied,
		// and splitID's map would keep only one of two equal keys.
		if perr := jsontext.Check(obj); perr != nil {
			return record{}, fmt.Errorf("line %d: %v", j.line, perr)
		}
		rec, perr := splitID(obj, j.idField)
		if perr != nil {
			return record{}, fmt.Errorf("line %d: %v", j.line, perr)
		}
		rec.line = j.line
		return rec, nil
	}
}

// splitID takes the id field out of a JSON object.
func splitID(obj json.RawMessage, idField string) (record, error) {
	if idField == "" {
		return record{data: obj}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(obj, &fields); err != nil {
		return record{}, fmt.Errorf("invalid JSON: %v", err)
	}
	raw, ok := fields[idField]
	if !ok {
		return record{data: obj}, nil
	}
	id, err := idFromJSON(raw)
	if err != nil {
		return record{}, fmt.Errorf("field %q: %v", idField, err)
	}
	delete(fields, idField)
	data, err := json.Marshal(fields)
	if err != nil {
		return record{}, err
	}
	return record{id: id, data: data}, nil
}

// idFromJSON accepts a non-empty string or an integer as a document id.
func idFromJSON(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == "" {
			return "", errors.New("id is empty")
		}
		return s, nil
	}
	t := string(bytes.TrimSpace(raw))
	if _, err := strconv.ParseInt(t, 10, 64); err == nil {
		return t, nil
	}
	if _, err := strconv.ParseUint(t, 10, 64); err == nil {
		return t, nil
	}
	return "", fmt.Errorf("id must be a string or an integer, got %s", t)
}

// csvReader reads a CSV file whose header row names the fields (dot paths
// for nested objects).
type csvReader struct {
	r       *csv.Reader
	columns [][]string // split dot paths; nil for the id column
	idCol   int        // -1 when there is no id column
}

func newCSVReader(r io.Reader, idField string) (*csvReader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("line 1: empty file, want a header row")
	}
	if err != nil {
		return nil, csvError(err)
	}
	c := &csvReader{r: cr, idCol: -1}
	seen := map[string]bool{}
	for i, name := range header {
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff") // byte order mark
		}
		name = csvcell.Unescape(strings.TrimSpace(name))
		switch {
		case !utf8.ValidString(name):
			return nil, fmt.Errorf("line 1: column %d: name %q is not valid UTF-8", i+1, name)
		case name == "":
			return nil, fmt.Errorf("line 1: column %d has an empty name", i+1)
		case seen[name]:
			return nil, fmt.Errorf("line 1: column %q appears twice", name)
		}
		seen[name] = true
		if name == idField {
			c.idCol = i
			c.columns = append(c.columns, nil)
			continue
		}
		path := strings.Split(name, ".")
		for _, p := range path {
			if p == "" {
				return nil, fmt.Errorf("line 1: column %q: empty segment in dot path", name)
			}
		}
		c.columns = append(c.columns, path)
	}
	return c, nil
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d: %v", pe.Line, pe.Err)
	}
	return err
}

func (c *csvReader) Next() (record, error) {
	row, err := c.r.Read()
	if err == io.EOF {
		return record{}, io.EOF
	}
	if err != nil {
		return record{}, csvError(err)
	}
	line, _ := c.r.FieldPos(0)
	rec := record{line: line}
	doc := map[string]any{}
	for i, cell := range row {
		cell = csvcell.Unescape(cell) // written by export's csvcell.Escape
		if i == c.idCol {
			rec.id = cell
			continue
		}
		if cell == "" {
			continue // absent field
		}
		if !utf8.ValidString(cell) {
			return record{}, fmt.Errorf("line %d: column %q: %q is not valid UTF-8", line, strings.Join(c.columns[i], "."), cell)
		}
		v, err := typedCell(cell)
		if err != nil {
			return record{}, fmt.Errorf("line %d: column %q: %v", line, strings.Join(c.columns[i], "."), err)
		}
		if err := setPath(doc, c.columns[i], v); err != nil {
			return record{}, fmt.Errorf("line %d: %v", line, err)
		}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return record{}, fmt.Errorf("line %d: %v", line, err)
	}
	rec.data = data
	return rec, nil
}

// typedCell types a CSV cell: null, true and false, JSON numbers, JSON
// arrays and objects; everything else is a string.
func typedCell(cell string) (any, error) {
	switch cell {
	case "null":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	if isJSONNumber(cell) {
		return json.Number(cell), nil
	}
	if (cell[0] == '[' || cell[0] == '{') && json.Valid([]byte(cell)) {
		if err := jsontext.Check([]byte(cell)); err != nil {
			return nil, err
		}
		return json.RawMessage(cell), nil
	}
	return cell, nil
}

// isJSONNumber reports whether s is a number in JSON syntax (so "007",
// "1." and "0x10" stay strings).
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - start
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// setPath stores v at path inside doc, creating nested objects.
func setPath(doc map[string]any, path []string, v any) error {
	cur := doc
	for i, p := range path[:len(path)-1] {
		next, exists := cur[p]
		if !exists {
			m := map[string]any{}
			cur[p] = m
			cur = m
			continue
		}
		m, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("column %q conflicts with column %q", strings.Join(path, "."), strings.Join(path[:i+1], "."))
		}
		cur = m
	}
	last := path[len(path)-1]
	if _, exists := cur[last]; exists {
		return fmt.Errorf("column %q conflicts with a nested column under it", strings.Join(path, "."))
	}
	cur[last] = v
	return nil
}

// idGenerator makes ids for imported records that have none: the time in
// hex followed by random bytes, so they sort in import order.
type idGenerator struct {
	mu   sync.Mutex
	last int64
}

func (g *idGenerator) next() string {
	g.mu.Lock()
	now := time.Now().UnixNano()
	if now <= g.last {
		now = g.last + 1
	}
	g.last = now
	g.mu.Unlock()
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%016x%s", now, hex.EncodeToString(r[:]))
}
