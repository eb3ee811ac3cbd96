package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/config"
	"github.com/aerolithdb/aerolith/internal/testwait"
)

const (
	testKey   = "test-admin-key"
	waitLimit = 60 * time.Second
)

// freePorts reserves n distinct loopback ports by listening on port 0 and
// releasing them; the agents then listen on them.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var lns []net.Listener
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return addrs
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// call sends an HTTP request to an agent with the admin key and decodes a
// JSON answer into out (when not nil).
func call(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	client := &http.Client{Timeout: 20 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, b, err)
		}
	}
	return res.StatusCode
}

type clusterInfo struct {
	NodeID   string `json:"node_id"`
	LeaderID string `json:"leader_id"`
	Leader   *struct {
		ID       string `json:"id"`
		RaftAddr string `json:"raft_addr"`
		HTTPAddr string `json:"http_addr"`
	} `json:"leader"`
	Members []struct {
		ID       string `json:"id"`
		RaftAddr string `json:"raft_addr"`
		HTTPAddr string `json:"http_addr"`
		Voter    bool   `json:"voter"`
		Leader   bool   `json:"leader"`
	} `json:"members"`
}

func TestThreeNodeCluster(t *testing.T) {
	ports := freePorts(t, 6)
	raft, httpAddrs := ports[:3], ports[3:]
	cfgs := make([]config.Config, 3)
	agents := make([]*Agent, 3)
	for i := range 3 {
		c := config.Default()
		c.InsecureHTTP = true // plain HTTP in-process
		c.NodeID = fmt.Sprintf("node%d", i+1)
		c.DataDir = filepath.Join(t.TempDir(), c.NodeID)
		c.RaftAddr, c.HTTPAddr = raft[i], httpAddrs[i]
		c.BootstrapExpect = 3
		c.Join = raft
		c.AdminKey = testKey
		cfgs[i] = c
		a, err := New(c, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		agents[i] = a
	}
	// Open all three at once, as a deployment would start them.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for i, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = a.Open(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("agent %d Open: %v", i, err)
		}
		t.Cleanup(func() { agents[i].Close() })
	}
	url := func(i int, path string) string { return "http://" + agents[i].HTTPAddr() + path }

	for i := range agents {
		testwait.Until(t, waitLimit, fmt.Sprintf("node%d ready", i+1), func() bool {
			return call(t, "GET", url(i, "/readyz"), "", nil) == 200
		})
	}

	// Every node names the same leader, with its HTTP address, and lists
	// all three voters.
	var leaderID string
	testwait.Until(t, waitLimit, "all nodes to agree on a leader and three voters", func() bool {
		leaderID = ""
		for i := range agents {
			var ci clusterInfo
			if call(t, "GET", url(i, "/api/v1/cluster"), "", &ci) != 200 || ci.LeaderID == "" || ci.Leader == nil {
				return false
			}
			if leaderID != "" && ci.LeaderID != leaderID {
				return false
			}
			leaderID = ci.LeaderID
			voters := 0
			for _, m := range ci.Members {
				if m.Voter && m.HTTPAddr != "" {
					voters++
				}
			}
			if voters != 3 || ci.Leader.HTTPAddr == "" || ci.NodeID != agents[i].NodeID() {
				return false
			}
		}
		return true
	})
	leader, follower, other := -1, -1, -1
	for i, a := range agents {
		switch {
		case a.NodeID() == leaderID:
			leader = i
		case follower < 0:
			follower = i
		default:
			other = i
		}
	}
	if leader < 0 {
		t.Fatalf("leader %q is none of the agents", leaderID)
	}
	var ci clusterInfo
	call(t, "GET", url(other, "/api/v1/cluster"), "", &ci)
	if ci.Leader.HTTPAddr != agents[leader].HTTPAddr() || ci.Leader.RaftAddr != agents[leader].RaftAddr() {
		t.Fatalf("cluster on node%d names leader %+v, want %s / %s", other+1, ci.Leader, agents[leader].HTTPAddr(), agents[leader].RaftAddr())
	}

	// Write on a follower (forwarded to the leader), read back
	// linearizably from another node.
	for n := range 20 {
		var doc struct {
			Version uint64 `json:"version"`
		}
		if st := call(t, "PUT", url(follower, fmt.Sprintf("/api/v1/collections/c/documents/d%d", n)), fmt.Sprintf(`{"data":{"n":%d}}`, n), &doc); st != 201 || doc.Version != 1 {
			t.Fatalf("PUT on follower = %d version %d", st, doc.Version)
		}
		var got struct {
			Data struct{ N int } `json:"data"`
		}
		if st := call(t, "GET", url(other, fmt.Sprintf("/api/v1/collections/c/documents/d%d?consistency=linearizable", n)), "", &got); st != 200 || got.Data.N != n {
			t.Fatalf("linearizable GET on node%d after write = %d %+v", other+1, st, got)
		}
	}
	var page struct{ Total int }
	if st := call(t, "GET", url(leader, "/api/v1/collections/c/documents?consistency=leader"), "", &page); st != 200 || page.Total != 20 {
		t.Fatalf("list on leader = %d total %d", st, page.Total)
	}

	// A follower restarted with the same data dir keeps its id, rejoins
	// and catches up with what it missed.
	if err := agents[follower].Close(); err != nil {
		t.Fatalf("close follower: %v", err)
	}
	if st := call(t, "PUT", url(leader, "/api/v1/collections/c/documents/late"), `{"data":{"late":true}}`, nil); st != 201 {
		t.Fatalf("PUT while follower down = %d", st)
	}
	restartCfg := cfgs[follower]
	restartCfg.NodeID = "" // read from the data dir
	re, err := New(restartCfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := re.Open(ctx); err != nil {
		t.Fatalf("reopen follower: %v", err)
	}
	t.Cleanup(func() { re.Close() })
	if re.NodeID() != cfgs[follower].NodeID {
		t.Fatalf("restarted node id = %q, want %q", re.NodeID(), cfgs[follower].NodeID)
	}
	testwait.Until(t, waitLimit, "restarted follower to serve the missed write", func() bool {
		return call(t, "GET", "http://"+re.HTTPAddr()+"/api/v1/collections/c/documents/late", "", nil) == 200
	})
}

