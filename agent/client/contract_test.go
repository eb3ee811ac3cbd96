package client_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent"
	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/agent/client/clienttest"
	"github.com/aerolithdb/aerolith/agent/config"
)

// startAgent runs a real single-node agent in-process and returns its URL.
func startAgent(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.InsecureHTTP = true // plain HTTP in-process
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr, cfg.RaftAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.AdminKey = testKey
	a, err := agent.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	url := "http://" + a.HTTPAddr()
	probe := newClient(t, url)
	deadline := time.Now().Add(60 * time.Second)
	for probe.Ready(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("agent at %s not ready: %v", url, probe.Ready(ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return url
}

// TestContract runs the same calls against the in-memory fake and a real
// agent, so the client, the fake and the agent are held to one contract.
func TestContract(t *testing.T) {
	backends := []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"fake", func(t *testing.T) string {
			srv := clienttest.NewServer(testKey)
			t.Cleanup(srv.Close)
			return srv.URL
		}},
		{"agent", startAgent},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			testContract(t, newClient(t, b.start(t)))
		})
	}
}

func testContract(t *testing.T, c *client.Client) {
	ctx := context.Background()
	if err := c.Health(ctx); err != nil {
		t.Errorf("Health = %v", err)
	}

	created, err := c.Create(ctx, "people", map[string]any{"name": "ada", "age": 36, "address": map[string]string{"city": "London"}})
	if err != nil || created.ID == "" || created.Version == 0 || created.CreatedAt.IsZero() {
		t.Fatalf("Create = %+v, %v", created, err)
	}
	if _, err := c.CreateWithID(ctx, "people", "bob", map[string]any{"name": "bob", "age": 25, "address": map[string]string{"city": "Oslo"}}); err != nil {
		t.Fatalf("CreateWithID = %v", err)
	}
	if _, err := c.CreateWithID(ctx, "people", "bob", map[string]any{}); !client.IsConflict(err) {
		t.Errorf("CreateWithID(existing) = %v, want conflict", err)
	}
	put, err := c.Put(ctx, "people", "cy", map[string]any{"name": "cy", "age": 41, "address": map[string]string{"city": "Oslo"}})
	if err != nil || !put.Created {
		t.Fatalf("Put(new) = %+v, %v; want created", put, err)
	}
	v1 := put.Version
	put, err = c.Put(ctx, "people", "cy", map[string]any{"name": "cy", "age": 42, "address": map[string]string{"city": "Oslo"}}, client.IfMatch(v1))
	if err != nil || put.Created || put.Version <= v1 {
		t.Fatalf("Put(If-Match current) = %+v, %v; want an update with a higher version", put, err)
	}
	if _, err := c.Put(ctx, "people", "cy", map[string]any{}, client.IfMatch(v1)); !client.IsPreconditionFailed(err) {
		t.Errorf("Put(If-Match stale) = %v, want precondition failed", err)
	}
	if _, err := c.Put(ctx, "people", "x", json.RawMessage(`[1]`)); !client.IsInvalidArgument(err) {
		t.Errorf("Put(array data) = %v, want invalid argument", err)
	}

	// "." and ".." cannot travel in a URL path: refused, and nothing else
	// is touched (the agent once redirected DELETE .../documents/.. to the
	// collection, and the client followed).
	for _, id := range []string{"..", "."} {
		if err := c.Delete(ctx, "people", id); !client.IsInvalidArgument(err) {
			t.Errorf("Delete(%q) = %v, want invalid argument", id, err)
		}
		if _, err := c.Put(ctx, "people", id, map[string]any{}); !client.IsInvalidArgument(err) {
			t.Errorf("Put(%q) = %v, want invalid argument", id, err)
		}
		if _, err := c.CreateWithID(ctx, "people", id, map[string]any{}); !client.IsInvalidArgument(err) {
			t.Errorf("CreateWithID(%q) = %v, want invalid argument", id, err)
		}
		if err := c.DropCollection(ctx, id); !client.IsInvalidArgument(err) {
			t.Errorf("DropCollection(%q) = %v, want invalid argument", id, err)
		}
	}
	if _, err := c.Get(ctx, "people", "cy"); err != nil {
		t.Fatalf("Get after the refused dot ids: %v", err)
	}

	for _, cons := range []client.Consistency{"", client.Linearizable, client.Leader, client.Stale} {
		got, err := c.Get(ctx, "people", "cy", client.WithConsistency(cons))
		if err != nil || got.Version != put.Version || !strings.Contains(string(got.Data), `"age":42`) {
			t.Errorf("Get(consistency %q) = %+v, %v", cons, got, err)
		}
	}
	if _, err := c.Get(ctx, "people", "nobody"); !client.IsNotFound(err) {
		t.Errorf("Get(missing) = %v, want not found", err)
	}
	if _, err := c.Get(ctx, "people", "cy", client.WithConsistency("eventual")); !client.IsInvalidArgument(err) {
		t.Errorf("Get(bad consistency) = %v, want invalid argument", err)
	}

	page, err := c.List(ctx, "people", 2, 0)
	if err != nil || page.Total != 3 || len(page.Documents) != 2 || page.Limit != 2 {
		t.Errorf("List(2, 0) = %+v, %v; want 2 of 3", page, err)
	}
	page, err = c.Query(ctx, "people", client.Query{
		Filter:  json.RawMessage(`{"address.city":"Oslo","age":{"$gte":30}}`),
		Sort:    json.RawMessage(`{"age":-1}`),
		Explain: true,
	})
	if err != nil || page.Total != 1 || len(page.Documents) != 1 || page.Documents[0].ID != "cy" || len(page.Explain) == 0 {
		t.Errorf("Query = %+v, %v; want only cy, with a plan", page, err)
	}
	page, err = c.Query(ctx, "people", client.Query{Sort: json.RawMessage(`{"age":1}`), Limit: 2, Offset: 1})
	if err != nil || len(page.Documents) != 2 || page.Documents[0].ID != created.ID || page.Documents[1].ID != "cy" {
		t.Errorf("Query(sort age, offset 1) = %+v, %v; want ada then cy", page, err)
	}
	if _, err := c.Query(ctx, "people", client.Query{Filter: map[string]any{"age": map[string]any{"$bogus": 1}}}); !client.IsInvalidArgument(err) {
		t.Errorf("Query(unknown operator) = %v, want invalid argument", err)
	}

	res, err := c.Batch(ctx, []client.BatchOp{
		{Op: client.OpPut, Collection: "other", ID: "o1", Data: map[string]int{"n": 1}},
		{Op: client.OpDelete, Collection: "people", ID: "bob"},
	})
	if err != nil || len(res.Results) != 2 || res.Results[0].Document == nil {
		t.Fatalf("Batch = %+v, %v", res, err)
	}
	if _, err := c.Batch(ctx, []client.BatchOp{
		{Op: client.OpPut, Collection: "other", ID: "o2", Data: map[string]int{"n": 2}},
		{Op: client.OpDelete, Collection: "people", ID: "bob"},
	}); err == nil {
		t.Error("Batch deleting a missing document succeeded")
	}
	if _, err := c.Get(ctx, "other", "o2"); !client.IsNotFound(err) {
		t.Errorf("the put of a failed batch was applied: Get = %v", err)
	}

	if err := c.CreateIndex(ctx, "people", "address.city"); err != nil {
		t.Fatalf("CreateIndex = %v", err)
	}
	if err := c.CreateIndex(ctx, "people", "address.city"); !client.IsConflict(err) {
		t.Errorf("CreateIndex(again) = %v, want conflict", err)
	}
	if idx, err := c.Indexes(ctx, "people"); err != nil || len(idx) != 1 || idx[0] != "address.city" {
		t.Errorf("Indexes = %v, %v", idx, err)
	}
	colls, err := c.Collections(ctx)
	names := map[string]client.CollectionInfo{}
	for _, ci := range colls {
		names[ci.Name] = ci
	}
	if err != nil || names["people"].Documents != 2 || len(names["people"].Indexes) != 1 || names["other"].Documents != 1 {
		t.Errorf("Collections = %+v, %v", colls, err)
	}
	if err := c.DropIndex(ctx, "people", "address.city"); err != nil {
		t.Errorf("DropIndex = %v", err)
	}
	if err := c.DropCollection(ctx, "other"); err != nil {
		t.Errorf("DropCollection = %v", err)
	}
	if _, err := c.Get(ctx, "other", "o1"); !client.IsNotFound(err) {
		t.Errorf("Get after DropCollection = %v, want not found", err)
	}

	if err := c.Delete(ctx, "people", "cy", client.IfMatch(v1)); !client.IsPreconditionFailed(err) {
		t.Errorf("Delete(If-Match stale) = %v, want precondition failed", err)
	}
	if err := c.Delete(ctx, "people", "cy", client.IfMatch(put.Version)); err != nil {
		t.Errorf("Delete(If-Match current) = %v", err)
	}
	if err := c.Delete(ctx, "people", "cy"); !client.IsNotFound(err) {
		t.Errorf("Delete(missing) = %v, want not found", err)
	}

	st, err := c.Cluster(ctx)
	if err != nil || st.LeaderID == "" || st.NodeID == "" || len(st.Members) != 1 || !st.Members[0].Leader || !st.Members[0].Voter {
		t.Errorf("Cluster = %+v, %v; want one voting member leading", st, err)
	}
	if err := c.Remove(ctx, "no-such-node"); err != nil {
		t.Errorf("Remove(non-member) = %v, want a no-op", err)
	}
	if err := c.Join(ctx, "", "127.0.0.1:1", ""); err == nil {
		t.Error("Join without id succeeded")
	}
	stats, err := c.Stats(ctx)
	if err != nil || len(stats) == 0 {
		t.Errorf("Stats = %v, %v", stats, err)
	}
	if err := c.Ready(ctx); err != nil {
		t.Errorf("Ready = %v", err)
	}

	unauth := newClient(t, c.Endpoints()[0], func(cfg *client.Config) { cfg.Key = "wrong" })
	if _, err := unauth.Get(ctx, "people", created.ID); !client.IsUnauthenticated(err) {
		t.Errorf("Get with a wrong key = %v, want unauthenticated", err)
	}
}
