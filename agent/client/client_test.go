package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/agent/client/clienttest"
)

const testKey = "secret-key"

func newClient(t *testing.T, url string, mutate ...func(*client.Config)) *client.Client {
	t.Helper()
	cfg := client.Config{URL: url, Key: testKey, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatalf("New(%q) = %v", url, err)
	}
	return c
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestNewValidatesURL(t *testing.T) {
	tests := []struct {
		url     string
		want    []string
		wantErr string
	}{
		{url: "http://127.0.0.1:7070", want: []string{"http://127.0.0.1:7070"}},
		{url: "127.0.0.1:7070/", want: []string{"http://127.0.0.1:7070"}},
		{url: "https://db.example.com/prefix/", want: []string{"https://db.example.com/prefix"}},
		{url: "http://a:1, http://b:2,,", want: []string{"http://a:1", "http://b:2"}},
		{url: "", wantErr: "url: required"},
		{url: " , ", wantErr: "url: required"},
		{url: "ftp://host", wantErr: "scheme must be http or https"},
		{url: "http://", wantErr: "has no host"},
		{url: "http://h:1/?x=1", wantErr: "must not have a query"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := client.New(client.Config{URL: tt.url})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New(%q) error = %v, want containing %q", tt.url, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q) = %v", tt.url, err)
			}
			if got := c.Endpoints(); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Endpoints() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseConsistency(t *testing.T) {
	for _, s := range []string{"", "linearizable", "LEADER", "stale"} {
		if _, err := client.ParseConsistency(s); err != nil {
			t.Errorf("ParseConsistency(%q) = %v", s, err)
		}
	}
	if _, err := client.ParseConsistency("eventual"); err == nil || !strings.Contains(err.Error(), "eventual") {
		t.Errorf("ParseConsistency(eventual) error = %v, want naming the value", err)
	}
}

func TestDocuments(t *testing.T) {
	srv := clienttest.NewServer(testKey)
	defer srv.Close()
	c := newClient(t, srv.URL)
	ctx := context.Background()

	created, err := c.Create(ctx, "users", map[string]any{"name": "ada", "age": 36})
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	if created.ID == "" || created.Version != 1 || created.CreatedAt.IsZero() {
		t.Errorf("Create = %+v, want an id, version 1 and timestamps", created)
	}
	if _, err := c.CreateWithID(ctx, "users", "u1", json.RawMessage(`{"name":"bob","age":25}`)); err != nil {
		t.Fatalf("CreateWithID = %v", err)
	}
	if _, err := c.CreateWithID(ctx, "users", "u1", map[string]any{}); !client.IsConflict(err) {
		t.Errorf("CreateWithID(existing) = %v, want conflict", err)
	}

	put, err := c.Put(ctx, "users", "u2", map[string]any{"name": "cy", "age": 41})
	if err != nil || !put.Created || put.Version != 1 {
		t.Fatalf("Put(new) = %+v, %v; want created version 1", put, err)
	}
	put, err = c.Put(ctx, "users", "u2", map[string]any{"name": "cy", "age": 42}, client.IfMatch(1))
	if err != nil || put.Created || put.Version != 2 {
		t.Fatalf("Put(update, If-Match 1) = %+v, %v; want updated version 2", put, err)
	}
	if _, err := c.Put(ctx, "users", "u2", map[string]any{}, client.IfMatch(1)); !client.IsPreconditionFailed(err) {
		t.Errorf("Put(stale If-Match) = %v, want precondition failed", err)
	}

	got, err := c.Get(ctx, "users", "u2", client.WithConsistency(client.Stale))
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	if got.Version != 2 || !strings.Contains(string(got.Data), `"age":42`) {
		t.Errorf("Get = %+v (data %s), want version 2 with age 42", got, got.Data)
	}
	reqs := srv.Requests()
	last := reqs[len(reqs)-1]
	if last.Query != "consistency=stale" || last.Authorization != "Bearer "+testKey {
		t.Errorf("Get sent query %q auth %q, want consistency=stale and the bearer key", last.Query, last.Authorization)
	}
	if _, err := c.Get(ctx, "users", "nope"); !client.IsNotFound(err) {
		t.Errorf("Get(missing) = %v, want not found", err)
	}
	if _, err := c.Get(ctx, "users", "u2", client.WithConsistency("eventual")); !client.IsInvalidArgument(err) {
		t.Errorf("Get(bad consistency) = %v, want invalid argument", err)
	}

	if err := c.Delete(ctx, "users", "u2", client.IfMatch(1)); !client.IsPreconditionFailed(err) {
		t.Errorf("Delete(stale If-Match) = %v, want precondition failed", err)
	}
	if err := c.Delete(ctx, "users", "u2", client.IfMatch(2)); err != nil {
		t.Errorf("Delete(If-Match 2) = %v", err)
	}
	if err := c.Delete(ctx, "users", "u2"); !client.IsNotFound(err) {
		t.Errorf("Delete(missing) = %v, want not found", err)
	}

	// Ids and collections with reserved characters are escaped.
	if _, err := c.Put(ctx, "odd coll", "a/b?c", map[string]any{"x": 1}); err != nil {
		t.Fatalf("Put(odd names) = %v", err)
	}
	if d := srv.Document("odd coll", "a/b?c"); d == nil {
		t.Errorf("document with id %q not stored under that id", "a/b?c")
	}

	for _, tt := range []struct {
		name string
		err  error
	}{
		{"Get no collection", func() error { _, err := c.Get(ctx, "", "x"); return err }()},
		{"Put no id", func() error { _, err := c.Put(ctx, "c", "", nil); return err }()},
		{"List negative", func() error { _, err := c.List(ctx, "c", -1, 0); return err }()},
	} {
		if tt.err == nil {
			t.Errorf("%s: got nil error", tt.name)
		}
	}
}

func TestListAndQuery(t *testing.T) {
	srv := clienttest.NewServer(testKey)
	defer srv.Close()
	c := newClient(t, srv.URL)
	ctx := context.Background()
	for i, age := range []int{30, 20, 50, 40, 10} {
		id := string(rune('a' + i))
		if _, err := c.Put(ctx, "p", id, map[string]any{"age": age, "tag": map[string]any{"even": age%20 == 0}}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := c.List(ctx, "p", 2, 1)
	if err != nil {
		t.Fatalf("List = %v", err)
	}
	if page.Total != 5 || page.Limit != 2 || page.Offset != 1 || len(page.Documents) != 2 || page.Documents[0].ID != "b" {
		t.Errorf("List(2,1) = total %d limit %d offset %d docs %d first %q; want 5 2 1 2 b",
			page.Total, page.Limit, page.Offset, len(page.Documents), page.Documents[0].ID)
	}
	q := client.Query{
		Filter:  json.RawMessage(`{"age":{"$gte":20},"tag.even":false}`),
		Sort:    json.RawMessage(`{"age":-1}`),
		Explain: true,
	}
	page, err = c.Query(ctx, "p", q, client.WithConsistency(client.Leader))
	if err != nil {
		t.Fatalf("Query = %v", err)
	}
	var ids []string
	for _, d := range page.Documents {
		ids = append(ids, d.ID)
	}
	if strings.Join(ids, ",") != "c,a" || page.Total != 2 || len(page.Explain) == 0 {
		t.Errorf("Query = ids %v total %d explain %s; want c,a total 2 with explain", ids, page.Total, page.Explain)
	}
	if _, err := c.Query(ctx, "p", client.Query{Filter: map[string]any{"age": map[string]any{"$bogus": 1}}}); !client.IsInvalidArgument(err) {
		t.Errorf("Query(bad operator) = %v, want invalid argument", err)
	}
}

func TestCollectionsIndexesBatch(t *testing.T) {
	srv := clienttest.NewServer(testKey)
	defer srv.Close()
	c := newClient(t, srv.URL)
	ctx := context.Background()

	res, err := c.Batch(ctx, []client.BatchOp{
		{Op: client.OpPut, Collection: "a", ID: "1", Data: map[string]int{"n": 1}},
		{Op: client.OpPut, Collection: "b", ID: "2", Data: map[string]int{"n": 2}},
	})
	if err != nil || len(res.Results) != 2 || res.Results[1].Version != 1 || res.Results[1].Document == nil {
		t.Fatalf("Batch = %+v, %v; want two results with documents", res, err)
	}
	res, err = c.Batch(ctx, []client.BatchOp{{Op: client.OpPut, Collection: "gen", Data: map[string]int{"n": 1}}})
	if err != nil || res.Results[0].ID == "" || srv.Document("gen", res.Results[0].ID) == nil {
		t.Fatalf("Batch(put without id) = %+v, %v; want a server-assigned id", res, err)
	}
	if _, err := c.Batch(ctx, []client.BatchOp{{Op: client.OpDelete, Collection: "gen"}}); err == nil || !strings.Contains(err.Error(), "delete needs an id") {
		t.Errorf("Batch(delete without id) = %v, want an error", err)
	}
	if err := c.DropCollection(ctx, "gen"); err != nil {
		t.Fatal(err)
	}
	// A failing operation fails the whole batch: the put before it is not applied.
	_, err = c.Batch(ctx, []client.BatchOp{
		{Op: client.OpPut, Collection: "a", ID: "3", Data: map[string]int{"n": 3}},
		{Op: client.OpDelete, Collection: "a", ID: "missing"},
	})
	if !client.IsNotFound(err) || srv.Document("a", "3") != nil {
		t.Errorf("Batch(with failing delete) = %v, doc 3 stored: %v; want not found and nothing applied", err, srv.Document("a", "3") != nil)
	}
	if _, err := c.Batch(ctx, []client.BatchOp{{Op: "upsert", Collection: "a", ID: "1"}}); err == nil || !strings.Contains(err.Error(), `"upsert"`) {
		t.Errorf("Batch(bad op) = %v, want error naming the op", err)
	}
	if _, err := c.Batch(ctx, nil); err == nil {
		t.Error("Batch(nil) = nil error")
	}

	if err := c.CreateIndex(ctx, "a", "n"); err != nil {
		t.Fatalf("CreateIndex = %v", err)
	}
	if err := c.CreateIndex(ctx, "a", "n"); !client.IsConflict(err) {
		t.Errorf("CreateIndex(again) = %v, want conflict", err)
	}
	idx, err := c.Indexes(ctx, "a")
	if err != nil || len(idx) != 1 || idx[0] != "n" {
		t.Errorf("Indexes = %v, %v; want [n]", idx, err)
	}
	colls, err := c.Collections(ctx)
	if err != nil || len(colls) != 2 || colls[0].Name != "a" || colls[0].Documents != 1 || len(colls[0].Indexes) != 1 {
		t.Errorf("Collections = %+v, %v; want a (1 doc, 1 index) and b", colls, err)
	}
	if err := c.DropIndex(ctx, "a", "n"); err != nil {
		t.Errorf("DropIndex = %v", err)
	}
	if err := c.DropCollection(ctx, "b"); err != nil {
		t.Errorf("DropCollection = %v", err)
	}
	if err := c.DropCollection(ctx, "b"); !client.IsNotFound(err) {
		t.Errorf("DropCollection(again) = %v, want not found", err)
	}
	stats, err := c.Stats(ctx)
	if err != nil || stats["documents"] != json.Number("1") {
		t.Errorf("Stats = %v, %v; want documents 1", stats, err)
	}
}

func TestClusterAndProbes(t *testing.T) {
	srv := clienttest.NewServer(testKey)
	defer srv.Close()
	c := newClient(t, srv.URL)
	ctx := context.Background()
	if err := c.Health(ctx); err != nil {
		t.Errorf("Health = %v", err)
	}
	if err := c.Ready(ctx); err != nil {
		t.Errorf("Ready = %v", err)
	}
	st, err := c.Cluster(ctx)
	if err != nil || st.LeaderID != "node1" || st.Leader == nil || len(st.Members) != 1 || !st.Members[0].Leader {
		t.Fatalf("Cluster = %+v, %v; want node1 leading one member", st, err)
	}
	if err := c.Join(ctx, "node2", "127.0.0.1:7073", "127.0.0.1:7072"); err != nil {
		t.Fatalf("Join = %v", err)
	}
	if err := c.Join(ctx, "node2", "127.0.0.1:7073", ""); !client.IsConflict(err) {
		t.Errorf("Join(again) = %v, want conflict", err)
	}
	st, _ = c.Cluster(ctx)
	if len(st.Members) != 2 || st.Members[1].HTTPAddr != "127.0.0.1:7072" {
		t.Errorf("members after join = %+v", st.Members)
	}
	if err := c.Remove(ctx, "node2"); err != nil {
		t.Errorf("Remove = %v", err)
	}
	if err := c.Remove(ctx, "node2"); err != nil {
		t.Errorf("Remove(again) = %v, want a no-op", err)
	}
	if err := c.Join(ctx, "", "x", ""); err == nil {
		t.Error("Join without id = nil error")
	}

	bad := newClient(t, srv.URL, func(c *client.Config) { c.Key = "wrong" })
	if _, err := bad.Cluster(ctx); !client.IsUnauthenticated(err) {
		t.Errorf("Cluster(wrong key) = %v, want unauthenticated", err)
	}
}

func TestErrorDecoding(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		header     map[string]string
		wantCode   string
		wantMsg    string
		retryAfter time.Duration
	}{
		{"api body", 409, `{"error":{"code":"conflict","message":"document \"x\" exists"}}`, nil, "conflict", `document "x" exists`, 0},
		{"plain text", 502, "bad gateway from proxy\n", nil, "internal", "bad gateway from proxy", 0},
		{"empty body", 404, "", nil, "not_found", "", 0},
		{"json without error", 403, `{"detail":"nope"}`, nil, "permission_denied", `{"detail":"nope"}`, 0},
		{"retry after", 429, `{"error":{"code":"rate_limited","message":"slow down"}}`, map[string]string{"Retry-After": "3"}, "rate_limited", "slow down", 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			_, err := newClient(t, srv.URL).Get(context.Background(), "c", "id")
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("Get error = %T %v, want *client.Error", err, err)
			}
			if e.Status != tt.status || e.Code != tt.wantCode || e.Message != tt.wantMsg || e.RetryAfter != tt.retryAfter {
				t.Errorf("error = %+v, want status %d code %q message %q retry-after %v", e, tt.status, tt.wantCode, tt.wantMsg, tt.retryAfter)
			}
			if !strings.Contains(e.Error(), tt.wantCode) {
				t.Errorf("Error() = %q, want it to name the code", e.Error())
			}
		})
	}
}
