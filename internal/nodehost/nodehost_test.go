package nodehost

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/internal/member"
)

func localhost(string) (string, error) { return "127.0.0.1", nil }

func TestUndoRunsNewestFirst(t *testing.T) {
	var got []int
	var u Undo
	for i := range 3 {
		u.Add(func() { got = append(got, i) })
	}
	u.Run()
	if want := []int{2, 1, 0}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("Undo.Run order = %v, want %v", got, want)
	}
}

func TestDataDirKeepsNodeID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	id := member.Identity{Noun: "node", Prefix: "node-"}
	first, err := DataDir(dir, "", id)
	if err != nil {
		t.Fatalf("DataDir = %v", err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir: %v, mode %v, want 0700", err, fi.Mode().Perm())
	}
	again, err := DataDir(dir, "", id)
	if err != nil || again != first || !strings.HasPrefix(first, "node-") {
		t.Errorf("DataDir again = %q, %v, want %q (prefix node-)", again, err, first)
	}
}

func TestListenAdvertisesBoundPorts(t *testing.T) {
	ls, err := Listen("127.0.0.1:0", "127.0.0.1:0", localhost)
	if err != nil {
		t.Fatalf("Listen = %v", err)
	}
	defer ls.Close()
	for name, c := range map[string]struct {
		adv string
		ln  net.Listener
	}{"raft": {ls.RaftAddr, ls.Raft}, "http": {ls.HTTPAddr, ls.HTTP}} {
		if c.adv != c.ln.Addr().String() || strings.HasSuffix(c.adv, ":0") {
			t.Errorf("%s advertised %q, want the bound %q", name, c.adv, c.ln.Addr())
		}
	}
	cfg := ls.StoreConfig(StoreParams{NodeID: "n1", DataDir: "/d", MetaHTTPAddr: "http_addr"})
	if cfg.Dir != filepath.Join("/d", StoreDir) || cfg.AdvertiseAddr != ls.RaftAddr || cfg.Meta["http_addr"] != ls.HTTPAddr || cfg.Listener != ls.Raft {
		t.Errorf("StoreConfig = dir %q adv %q meta %v, want the listeners'", cfg.Dir, cfg.AdvertiseAddr, cfg.Meta)
	}
}

// TestListenFailureLeavesNothingBound: when the HTTP address is taken the
// error names it and the raft listener is closed again.
func TestListenFailureLeavesNothingBound(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	raft, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	raftAddr := raft.Addr().String()
	raft.Close()

	_, err = Listen(raftAddr, taken.Addr().String(), localhost)
	if err == nil || !strings.HasPrefix(err.Error(), "http-addr: ") {
		t.Fatalf("Listen with a taken http address = %v, want an http-addr error", err)
	}
	again, err := net.Listen("tcp", raftAddr)
	if err != nil {
		t.Fatalf("raft address still bound after a failed Listen: %v", err)
	}
	again.Close()

	bad := errors.New("no host")
	if _, err := Listen("127.0.0.1:0", "127.0.0.1:0", func(string) (string, error) { return "", bad }); !errors.Is(err, bad) {
		t.Errorf("Listen with a failing advertise host = %v, want %v", err, bad)
	}
}

// TestServeSwapsHandler: the starting handler answers /health until
// SetHandler, then the daemon's handler answers every request.
func TestServeSwapsHandler(t *testing.T) {
	ls, err := Listen("127.0.0.1:0", "127.0.0.1:0", localhost)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	errc := make(chan error, 1)
	srv := Serve(nil, ls, "n1", slog.New(slog.NewTextHandler(io.Discard, nil)), errc)
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + ls.HTTPAddr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/health"); code != http.StatusOK {
		t.Errorf("starting GET /health = %d, want 200", code)
	}
	srv.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "daemon")
	}))
	if code, body := get("/health"); code != http.StatusOK || body != "daemon" {
		t.Errorf("GET /health after SetHandler = %d %q, want 200 \"daemon\"", code, body)
	}
	srv.Shutdown()
	select {
	case err := <-errc:
		t.Errorf("a shut down server reported %v", err)
	default:
	}
}