func TestSingleNodeLifecycle(t *testing.T) {
	c := config.Default()
	c.InsecureHTTP = true // plain HTTP in-process
	c.DataDir = t.TempDir()
	c.RaftAddr, c.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.InsecureNoAuth = true
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil))
	a, err := New(c, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.NodeID(), "node-") || !strings.HasPrefix(a.HTTPAddr(), "127.0.0.1:") || strings.HasSuffix(a.HTTPAddr(), ":0") {
		t.Fatalf("node id %q http %q", a.NodeID(), a.HTTPAddr())
	}
	stored, err := os.ReadFile(filepath.Join(c.DataDir, "node-id"))
	if err != nil || strings.TrimSpace(string(stored)) != a.NodeID() {
		t.Fatalf("node-id file = %q, %v", stored, err)
	}
	base := "http://" + a.HTTPAddr()
	testwait.Until(t, waitLimit, "ready", func() bool { return call(t, "GET", base+"/readyz", "", nil) == 200 })
	// Insecure mode: no key needed, caller is admin of the default tenant.
	req, _ := http.NewRequest("PUT", base+"/api/v1/collections/c/documents/1", strings.NewReader(`{"data":{"ok":true}}`))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("PUT without key in insecure mode = %d", res.StatusCode)
	}
	var self struct{ NodeID, RaftAddr string }
	call(t, "GET", base+"/api/v1/cluster/self", "", &struct {
		NodeID   *string `json:"node_id"`
		RaftAddr *string `json:"raft_addr"`
	}{&self.NodeID, &self.RaftAddr})
	if self.NodeID != a.NodeID() || self.RaftAddr != a.RaftAddr() {
		t.Fatalf("self = %+v", self)
	}

	// One registry carries process, store and HTTP metrics.
	mres, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mres.Body)
	mres.Body.Close()
	for _, want := range []string{"go_goroutines", "process_open_fds", "aerolith_store_proposals_total", `aerolith_http_requests_total{code="201",method="PUT",route="/api/v1/collections/{c}/documents/{id}"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}

	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := http.Get(base + "/health"); err == nil {
		t.Fatal("HTTP still served after Close")
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	for _, want := range []string{`"msg":"agent serving"`, `"msg":"agent stopped"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("logs lack %s:\n%s", want, out)
		}
	}
	if strings.Index(out, `"msg":"store closed"`) < 0 || strings.Index(out, `"msg":"store closed"`) > strings.Index(out, `"msg":"agent stopped"`) {
		t.Fatalf("store not closed before the agent reported stopping:\n%s", out)
	}

	// The same data dir reopens with the same id.
	c.NodeID = ""
	b, err := New(c, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.NodeID() != a.NodeID() {
		t.Fatalf("reopened node id %q, want %q", b.NodeID(), a.NodeID())
	}
	var doc struct{ Version uint64 }
	testwait.Until(t, waitLimit, "document after restart", func() bool {
		return call(t, "GET", "http://"+b.HTTPAddr()+"/api/v1/collections/c/documents/1", "", &doc) == 200 && doc.Version == 1
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestNewValidates(t *testing.T) {
	c := config.Default()
	c.InsecureHTTP = true // plain HTTP in-process
	c.DataDir = t.TempDir()
	if _, err := New(c, nil); err == nil || !strings.HasPrefix(err.Error(), "admin-key: ") {
		t.Fatalf("New without key = %v, want admin-key error", err)
	}
	c.AdminKey = "k"
	c.BootstrapExpect = -2
	if _, err := New(c, nil); err == nil || !strings.HasPrefix(err.Error(), "bootstrap-expect: ") {
		t.Fatalf("New with bad bootstrap-expect = %v", err)
	}
}

func TestOpenFailsCleanly(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	c := config.Default()
	c.InsecureHTTP = true // plain HTTP in-process
	c.DataDir = t.TempDir()
	c.RaftAddr, c.HTTPAddr = "127.0.0.1:0", busy.Addr().String()
	c.AdminKey = testKey
	a, err := New(c, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	err = a.Open(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "http-addr: ") {
		t.Fatalf("Open on a busy port = %v, want http-addr error", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close after failed Open: %v", err)
	}
}
