package member

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"n1", true},
		{"node-0a1b2c3d4e5f", true},
		{"a.b_c-d", true},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
		{"", false},
		{"-lead", false},
		{"bad id!", false},
	} {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestResolveID(t *testing.T) {
	for _, n := range []Identity{{Noun: "node", Prefix: "node-"}, {Noun: "replica", Prefix: "billing-"}} {
		t.Run(n.Noun, func(t *testing.T) {
			dir := t.TempDir()
			id, err := n.ResolveID(dir, "")
			if err != nil || !ValidID(id) || !strings.HasPrefix(id, n.Prefix) || len(id) != len(n.Prefix)+12 {
				t.Fatalf("generated id %q, %v", id, err)
			}
			again, err := n.ResolveID(dir, "")
			if err != nil || again != id {
				t.Fatalf("second resolve = %q, %v; want %q", again, err, id)
			}
			if _, err := n.ResolveID(dir, "other"); err == nil || !strings.Contains(err.Error(), "belongs to "+n.Noun+" ") {
				t.Fatalf("mismatching --node-id = %v", err)
			}
			if got, err := n.ResolveID(dir, id); err != nil || got != id {
				t.Fatalf("matching --node-id = %q, %v", got, err)
			}
			dir2 := t.TempDir()
			if got, err := n.ResolveID(dir2, "given"); err != nil || got != "given" {
				t.Fatalf("configured id = %q, %v", got, err)
			}
			if got, err := n.ResolveID(dir2, ""); err != nil || got != "given" {
				t.Fatalf("configured id not persisted: %q, %v", got, err)
			}
			if err := os.WriteFile(filepath.Join(dir2, IDFile), []byte("bad id!\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := n.ResolveID(dir2, ""); err == nil || !strings.HasPrefix(err.Error(), "node-id: ") {
				t.Fatalf("corrupt node-id file = %v", err)
			}
			if _, err := n.ResolveID(filepath.Join(dir, "missing"), ""); err == nil || !strings.HasPrefix(err.Error(), "node-id: store in ") {
				t.Fatalf("missing data dir = %v", err)
			}
		})
	}
}

func TestResolveJoin(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"http", false}, {"https", true}} {
		t.Run(tc.name, func(t *testing.T) { testResolveJoin(t, tc.tls) })
	}
}

func testResolveJoin(t *testing.T, useTLS bool) {
	// A member's HTTP address answering /api/v1/cluster/self.
	newServer := httptest.NewServer
	if useTLS {
		newServer = httptest.NewTLSServer
	}
	peer := newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/cluster/self" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"node_id":"m","raft_addr":"10.1.1.1:7071","http_addr":"x"}`))
	}))
	defer peer.Close()
	// A raft port: accepts, reads, hangs up.
	raftLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raftLn.Close()
	go func() {
		for {
			c, err := raftLn.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 1))
			c.Close()
		}
	}()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	peerAddr := peer.Listener.Addr().String()
	ph := PeerHTTP{}
	if useTLS {
		ph = PeerHTTP{Scheme: "https", Client: peer.Client()}
	}
	got := ResolveJoin(context.Background(), log, ph,
		[]string{peerAddr, raftLn.Addr().String(), "127.0.0.1:9", "self:1", "self:2", raftLn.Addr().String()}, "self:1", "self:2", 300*time.Millisecond)
	want := []string{"10.1.1.1:7071", raftLn.Addr().String(), "127.0.0.1:9", "self:2"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("ResolveJoin = %v, want %v", got, want)
	}
}
