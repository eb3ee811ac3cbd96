package security

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/pki"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// TestTLSCluster: a 3-node TLS cluster serves writes (also forwarded
// from a follower) and linearizable reads over HTTPS; nodes with a
// foreign CA's or an expired certificate never join nor reach raft;
// plain-text clients get nothing from the data API or the raft port.
func TestTLSCluster(t *testing.T) {
	proctest.SkipIfShort(t)
	c := proctest.StartCluster(t, proctest.Config{Binary: binary, Nodes: 3, TLS: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	follower := (leader + 1) % c.N()
	if !strings.HasPrefix(c.URL(follower), "https://") {
		t.Fatalf("URL = %s, want https", c.URL(follower))
	}

	t.Run("writes, forwarding and linearizable reads", func(t *testing.T) {
		api := c.API()
		if _, err := api.Put(ctx, c.URL(leader), "sec", "a", map[string]any{"n": 1}, 0); err != nil {
			t.Fatalf("put on the leader: %v", err)
		}
		if _, err := api.Put(ctx, c.URL(follower), "sec", "b", map[string]any{"n": 2}, 0); err != nil {
			t.Fatalf("put forwarded from a follower: %v", err)
		}
		for i := 0; i < c.N(); i++ {
			for _, id := range []string{"a", "b"} {
				if _, err := api.Get(ctx, c.URL(i), "sec", id, proctest.Linearizable); err != nil {
					t.Fatalf("linearizable get %s on node %d: %v", id, i, err)
				}
			}
		}
	})

	t.Run("plain http to the data port", func(t *testing.T) {
		resp, err := http.Get("http://" + c.HTTPAddr(follower) + "/api/v1/cluster")
		if err != nil {
			return // refused outright: no data either
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var v map[string]any
		if resp.StatusCode < 300 || json.Unmarshal(body, &v) == nil {
			t.Fatalf("plain http answered %d %q; want a non-2xx answer that is no API JSON", resp.StatusCode, body)
		}
	})

	t.Run("plain tcp and certificate-less tls to the raft port", func(t *testing.T) {
		raft := c.RaftAddr(follower)
		conn, err := net.DialTimeout("tcp", raft, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		// The raft protocol byte and a request: a plain-text peer.
		if _, err := conn.Write([]byte("P{\"op\":\"join\"}\n")); err == nil {
			if n, err := conn.Read(make([]byte, 64)); err == nil {
				t.Fatalf("plain tcp to the raft port got %d bytes back", n)
			}
		}
		if err := dialRefused(raft, nil); err != nil {
			t.Fatalf("tls without a client certificate: %v", err)
		}
	})

	t.Run("foreign CA node cannot join", func(t *testing.T) {
		// Same cluster id, different CA: a certificate minted elsewhere.
		foreign, err := pki.NewCA(pki.CAConfig{ClusterID: proctest.ClusterID})
		if err != nil {
			t.Fatal(err)
		}
		before, err := handshakeFailures(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		rogue := startRogue(t, c, dir, certFiles(t, foreign, "rogue", filepath.Join(dir, "tls"), time.Time{}, 0))
		defer rogue.stop()
		// Its join attempts reach the members' raft ports and are refused
		// at the handshake: counted and logged.
		testwait.For(t, time.Minute, "handshake failures counted", func() error {
			n, err := handshakeFailures(ctx, c)
			if err == nil && n <= before {
				err = errRetry("no new handshake failure yet")
			}
			return err
		})
		if !logsContain(c, "tls handshake failed on the raft port") {
			t.Error("no node logged the refused handshake")
		}
		// A direct raft handshake with the foreign certificate fails too.
		if err := dialRefused(c.RaftAddr(leader), []tls.Certificate{probeCert(t, foreign, "rogue2", time.Time{}, 0)}); err != nil {
			t.Fatal(err)
		}
		info, err := c.API().Cluster(ctx, c.URL(leader))
		if err != nil {
			t.Fatal(err)
		}
		if len(info.Members) != 3 {
			t.Fatalf("members = %+v, want the 3 original nodes", info.Members)
		}
		if rogue.hasLeader(t) {
			t.Fatal("the rogue node learned of a leader")
		}
	})

	t.Run("expired certificate", func(t *testing.T) {
		dir := t.TempDir()
		// Issued by the cluster's CA, valid for a minute just after the
		// CA's own start (an hour before the cluster): long expired.
		ca := c.CA()
		past := ca.Cert.NotBefore.Add(time.Second)
		flags := certFiles(t, ca, "stale", filepath.Join(dir, "tls"), past, time.Minute)
		out, err := exec.Command(binary, append([]string{"agent", "--node-id", "stale", "--data-dir", filepath.Join(dir, "data"),
			"--http-addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0", "--admin-key", c.AdminKey(),
			"--join", c.RaftAddr(leader), "--log-level", "warn"}, flags...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "tls-cert") && !strings.Contains(string(out), "expired") {
			t.Fatalf("agent with an expired certificate: err %v, output %s; want a refusal naming the certificate", err, out)
		}
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls", pki.CertFile), filepath.Join(dir, "tls", pki.KeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := dialRefused(c.RaftAddr(leader), []tls.Certificate{pair}); err != nil {
			t.Fatalf("raft handshake with an expired certificate: %v", err)
		}
		info, err := c.API().Cluster(ctx, c.URL(leader))
		if err != nil {
			t.Fatal(err)
		}
		if len(info.Members) != 3 {
			t.Fatalf("members = %+v, want 3", info.Members)
		}
	})
}

type errRetry string

func (e errRetry) Error() string { return string(e) }

// rogue is an agent process outside the cluster's trust.
type rogue struct {
	cmd      *exec.Cmd
	httpAddr string
	hc       *http.Client
	key      string
	log      *bytes.Buffer
}

// startRogue starts an agent with tlsFlags that tries to join c.
func startRogue(t *testing.T, c *proctest.Cluster, dir string, tlsFlags []string) *rogue {
	t.Helper()
	ports, err := proctest.FreePorts("127.0.0.1", 2)
	if err != nil {
		t.Fatal(err)
	}
	join := make([]string, c.N())
	for i := range join {
		join[i] = c.RaftAddr(i)
	}
	r := &rogue{httpAddr: "127.0.0.1:" + strconv.Itoa(ports[0]), key: c.AdminKey(), log: &bytes.Buffer{}}
	r.cmd = exec.Command(binary, append([]string{"agent", "--node-id", "rogue", "--data-dir", filepath.Join(dir, "data"),
		"--http-addr", r.httpAddr, "--raft-addr", "127.0.0.1:" + strconv.Itoa(ports[1]),
		"--admin-key", c.AdminKey(), "--join", strings.Join(join, ","), "--log-level", "warn"}, tlsFlags...)...)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(tlsFlags[5])
	if err != nil {
		t.Fatal(err)
	}
	r.hc = insecureClientFor(caPEM)
	t.Cleanup(r.stop)
	return r
}

func (r *rogue) stop() {
	if r.cmd.Process != nil && r.cmd.ProcessState == nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// hasLeader reports whether the rogue's own /api/v1/cluster names a leader.
func (r *rogue) hasLeader(t *testing.T) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https://"+r.httpAddr+"/api/v1/cluster", nil)
	req.Header.Set("Authorization", "Bearer "+r.key)
	resp, err := r.hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var info proctest.ClusterInfo
	if json.NewDecoder(resp.Body).Decode(&info) != nil {
		return false
	}
	return info.LeaderID != ""
}

// insecureClientFor returns a client trusting the PEM CA bundle caPEM.
func insecureClientFor(caPEM []byte) *http.Client {
	certs, err := pki.ParseCertificates(caPEM)
	if err != nil {
		return http.DefaultClient
	}
	pool := x509.NewCertPool()
	pool.AddCert(certs[0])
	cfg := &tls.Config{RootCAs: pool}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}
