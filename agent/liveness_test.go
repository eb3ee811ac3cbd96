package agent

import (
	"context"
	"log/slog"
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
	lc := newLiveCounter(f, "self", nil)
	if _, ok := lc.count(context.Background()); ok {
		t.Fatal("count without a ready leader should keep the previous count (ok=false)")
	}
	f.ready = true
	if n, ok := lc.count(context.Background()); !ok || n != 3 {
		t.Fatalf("count = %d, %v; want 3 (self and the two healthy members)", n, ok)
	}
}

func TestLiveCounterInitial(t *testing.T) {
	voter := func(id string) store.Member { return store.Member{ID: id, Voter: true} }
	nonVoter := func(id string) store.Member { return store.Member{ID: id} }
	tests := []struct {
		name    string
		members []store.Member
		expect  int
		want    int
	}{
		{"voters counted, non-voters not", []store.Member{voter("a"), voter("b"), voter("c"), nonVoter("d")}, 0, 3},
		{"configuration wins over bootstrap-expect", []store.Member{voter("a"), voter("b")}, 3, 2},
		{"empty configuration: bootstrap-expect", nil, 5, 5},
		{"nothing known: this node alone", nil, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lc := newLiveCounter(&fakeMembers{members: tc.members}, "a", nil)
			if got := lc.initial(context.Background(), tc.expect); got != tc.want {
				t.Fatalf("initial(expect %d) = %d, want %d", tc.expect, got, tc.want)
			}
		})
	}
}

// TestLiveRoundStartsFromVoters: before the first probe round counts, the
// limits are shared among the configuration's voters (not this node
// alone); a probe round then refines the count, and a later round that
// cannot tell keeps it.
func TestLiveRoundStartsFromVoters(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	defer up.Close()
	dead := freePorts(t, 1)[0]
	member := func(id, addr string) store.Member {
		return store.Member{ID: id, Voter: true, Meta: map[string]string{httpapi.MetaHTTPAddr: addr}}
	}
	f := &fakeMembers{members: []store.Member{
		member("self", "127.0.0.1:1"),
		member("up", strings.TrimPrefix(up.URL, "http://")),
		member("dead", dead),
	}}
	lc := newLiveCounter(f, "self", nil)
	gov := newGovernor(slog.New(slog.DiscardHandler))
	ctx := context.Background()

	probed := liveRound(ctx, lc, gov, 0, false)
	if probed || gov.liveNodes() != 3 {
		t.Fatalf("round without a ready leader: probed %v, live nodes %d; want false, 3 (the voters)", probed, gov.liveNodes())
	}
	f.ready = true
	probed = liveRound(ctx, lc, gov, 0, probed)
	if !probed || gov.liveNodes() != 2 {
		t.Fatalf("probe round: probed %v, live nodes %d; want true, 2 (self and the healthy member)", probed, gov.liveNodes())
	}
	f.ready = false
	probed = liveRound(ctx, lc, gov, 0, probed)
	if !probed || gov.liveNodes() != 2 {
		t.Fatalf("round after a probe without a ready leader: probed %v, live nodes %d; want true, 2 (kept)", probed, gov.liveNodes())
	}
}
