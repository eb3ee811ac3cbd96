package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/agent/client/clienttest"
)

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readTestFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// batchRequests counts the POST /api/v1/batch requests srv served.
func batchRequests(srv *clienttest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == "POST" && r.Path == "/api/v1/batch" {
			n++
		}
	}
	return n
}

const usersJSONL = `{"id":"u1","name":"ada","age":36,"address":{"city":"London","zip":"007"},"tags":["x","y"]}
{"id":"u2","name":"bob","age":25.5,"active":false,"note":null}

{"id":3,"name":"cy","address":{"city":"Oslo"}}
`

func TestImportExportJSONL(t *testing.T) {
	srv := newFake(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "users.jsonl")
	writeTestFile(t, in, usersJSONL)
	out := cli(t, srv, "", "batch", "import", "users", "--file", in, "--batch-size", "2")
	if out != "imported 3 documents into users\n" {
		t.Errorf("import printed %q", out)
	}
	if n := batchRequests(srv); n != 2 {
		t.Errorf("import of 3 records with --batch-size 2 sent %d batches, want 2", n)
	}
	d := srv.Document("users", "u1")
	if d == nil || strings.Contains(string(d.Data), `"id"`) || !strings.Contains(string(d.Data), `"zip":"007"`) {
		t.Fatalf("u1 stored as %v, want the data without its id field", d)
	}
	if srv.Document("users", "3") == nil {
		t.Error("integer id 3 not used as document id")
	}

	exported := filepath.Join(dir, "export.jsonl")
	out = cli(t, srv, "", "batch", "export", "users", "--file", exported, "--page-size", "2")
	if out != "exported 3 documents from users to "+exported+"\n" {
		t.Errorf("export printed %q", out)
	}
	lines := strings.Split(strings.TrimSpace(readTestFile(t, exported)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], `{"id":"3",`) {
		t.Fatalf("export wrote:\n%s", strings.Join(lines, "\n"))
	}
	// Round trip: import the export into another collection, export that
	// too, and compare.
	cli(t, srv, "", "batch", "import", "copy", "--file", exported)
	again := cli(t, srv, "", "batch", "export", "copy")
	if again != readTestFile(t, exported) {
		t.Errorf("round trip differs:\nfirst:\n%s\nsecond:\n%s", readTestFile(t, exported), again)
	}
	for _, id := range []string{"u1", "u2", "3"} {
		a, b := srv.Document("users", id), srv.Document("copy", id)
		if a == nil || b == nil || string(a.Data) != string(b.Data) {
			t.Errorf("document %s: original %v, copy %v", id, a, b)
		}
	}
}

func TestImportExportCSV(t *testing.T) {
	srv := newFake(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "people.csv")
	writeTestFile(t, in, "id,name,age,address.city,address.zip,active,tags,note\n"+
		"p1,ada,36,London,007,true,\"[1,2]\",null\n"+
		"p2,\"bob, jr\",-2.5e3,,,false,,\n"+
		",nobody,0,Paris,,,,\n")
	out := cli(t, srv, "", "batch", "import", "people", "--file", in, "-o", "json")
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil || res["imported"] != float64(3) {
		t.Fatalf("import -o json printed %q", out)
	}
	p1 := srv.Document("people", "p1")
	want := `{"active":true,"address":{"city":"London","zip":"007"},"age":36,"name":"ada","note":null,"tags":[1,2]}`
	if p1 == nil || string(p1.Data) != want {
		t.Errorf("p1 stored as %v, want %s", p1, want)
	}
	p2 := srv.Document("people", "p2")
	if want := `{"active":false,"age":-2.5e3,"name":"bob, jr"}`; p2 == nil || string(p2.Data) != want {
		t.Errorf("p2 stored as %v, want %s", p2, want)
	}
	if srv.Count("people") != 3 {
		t.Errorf("people holds %d documents, want 3 (one with a generated id)", srv.Count("people"))
	}

	exported := filepath.Join(dir, "out.csv")
	cli(t, srv, "", "batch", "export", "people", "--file", exported)
	csvText := readTestFile(t, exported)
	lines := strings.Split(csvText, "\n")
	if lines[0] != "id,active,address.city,address.zip,age,name,note,tags" {
		t.Errorf("CSV header = %q, want id first then sorted dot paths", lines[0])
	}
	if !strings.Contains(csvText, "\n"+`p1,true,London,007,36,ada,null,"[1,2]"`+"\n") {
		t.Errorf("CSV lacks the row of p1:\n%s", csvText)
	}
	cli(t, srv, "", "batch", "import", "people2", "--file", exported)
	for _, id := range []string{"p1", "p2"} {
		a, b := srv.Document("people", id), srv.Document("people2", id)
		if a == nil || b == nil || string(a.Data) != string(b.Data) {
			t.Errorf("CSV round trip of %s: %v vs %v", id, a, b)
		}
	}
	if srv.Count("people2") != 3 {
		t.Errorf("people2 holds %d documents, want 3", srv.Count("people2"))
	}
}

func TestImportRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		args    []string
		wantErr string
	}{
		{"bad json", "a.jsonl", `{"id":"a"}` + "\n" + `{"id":"b"}` + "\n" + `{"id":` + "\n", nil, "line 3: invalid JSON"},
		{"not an object", "a.jsonl", `{"id":"a"}` + "\n\n" + `[1,2]` + "\n", nil, "line 3: want a JSON object, got an array"},
		{"two values", "a.jsonl", `{"a":1} {"b":2}` + "\n", nil, "line 1: invalid JSON: more than one value"},
		{"bad id", "a.jsonl", `{"id":{"x":1}}` + "\n", nil, `line 1: field "id": id must be a string or an integer`},
		{"empty id", "a.jsonl", `{"key":""}` + "\n", []string{"--id-field", "key"}, `line 1: field "key": id is empty`},
		{"csv ragged", "a.csv", "id,a\nx,1\ny,2,3\n", nil, "line 3: wrong number of fields"},
		{"csv bad quote", "a.csv", "id,a\nx,\"1\n", nil, "line 2"},
		{"csv dup column", "a.csv", "id,a,a\n", nil, `line 1: column "a" appears twice`},
		{"csv empty column", "a.csv", "id,,b\n", nil, "line 1: column 2 has an empty name"},
		{"csv bad path", "a.csv", "id,a..b\n", nil, `column "a..b": empty segment`},
		{"csv conflict", "a.csv", "id,a,a.b\nx,1,\ny,1,2\n", nil, `line 3: column "a.b" conflicts with column "a"`},
		{"csv empty", "a.csv", "", nil, "line 1: empty file"},
		{"id with slash", "a.jsonl", `{"id":"ok"}` + "\n" + `{"id":"a/b"}` + "\n", nil, `line 2: document id "a/b" contains '/'`},
		{"csv id with control char", "a.csv", "id,a\nx,1\n\"y\tz\",2\n", nil, `line 3: document id "y\tz" contains a control character`},
		// Issue 10: ids a URL path cannot carry, invalid UTF-8 and
		// duplicate keys fail the validation pass, before any batch.
		{"dot-dot id", "a.jsonl", `{"id":"ok"}` + "\n" + `{"id":".."}` + "\n", nil, `line 2: document id ".." cannot be used`},
		{"csv dot id", "a.csv", "id,a\nx,1\n.,2\n", nil, `line 3: document id "." cannot be used`},
		{"invalid utf-8", "a.jsonl", `{"id":"ok"}` + "\n" + "{\"name\":\"ad\xffa\"}\n", nil, `line 2: name: string is not valid UTF-8`},
		{"duplicate key", "a.jsonl", `{"id":"ok"}` + "\n" + `{"id":"x","a":{"b":1,"b":2}}` + "\n", nil, `line 2: a.b: duplicate key "b"`},
		{"duplicate id key", "a.jsonl", `{"id":"x","id":"y"}` + "\n", nil, `line 1: id: duplicate key "id"`},
		{"csv invalid utf-8", "a.csv", "id,a\nx,\xff\n", nil, `line 2: column "a": "\xff" is not valid UTF-8`},
		{"csv json cell duplicate", "a.csv", "id,a\nx,\"{\"\"k\"\":1,\"\"k\"\":2}\"\n", nil, `line 2: column "a": k: duplicate key "k"`},
		{"csv header utf-8", "a.csv", "id,\xfe\n", nil, `line 1: column 2: name "\xfe" is not valid UTF-8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t)
			path := filepath.Join(t.TempDir(), tt.file)
			writeTestFile(t, path, tt.content)
			args := append([]string{"batch", "import", "c", "--file", path, "--batch-size", "1", "--url", srv.URL, "--key", cliKey}, tt.args...)
			r := runCLI(t, "", args...)
			if r.code != 1 || !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("exit %d stderr %q, want exit 1 and %q", r.code, r.stderr, tt.wantErr)
			}
			if n := srv.Count("c"); n != 0 || batchRequests(srv) != 0 {
				t.Errorf("bad input left %d documents after %d batches, want nothing imported", n, batchRequests(srv))
			}
		})
	}
}

func TestImportFromStdinAndServerRejection(t *testing.T) {
	srv := newFake(t)
	out := cli(t, srv, `{"id":"a","n":1}`+"\n"+`{"id":"b","n":2}`, "batch", "import", "s", "--format", "jsonl")
	if out != "imported 2 documents into s\n" || srv.Count("s") != 2 {
		t.Errorf("stdin import printed %q, stored %d", out, srv.Count("s"))
	}
	// The server accepts the first batch and rejects the second as too
	// large: the error names the lines and how many documents made it.
	big := `{"id":"c","n":3}` + "\n" + `{"id":"d","blob":"` + strings.Repeat("x", 3<<20) + `"}` + "\n"
	r := runCLI(t, big, "batch", "import", "s2", "--batch-size", "1", "--url", srv.URL, "--key", cliKey)
	if r.code != 1 || !strings.Contains(r.stderr, "lines 2-2: batch rejected") || !strings.Contains(r.stderr, "413 too_large") ||
		!strings.Contains(r.stderr, "(1 document imported before it)") {
		t.Errorf("rejected import: exit %d stderr %q", r.code, r.stderr)
	}
	if srv.Count("s2") != 1 {
		t.Errorf("s2 holds %d documents, want the 1 of the accepted batch", srv.Count("s2"))
	}
	r = runCLI(t, "", "batch", "import", "s", "--format", "xml", "--url", srv.URL)
	if r.code != 2 || !strings.Contains(r.stderr, `--format: unknown format "xml"`) {
		t.Errorf("bad format: exit %d stderr %q", r.code, r.stderr)
	}
	r = runCLI(t, "", "batch", "import", "Bad Name", "--url", srv.URL)
	if r.code != 2 || !strings.Contains(r.stderr, `invalid collection name "Bad Name"`) {
		t.Errorf("bad collection: exit %d stderr %q", r.code, r.stderr)
	}
	// --batch-size is checked against the agent's limit before anything
	// is sent (above it every batch would be refused with 400).
	for _, size := range []string{"0", "1001"} {
		r = runCLI(t, `{"id":"z"}`, "batch", "import", "s3", "--batch-size", size, "--url", srv.URL, "--key", cliKey)
		if r.code != 2 || !strings.Contains(r.stderr, "--batch-size: "+size+" is out of range: the agent takes 1 to 1000 operations per batch") {
			t.Errorf("--batch-size %s: exit %d stderr %q", size, r.code, r.stderr)
		}
	}
	if srv.Count("s3") != 0 {
		t.Errorf("s3 holds %d documents after refused batch sizes", srv.Count("s3"))
	}
	out = cli(t, srv, `{"id":"one"}`, "batch", "import", "s3", "--batch-size", "1000")
	if out != "imported 1 document into s3\n" {
		t.Errorf("import of one document printed %q", out)
	}
}

func TestExportIDFieldCollision(t *testing.T) {
	srv := newFake(t)
	cli(t, srv, "", "doc", "put", "c", "a", "--data", `{"id":"a","v":1}`)
	out := cli(t, srv, "", "batch", "export", "c")
	if out != `{"id":"a","v":1}`+"\n" {
		t.Errorf("export of a document holding its own id = %q", out)
	}
	cli(t, srv, "", "doc", "put", "c", "b", "--data", `{"id":"other"}`)
	for _, format := range []string{"jsonl", "csv"} {
		r := runCLI(t, "", "batch", "export", "c", "--format", format, "--url", srv.URL, "--key", cliKey)
		if r.code != 1 || !strings.Contains(r.stderr, `document "b": its data has a field "id" with another value`) {
			t.Errorf("%s export with colliding id field: exit %d stderr %q", format, r.code, r.stderr)
		}
	}
	out = cli(t, srv, "", "batch", "export", "c", "--id-field", "_id")
	if !strings.Contains(out, `{"_id":"b","id":"other"}`) {
		t.Errorf("export --id-field _id = %q", out)
	}
	// An empty object exports as just the id.
	cli(t, srv, "", "doc", "put", "e", "x", "--data", `{}`)
	if out := cli(t, srv, "", "batch", "export", "e"); out != `{"id":"x"}`+"\n" {
		t.Errorf("export of an empty document = %q", out)
	}
}

func TestTypedCell(t *testing.T) {
	tests := []struct {
		cell string
		want string
	}{
		{"12", "12"}, {"-0.5", "-0.5"}, {"1e9", "1e9"}, {"007", `"007"`}, {"1.", `"1."`}, {".5", `".5"`},
		{"0x10", `"0x10"`}, {"NaN", `"NaN"`}, {"true", "true"}, {"False", `"False"`}, {"null", "null"},
		{`{"a":1}`, `{"a":1}`}, {"[1", `"[1"`}, {"hello", `"hello"`}, {"-", `"-"`},
	}
	for _, tt := range tests {
		v, err := typedCell(tt.cell)
		if err != nil {
			t.Fatalf("typedCell(%q) = %v", tt.cell, err)
		}
		b, _ := json.Marshal(v)
		if string(b) != tt.want {
			t.Errorf("typedCell(%q) = %s, want %s", tt.cell, b, tt.want)
		}
	}
}
