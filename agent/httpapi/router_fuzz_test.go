package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/internal/apiclient"
)

// recordingStore passes every call to the real store and records the
// operations of each command proposed, so a test sees which route a
// request reached and with which collection, id or field.
type recordingStore struct {
	Store
	mu  sync.Mutex
	ops []document.Op
}

func (r *recordingStore) Propose(ctx context.Context, cmd []byte) ([]byte, uint64, error) {
	c, err := document.DecodeCommand(cmd)
	if err != nil {
		return nil, 0, err
	}
	r.mu.Lock()
	r.ops = append(r.ops, c.Ops...)
	r.mu.Unlock()
	return r.Store.Propose(ctx, cmd)
}

// take returns the operations recorded since the last take.
func (r *recordingStore) take() []document.Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

// FuzzRouteNames sends documents and indexes named by arbitrary
// collections and ids through the real client (which escapes them into the
// path) to the real server's handler, and checks that each request reached
// the route the client meant with exactly those names, or was refused
// with 400: never another route (the `..` that dropped a collection), a
// redirect, or "no such route".
func FuzzRouteNames(f *testing.F) {
	seeds := [][2]string{
		{"scratch", "a"}, {"scratch", ".."}, {"scratch", "."}, {"..", "a"}, {".", "a"}, {"scratch", "%2E%2E"},
		{"scratch", "a/b"}, {"scratch", "../a"}, {"scratch", "a/.."}, {"scratch", "a%2Fb"}, {"scratch", "?x=1"},
		{"scratch", "#frag"}, {"scratch", "a b"}, {"scratch", "ü"}, {"scratch", "\xff"}, {"scratch", "\x00"},
		{"scratch", "..."}, {"scratch", ".a"}, {"scratch", "documents"}, {"s", ";a=1"}, {"scratch", "%"},
		{"a.b", "x"}, {"_store", "x"}, {"scratch", ""}, {"", "a"}, {"scratch", "\\.."}, {"scratch", " .."}, {"scratch", "/"}, {"/", "x"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	var rec *recordingStore
	e := newEnv(f, func(c *Config) {
		rec = &recordingStore{Store: c.Store}
		c.Store = rec
	})
	srv := httptest.NewServer(e.srv.Handler())
	f.Cleanup(srv.Close)
	// The cluster admin key (of the default tenant, on this unmanaged
	// server) may use every route tried here.
	cl, err := client.New(client.Config{URL: srv.URL, Key: adminKey, MaxRetries: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, coll, id string) {
		ctx := context.Background()
		rec.take()
		// refused reports whether err is the client's own refusal (an empty
		// name, nothing sent) or the server's 400, and fails on anything else.
		refused := func(what string, err error) bool {
			t.Helper()
			if err == nil {
				return false
			}
			var ae *apiclient.Error
			if !errors.As(err, &ae) {
				if coll != "" && id != "" {
					t.Fatalf("%s(%q, %q): %v, want an answer from the server", what, coll, id, err)
				}
				return true
			}
			if ae.Status != 400 {
				t.Fatalf("%s(%q, %q) = %v, want success or 400", what, coll, id, err)
			}
			return true
		}
		// only checks that the request proposed nothing or exactly want.
		only := func(what string, want document.Op) {
			t.Helper()
			ops := rec.take()
			if len(ops) == 0 {
				return
			}
			got := ops[0]
			if len(ops) != 1 || got.Kind != want.Kind || got.Collection != want.Collection || got.ID != want.ID || got.Field != want.Field {
				t.Fatalf("%s(%q, %q) proposed %+v, want one %v of collection %q id %q field %q", what, coll, id, ops, want.Kind, want.Collection, want.ID, want.Field)
			}
		}

		// Small (a document is at most 1 KiB here) and tied to both names,
		// so a Get proves which document it read.
		h := fnv.New64a()
		h.Write([]byte(coll + "\x00" + id))
		data := map[string]string{"names": strconv.FormatUint(h.Sum64(), 16)}
		res, err := cl.Put(ctx, coll, id, data)
		only("Put", document.Op{Kind: document.OpPut, Collection: coll, ID: id})
		stored := !refused("Put", err)
		if stored && res.ID != id {
			t.Fatalf("Put(%q, %q) stored id %q", coll, id, res.ID)
		}

		d, err := cl.Get(ctx, coll, id)
		switch {
		case stored && err != nil:
			t.Fatalf("Get(%q, %q) after a successful Put: %v", coll, id, err)
		case stored:
			if d.ID != id || string(d.Data) != mustMarshal(t, data) {
				t.Fatalf("Get(%q, %q) = %s %s, want the document just put", coll, id, d.ID, d.Data)
			}
		default:
			refused("Get", err)
		}
		only("Get", document.Op{})

		err = cl.Delete(ctx, coll, id)
		only("Delete", document.Op{Kind: document.OpDelete, Collection: coll, ID: id})
		if stored && err != nil {
			t.Fatalf("Delete(%q, %q) after a successful Put: %v", coll, id, err)
		}
		if !stored {
			refused("Delete", err)
		}

		// The id as an index field: dropping it proposes the drop (404 when
		// there is no such index) or is refused.
		err = cl.DropIndex(ctx, coll, id)
		ops := rec.take()
		if err != nil && !apiclient.HasStatus(err, 404) {
			refused("DropIndex", err)
		}
		if apiclient.HasStatus(err, 404) && len(ops) == 0 {
			t.Fatalf("DropIndex(%q, %q) = %v without reaching the drop-index route", coll, id, err)
		}
		for _, op := range ops {
			if op.Kind != document.OpDropIndex || op.Collection != coll || op.Field != id || len(ops) != 1 {
				t.Fatalf("DropIndex(%q, %q) proposed %+v", coll, id, ops)
			}
		}
	})
}

func mustMarshal(t *testing.T, v map[string]string) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
