package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/agent/httpapi"
	"github.com/aerolithdb/aerolith/store"
)

type fakeMembers struct {
	ready   bool
	members []store.Member
}

func (f *fakeMembers) Members(context.Context) ([]store.Member, error) { return f.members, nil }
func (f *fakeMembers) Ready() bool                                     { return f.ready }

func TestLiveCounter(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	defer up.Close()
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer sick.Close()
	dead := freePorts(t, 1)[0]
	member := func(id, url string) store.Member {
		return store.Member{ID: id, Meta: map[string]string{httpapi.MetaHTTPAddr: strings.TrimPrefix(url, "http://")}}
	}
	f := &fakeMembers{members: []store.Member{
		member("self", "http://127.0.0.1:1"), // never probed
		member("up", up.URL),
		member("up-nonvoter", up.URL),
		member("sick", sick.URL),
		member("dead", "http://"+dead),
		{ID: "no-address"},
	}}
	lc := newLiveCounter(f, "self")
	if _, ok := lc.count(context.Background()); ok {
		t.Fatal("count without a ready leader should keep the previous count (ok=false)")
	}
	f.ready = true
	if n, ok := lc.count(context.Background()); !ok || n != 3 {
		t.Fatalf("count = %d, %v; want 3 (self and the two healthy members)", n, ok)
	}
}
