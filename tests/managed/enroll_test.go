package managed

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/pki"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// bootAgent is one agent process started the way a cloud VM starts it
// from user data: no certificate files, no peer addresses.
type bootAgent struct {
	id, dataDir, logPath string
	httpAddr, raftAddr   string
	args                 []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// start starts the process (again, after kill), appending to its log.
func (a *bootAgent) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(binary, a.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	a.mu.Lock()
	a.cmd, a.done = cmd, done
	a.mu.Unlock()
}

// kill SIGKILLs the process and waits for it.
func (a *bootAgent) kill() {
	a.mu.Lock()
	cmd, done := a.cmd, a.done
	a.mu.Unlock()
	_ = cmd.Process.Kill()
	<-done
}

func (a *bootAgent) pid() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cmd.Process.Pid
}

func (a *bootAgent) exited() bool {
	a.mu.Lock()
	done := a.done
	a.mu.Unlock()
	select {
	case <-done:
		return true
	default:
		return false
	}
}

func (a *bootAgent) logTail(n int) string {
	b, _ := os.ReadFile(a.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startBootAgents starts n agents with only --billing-url (verified with
// --billing-ca), --enrollment-token, --tls-bootstrap, --discover billing
// and --bootstrap-expect n, each on its own ports and data directory, and
// kills them when the test ends.
func startBootAgents(t *testing.T, n int, bill *proctest.Billing, token, adminKey string) []*bootAgent {
	t.Helper()
	return startAgentsWith(t, "n", n, bill, token, adminKey, "--discover", "billing", "--bootstrap-expect", strconv.Itoa(n))
}

// startAgentsWith starts n agents named prefix1..prefixN with
// --tls-bootstrap and the given membership flags (--discover or --join).
func startAgentsWith(t *testing.T, prefix string, n int, bill *proctest.Billing, token, adminKey string, membership ...string) []*bootAgent {
	t.Helper()
	ports, err := proctest.FreePorts("127.0.0.1", 2*n)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	agents := make([]*bootAgent, n)
	for i := range agents {
		id := prefix + strconv.Itoa(i+1)
		a := &bootAgent{id: id, dataDir: filepath.Join(dir, id), logPath: filepath.Join(dir, id+".log"),
			httpAddr: "127.0.0.1:" + strconv.Itoa(ports[2*i]), raftAddr: "127.0.0.1:" + strconv.Itoa(ports[2*i+1])}
		a.args = append([]string{"agent", "--node-id", id, "--data-dir", a.dataDir,
			"--http-addr", a.httpAddr, "--raft-addr", a.raftAddr, "--admin-key", adminKey,
			"--billing-url", bill.URL(), "--billing-ca", bill.CAFile(), "--enrollment-token", token,
			"--tls-bootstrap", "--meter-window", "1s", "--policy-refresh", "1s", "--log-level", "warn"}, membership...)
		a.start(t)
		agents[i] = a
	}
	t.Cleanup(func() {
		for _, a := range agents {
			if t.Failed() {
				t.Logf("%s log tail:\n%s", a.id, a.logTail(30))
			}
			a.kill()
		}
	})
	return agents
}

// peerCert returns the certificate the agent serves on addr (its HTTPS
// API or, with clientCert, its raft port).
func peerCert(addr string, roots *x509.CertPool, clientCert *tls.Certificate) (*x509.Certificate, error) {
	cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if clientCert != nil {
		cfg.Certificates = []tls.Certificate{*clientCert}
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// TLS 1.3: the server checks the client's certificate after the
	// client's handshake returns; a read surfaces its refusal.
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
		return nil, err
	}
	return c.ConnectionState().PeerCertificates[0], nil
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestEnrollAndDiscover: three agents started with nothing but billing's
// URL and CA, the enrollment token, --tls-bootstrap, --discover billing
// and --bootstrap-expect 3 get their certificates from billing (keys made
// on the node), find each other in billing's registry, form one healthy
// cluster over mutual TLS and serve a tenant's writes; they renew their
// certificates at half-life without a restart. Billing refuses a
// certificate to another cluster's token and a request for another
// cluster's identity.
func TestEnrollAndDiscover(t *testing.T) {
	proctest.SkipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// 20s certificates: agents renew every ~10s while the test runs.
	bill, err := proctest.StartBilling(ctx, proctest.BillingConfig{Binary: binary, Dir: t.TempDir(), TLS: true, ExtraArgs: []string{"--node-cert-ttl", "20s"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("billing log tail:\n%s", bill.LogTail(30))
		}
		bill.Stop()
	})
	admin, err := bill.Admin()
	if err != nil {
		t.Fatal(err)
	}
	ten, err := admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "Org", Name: "shop", Tier: "starter", Email: "b@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	enr, err := admin.RegisterCluster(ctx, "", []string{ten.ID})
	if err != nil {
		t.Fatal(err)
	}
	adminKey := "cluster-admin-key-0123456789"
	agents := startBootAgents(t, 3, bill, enr.EnrollmentToken, adminKey)

	// The cluster's CA, as a client fetches it from billing.
	caPEM, err := admin.ClusterCA(ctx, enr.ClusterID)
	if err != nil {
		t.Fatalf("cluster CA: %v", err)
	}
	roots, _, err := pki.ParseCertPool(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	call := func(method, url, key string, body []byte) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := hc.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	alive := func() error {
		for _, a := range agents {
			if a.exited() {
				return fmt.Errorf("%w: agent %s exited:\n%s", errExited, a.id, a.logTail(20))
			}
		}
		return nil
	}

	// One cluster of three voters with a leader, seen from every node
	// over HTTPS verified with the cluster CA.
	for _, a := range agents {
		testwait.For(t, 2*waitLimit, a.id+" reports a formed cluster of 3", func() error {
			if err := alive(); err != nil {
				return err
			}
			st, body, err := call(http.MethodGet, "https://"+a.httpAddr+"/api/v1/cluster", adminKey, nil)
			if err != nil || st != http.StatusOK {
				return fmt.Errorf("GET /api/v1/cluster = %d %s %v", st, body, err)
			}
			var info struct {
				LeaderID string `json:"leader_id"`
				Members  []struct {
					ID    string `json:"id"`
					Voter bool   `json:"voter"`
				} `json:"members"`
			}
			if err := json.Unmarshal(body, &info); err != nil {
				return err
			}
			voters := 0
			for _, m := range info.Members {
				if m.Voter {
					voters++
				}
			}
			if voters != 3 || info.LeaderID == "" {
				return fmt.Errorf("cluster = %s", body)
			}
			return nil
		})
		fi, err := os.Stat(filepath.Join(a.dataDir, "tls", pki.KeyFile))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: node key %v, mode %v; want a 0600 file made on the node", a.id, err, fi)
		}
	}

	// Mutual TLS on the raft port: a client without a node certificate of
	// this cluster's CA does not complete a handshake; the node
	// certificate of agent 1 (its own files) does.
	if _, err := peerCert(agents[0].raftAddr, roots, nil); err == nil {
		t.Fatal("raft port completed a handshake without a client certificate")
	}
	own, err := tls.LoadX509KeyPair(filepath.Join(agents[1].dataDir, "tls", pki.CertFile), filepath.Join(agents[1].dataDir, "tls", pki.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peerCert(agents[0].raftAddr, roots, &own); err != nil {
		t.Fatalf("raft handshake with a node certificate of the cluster: %v", err)
	}

	// A tenant's writes, through one node, read back through another.
	var tenantKey string
	testwait.For(t, 2*waitLimit, "create a tenant key", func() error {
		if err := alive(); err != nil {
			return err
		}
		st, body, err := call(http.MethodPost, "https://"+agents[0].httpAddr+"/api/v1/keys", adminKey, mustJSON(map[string]string{"tenant": ten.ID, "role": "readwrite", "name": "ci"}))
		if err != nil || st != http.StatusCreated {
			return fmt.Errorf("POST /api/v1/keys = %d %s %v", st, body, err)
		}
		var k keyOut
		if err := json.Unmarshal(body, &k); err != nil {
			return err
		}
		tenantKey = k.Key
		return nil
	})
	write := func(id string) {
		t.Helper()
		testwait.For(t, 2*waitLimit, "tenant write "+id, func() error {
			if err := alive(); err != nil {
				return err
			}
			st, body, err := call(http.MethodPut, "https://"+agents[1].httpAddr+"/api/v1/collections/orders/documents/"+id, tenantKey, []byte(`{"data":{"total":42}}`))
			if err != nil || (st != http.StatusOK && st != http.StatusCreated) {
				return fmt.Errorf("PUT = %d %s %v", st, body, err)
			}
			return nil
		})
		st, body, err := call(http.MethodGet, "https://"+agents[2].httpAddr+"/api/v1/collections/orders/documents/"+id, tenantKey, nil)
		if err != nil || st != http.StatusOK || !strings.Contains(string(body), `"total":42`) {
			t.Fatalf("GET %s from another node = %d %s %v", id, st, body, err)
		}
	}
	write("o1")

	// Billing refuses another cluster's token and another cluster's
	// identity.
	other, err := admin.RegisterCluster(ctx, "", []string{ten.ID})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := billingclient.New(billingclient.Config{URL: bill.URL(), Key: other.EnrollmentToken, HTTPClient: bill.HTTPClient(), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := pki.NewNodeKey("")
	if err != nil {
		t.Fatal(err)
	}
	csrA, err := pki.NodeCSR(key, pki.Identity{ClusterID: enr.ClusterID, NodeID: "n9"}, nil, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := foreign.RequestCertificate(ctx, enr.ClusterID, "n9", csrA); !billingclient.IsNotFound(err) {
		t.Fatalf("certificate for cluster %s with another cluster's token: %v, want 404", enr.ClusterID, err)
	}
	if _, err := foreign.RequestCertificate(ctx, other.ClusterID, "n9", csrA); !billingclient.IsPermissionDenied(err) || !strings.Contains(err.Error(), enr.ClusterID) {
		t.Fatalf("certificate naming cluster %s through cluster %s: %v, want 403 naming it", enr.ClusterID, other.ClusterID, err)
	}

	// A node enrolled with the other cluster's token gets that cluster's
	// certificate, which this cluster's raft port refuses: it cannot join.
	intruder := startAgentsWith(t, "x", 1, bill, other.EnrollmentToken, adminKey, "--join", agents[0].raftAddr)[0]
	testwait.For(t, 2*waitLimit, "the intruder's handshake refused on the raft port", func() error {
		if err := alive(); err != nil {
			return err
		}
		if intruder.exited() {
			return fmt.Errorf("%w: intruder exited:\n%s", errExited, intruder.logTail(20))
		}
		st, body, err := call(http.MethodGet, "https://"+agents[0].httpAddr+"/metrics", adminKey, nil)
		if err != nil || st != http.StatusOK {
			return fmt.Errorf("GET /metrics = %d %v", st, err)
		}
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, `aerolith_tls_handshake_failures_total{port="raft"} `) && !strings.HasSuffix(line, " 0") {
				return nil
			}
		}
		return errors.New("no refused raft handshake yet")
	})
	st, body, err := call(http.MethodGet, "https://"+agents[0].httpAddr+"/api/v1/cluster", adminKey, nil)
	if err != nil || st != http.StatusOK || strings.Contains(string(body), `"x1"`) {
		t.Fatalf("cluster after the intruder's attempt = %d %s %v; want it without x1", st, body, err)
	}

	// Renewal at half-life, picked up without a restart: the serial each
	// node serves changes while its process keeps running, and the
	// cluster keeps serving writes past the first certificates' expiry.
	first := make([]*x509.Certificate, len(agents))
	for i, a := range agents {
		if first[i], err = peerCert(a.httpAddr, roots, nil); err != nil {
			t.Fatalf("%s: %v", a.id, err)
		}
	}
	pids := make([]int, len(agents))
	for i, a := range agents {
		pids[i] = a.pid()
	}
	for i, a := range agents {
		testwait.For(t, 2*waitLimit, a.id+" serves a renewed certificate", func() error {
			if err := alive(); err != nil {
				return err
			}
			c, err := peerCert(a.httpAddr, roots, nil)
			if err != nil {
				return err
			}
			if c.SerialNumber.Cmp(first[i].SerialNumber) == 0 {
				return fmt.Errorf("still serial %x", c.SerialNumber)
			}
			return nil
		})
	}
	// Past the first certificates' expiry the cluster still serves:
	// raft and the API run on the renewed ones.
	testwait.For(t, 2*waitLimit, "the first certificates expired", func() error {
		for _, c := range first {
			if !time.Now().After(c.NotAfter) {
				return fmt.Errorf("certificate %x valid until %s", c.SerialNumber, c.NotAfter)
			}
		}
		return alive()
	})
	write("o2")
	for i, a := range agents {
		if a.exited() || a.pid() != pids[i] {
			t.Fatalf("%s restarted or exited during renewal", a.id)
		}
	}

	// A node killed and restarted on its data directory rejoins with the
	// addresses it discovered, keeps its key, and serves again.
	agents[2].kill()
	keyBefore, err := os.ReadFile(filepath.Join(agents[2].dataDir, "tls", pki.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	agents[2].start(t)
	testwait.For(t, 2*waitLimit, "the restarted node serves a tenant's reads", func() error {
		if err := alive(); err != nil {
			return err
		}
		st, body, err := call(http.MethodGet, "https://"+agents[2].httpAddr+"/api/v1/collections/orders/documents/o2", tenantKey, nil)
		if err != nil || st != http.StatusOK {
			return fmt.Errorf("GET o2 = %d %s %v", st, body, err)
		}
		return nil
	})
	keyAfter, err := os.ReadFile(filepath.Join(agents[2].dataDir, "tls", pki.KeyFile))
	if err != nil || !bytes.Equal(keyBefore, keyAfter) {
		t.Fatalf("the restarted node's key changed (%v)", err)
	}
}
