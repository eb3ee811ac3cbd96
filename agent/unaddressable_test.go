package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/config"
	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/internal/testwait"
)

// TestUnaddressableReportedAtStart: a document stored with the id ".."
// before the API refused it (proposed here as the old API did, straight
// to the store) is reported in the log when the agent starts, stays
// listed, and the API refuses to name it.
func TestUnaddressableReportedAtStart(t *testing.T) {
	c := config.Default()
	c.InsecureHTTP = true
	c.DataDir = t.TempDir()
	c.RaftAddr, c.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.InsecureNoAuth = true
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	a, err := New(c, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	base := "http://" + a.HTTPAddr()
	testwait.Until(t, waitLimit, "ready", func() bool { return call(t, "GET", base+"/readyz", "", nil) == 200 })
	cmd, err := document.EncodeCommand(document.Command{Ops: []document.Op{
		{Kind: document.OpPut, Tenant: auth.DefaultTenant, Collection: "scratch", ID: "..", Data: json.RawMessage(`{"legacy":true}`), Time: 1},
		{Kind: document.OpPut, Tenant: auth.DefaultTenant, Collection: "scratch", ID: "keep", Data: json.RawMessage(`{}`), Time: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Store().Propose(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	var mu sync.Mutex
	c.NodeID = ""
	b, err := New(c, slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	var found int
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "document with an id no URL path can carry") {
			found++
			for _, want := range []string{`"level":"WARN"`, `"tenant":"default"`, `"collection":"scratch"`, `"id":".."`} {
				if !strings.Contains(line, want) {
					t.Errorf("report %s lacks %s", line, want)
				}
			}
		}
	}
	if found != 1 {
		t.Fatalf("%d reports of the document with the id .., want 1; logs:\n%s", found, out)
	}
	base = "http://" + b.HTTPAddr()
	testwait.Until(t, waitLimit, "ready", func() bool { return call(t, "GET", base+"/readyz", "", nil) == 200 })
	var page struct{ Total int }
	if st := call(t, "GET", base+"/api/v1/collections/scratch/documents", "", &page); st != 200 || page.Total != 2 {
		t.Fatalf("list = %d total %d, want 200 with both documents", st, page.Total)
	}
	if st := call(t, "DELETE", base+"/api/v1/collections/scratch/documents/%2E%2E", "", nil); st != 400 {
		t.Fatalf("DELETE of the id .. = %d, want 400", st)
	}
}
