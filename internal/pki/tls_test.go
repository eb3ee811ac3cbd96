package pki

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// result is what one side of a handshake saw.
type result struct {
	err  error
	peer Identity
}

// handshake runs one TLS connection over loopback TCP between a server and
// a client config. The server writes a byte after its handshake so that a
// client rejected by the server (TLS 1.3 finishes the client first) sees
// the failure on its read.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) (server, client result) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvDone := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvDone <- result{err: err}
			return
		}
		defer c.Close()
		tc := tls.Server(c, serverCfg)
		if err := tc.HandshakeContext(context.Background()); err != nil {
			// Wait for the client to read the alert and hang up: closing
			// with its last flight unread would reset the connection and
			// hide the alert from it.
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			io.Copy(io.Discard, c)
			srvDone <- result{err: err}
			return
		}
		id, _ := PeerIdentity(tc.ConnectionState())
		_, err = tc.Write([]byte{1})
		srvDone <- result{err: err, peer: id}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(conn, clientCfg)
	err = tc.HandshakeContext(context.Background())
	if err == nil {
		client.peer, _ = PeerIdentity(tc.ConnectionState())
		_, err = io.ReadFull(tc, make([]byte, 1))
	}
	client.err = err
	tc.Close()
	return <-srvDone, client
}

// testEnv is a cluster CA created three hours ago (so it can issue
// expired certificates) with node directories.
type testEnv struct {
	ca *CA
}

func newEnv(t *testing.T, cluster string, algo Algorithm) testEnv {
	t.Helper()
	ca, err := NewCA(CAConfig{ClusterID: cluster, Algorithm: algo, Now: time.Now().Add(-3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return testEnv{ca: ca}
}

func (e testEnv) node(t *testing.T, id string) *Reloader {
	t.Helper()
	return loadDir(t, nodeDir(t, e.ca, id))
}

// expired returns a tls.Certificate for node id that expired an hour ago.
func (e testEnv) expired(t *testing.T, id string) tls.Certificate {
	t.Helper()
	c, k, err := IssueNode(e.ca, NodeRequest{NodeID: id, IPs: []string{"127.0.0.1"}, TTL: time.Hour, Now: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return keyPair(t, c, k)
}

// valid returns a tls.Certificate for node id.
func (e testEnv) valid(t *testing.T, id string) tls.Certificate {
	t.Helper()
	c, k, err := IssueNode(e.ca, NodeRequest{NodeID: id, IPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	return keyPair(t, c, k)
}

func (e testEnv) server(t *testing.T) tls.Certificate {
	t.Helper()
	c, k, err := IssueServer(e.ca, ServerRequest{IPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	return keyPair(t, c, k)
}

func mustServer(t *testing.T, r *Reloader, o ServerOptions) *tls.Config {
	t.Helper()
	c, err := ServerConfig(r, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustClient(t *testing.T, r *Reloader, o ClientOptions) *tls.Config {
	t.Helper()
	c, err := ClientConfig(r, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	peerServer = ServerOptions{RequireNode: true}
	peerClient = ClientOptions{RequireNode: true}
)

func TestMutualTLS(t *testing.T) {
	for _, algo := range []Algorithm{ECDSAP256, Ed25519} {
		t.Run(string(algo), func(t *testing.T) {
			env := newEnv(t, "c-1", algo)
			n1, n2 := env.node(t, "n1"), env.node(t, "n2")
			for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
				cc := mustClient(t, n2, peerClient)
				cc.MaxVersion = version
				srv, cli := handshake(t, mustServer(t, n1, peerServer), cc)
				if srv.err != nil || cli.err != nil {
					t.Fatalf("TLS %x handshake: server %v, client %v", version, srv.err, cli.err)
				}
				if srv.peer != (Identity{"c-1", "n2"}) || cli.peer != (Identity{"c-1", "n1"}) {
					t.Errorf("peers: server saw %+v, client saw %+v", srv.peer, cli.peer)
				}
			}
		})
	}
}

func TestMutualTLSRejects(t *testing.T) {
	env := newEnv(t, "c-1", "")
	foreign := newEnv(t, "c-2", "")
	n1, n2 := env.node(t, "n1"), env.node(t, "n2")

	// A bundle holding both clusters' CAs, pinned to c-1: a c-2 node
	// chains, but belongs to the wrong cluster.
	dir := nodeDir(t, env.ca, "n3")
	bundle := append(env.ca.CertPEM(), foreign.ca.CertPEM()...)
	if err := os.WriteFile(filepath.Join(dir, CACertFile), bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	mixed := loadDir(t, dir)
	// A c-2 CA that signs a node claiming to be of c-1.
	forged := func() tls.Certificate {
		c, k, err := IssueNode(&CA{Cert: foreign.ca.Cert, Key: foreign.ca.Key, ClusterID: "c-1"}, NodeRequest{NodeID: "evil", IPs: []string{"127.0.0.1"}})
		if err != nil {
			t.Fatal(err)
		}
		return keyPair(t, c, k)
	}()

	raw := func(c tls.Certificate) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{c}, InsecureSkipVerify: true}
	}
	tests := []struct {
		name       string
		server     *tls.Config
		client     *tls.Config
		serverWant string // "" when the server must succeed
		clientWant string
	}{
		{"client of a foreign CA", mustServer(t, n1, peerServer), raw(foreign.valid(t, "x")), "certificate signed by unknown authority", "bad certificate"},
		{"server of a foreign CA", mustServer(t, foreign.node(t, "x"), peerServer), mustClient(t, n2, peerClient), "bad certificate", "certificate signed by unknown authority"},
		{"expired client", mustServer(t, n1, peerServer), raw(env.expired(t, "n2")), "expired", "bad certificate"},
		{"expired server", &tls.Config{Certificates: []tls.Certificate{env.expired(t, "n1")}}, mustClient(t, n2, peerClient), "bad certificate", "expired"},
		{"client without certificate", mustServer(t, n1, peerServer), &tls.Config{InsecureSkipVerify: true}, "client didn't provide a certificate", "certificate required"},
		{"server certificate as client", mustServer(t, n1, peerServer), raw(env.server(t)), "incompatible key usage", "bad certificate"},
		{"server certificate as raft server", &tls.Config{Certificates: []tls.Certificate{env.server(t)}}, mustClient(t, n2, peerClient), "bad certificate", "not an Aerolith node certificate"},
		{"other cluster in the bundle", mustServer(t, mixed, peerServer), raw(foreign.valid(t, "x")), `belongs to cluster "c-2", not "c-1"`, "bad certificate"},
		{"forged cluster claim", mustServer(t, mixed, peerServer), raw(forged), `is not signed by cluster "c-1"'s CA`, "bad certificate"},
		{"wrong server name", mustServer(t, n1, ServerOptions{}), mustClient(t, n2, ClientOptions{ServerName: "10.9.9.9"}), "bad certificate", "not 10.9.9.9"},
		{"right server name", mustServer(t, n1, ServerOptions{RequireClientCert: true}), mustClient(t, n2, ClientOptions{ServerName: "localhost"}), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cli := handshake(t, tt.server, tt.client)
			check := func(side string, err error, want string) {
				t.Helper()
				switch {
				case want == "" && err != nil:
					t.Errorf("%s: %v, want success", side, err)
				case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
					t.Errorf("%s error = %v, want %q", side, err, want)
				}
			}
			check("server", srv.err, tt.serverWant)
			check("client", cli.err, tt.clientWant)
		})
	}
}

func TestVerifyUsesClock(t *testing.T) {
	env := newEnv(t, "c-1", "")
	dir := nodeDir(t, env.ca, "n1")
	later := dirConfig(dir)
	later.Now = func() time.Time { return time.Now().Add(DefaultNodeTTL + time.Hour) }
	// Loaded with today's clock, verifying with a clock past expiry.
	r := loadDir(t, dir)
	r.cfg.Now = later.Now
	_, cli := handshake(t, mustServer(t, env.node(t, "n2"), ServerOptions{}), mustClient(t, r, peerClient))
	if cli.err == nil || !strings.Contains(cli.err.Error(), "expired") {
		t.Errorf("client with a clock past the server's expiry: %v, want expired", cli.err)
	}
}

func TestConfigErrors(t *testing.T) {
	env := newEnv(t, "c-1", "")
	dir := nodeDir(t, env.ca, "n1")
	caOnly, err := LoadReloader(ReloaderConfig{CAFile: filepath.Join(dir, CACertFile)})
	if err != nil {
		t.Fatal(err)
	}
	noCA, err := LoadReloader(ReloaderConfig{CertFile: filepath.Join(dir, CertFile), KeyFile: filepath.Join(dir, KeyFile)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ServerConfig(caOnly, ServerOptions{}); err == nil || !strings.Contains(err.Error(), "needs a certificate") {
		t.Errorf("ServerConfig without certificate: %v", err)
	}
	if _, err := ServerConfig(noCA, ServerOptions{RequireClientCert: true}); err == nil || !strings.Contains(err.Error(), "needs a CA bundle") {
		t.Errorf("ServerConfig mTLS without bundle: %v", err)
	}
	if _, err := ClientConfig(noCA, peerClient); err == nil || !strings.Contains(err.Error(), "needs a CA bundle") {
		t.Errorf("ClientConfig node without bundle: %v", err)
	}
	if _, err := ClientConfig(caOnly, ClientOptions{}); err == nil || !strings.Contains(err.Error(), "server name required") {
		t.Errorf("ClientConfig without name: %v", err)
	}
	cfg := mustServer(t, noCA, ServerOptions{})
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
	}
}

// httpsServer serves handler over TLS on loopback with cfg and returns
// its address.
func httpsServer(t *testing.T, cfg *tls.Config, handler http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestHTTPS(t *testing.T) {
	env := newEnv(t, "c-1", "")
	n1, n2 := env.node(t, "n1"), env.node(t, "n2")
	var served atomic.Int32
	addr := httpsServer(t, mustServer(t, n1, ServerOptions{RequireClientCert: true}), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		fmt.Fprintf(w, "%s %s", r.Proto, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))

	// Plain HTTP to the TLS port is refused before reaching the handler.
	resp, err := http.Get("http://" + addr + "/")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
			t.Errorf("plain HTTP got %d %q, want 400 from the TLS server", resp.StatusCode, body)
		}
	}
	if served.Load() != 0 {
		t.Fatal("a plain-HTTP request reached the handler")
	}

	// HTTPS with the node's client certificate, over HTTP/2.
	client := &http.Client{Transport: NewTransport(n2)}
	resp, err = client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatalf("HTTPS with client certificate: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "HTTP/2.0 n2" {
		t.Errorf("HTTPS body = %q, want HTTP/2.0 n2", body)
	}

	// Without a client certificate the server refuses.
	caOnly, err := LoadReloader(ReloaderConfig{CAFile: filepath.Join(nodeDir(t, env.ca, "x"), CACertFile)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&http.Client{Transport: NewTransport(caOnly)}).Get("https://" + addr + "/"); err == nil {
		t.Error("HTTPS without client certificate succeeded")
	}
	// By a name the certificate does not hold, the client refuses.
	if _, err := client.Get("https://" + strings.Replace(addr, "127.0.0.1", "127.0.0.2", 1) + "/"); err == nil {
		t.Error("HTTPS to a name outside the certificate succeeded")
	}
	// A client trusting another CA refuses the server.
	other := newEnv(t, "c-2", "").node(t, "x")
	if _, err := (&http.Client{Transport: NewTransport(other)}).Get("https://" + addr + "/"); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("HTTPS from a foreign-CA client: %v, want unknown authority", err)
	}
	if served.Load() != 1 {
		t.Errorf("handler served %d requests, want 1", served.Load())
	}
}

// TestRotationUnderLoad rotates node certificates, then the CA (bundle of
// old and new, certificates of the new, bundle of the new only), with
// Reload on both sides while clients keep handshaking: no handshake fails.
func TestRotationUnderLoad(t *testing.T) {
	ca1, err := NewCA(CAConfig{ClusterID: "c-1"})
	if err != nil {
		t.Fatal(err)
	}
	ca2, err := NewCA(CAConfig{ClusterID: "c-1", Algorithm: Ed25519})
	if err != nil {
		t.Fatal(err)
	}
	srvDir, cliDir := nodeDir(t, ca1, "n1"), nodeDir(t, ca1, "n2")
	srvR, cliR := loadDir(t, srvDir), loadDir(t, cliDir)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serverCfg := mustServer(t, srvR, peerServer)
	var (
		mu       sync.Mutex
		failures []error
	)
	fail := func(err error) {
		mu.Lock()
		failures = append(failures, err)
		mu.Unlock()
	}
	var serverWG sync.WaitGroup
	serverWG.Add(1)
	go func() {
		defer serverWG.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			serverWG.Add(1)
			go func() {
				defer serverWG.Done()
				defer c.Close()
				tc := tls.Server(c, serverCfg)
				if err := tc.HandshakeContext(context.Background()); err != nil {
					fail(fmt.Errorf("server: %w", err))
					return
				}
				tc.Write([]byte{1})
			}()
		}
	}()

	clientCfg := mustClient(t, cliR, peerClient)
	var (
		done  = make(chan struct{})
		count atomic.Int64
		tick  = make(chan struct{}, 1)
		wg    sync.WaitGroup
	)
	const workers = 4
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				conn, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					fail(err)
					return
				}
				tc := tls.Client(conn, clientCfg)
				err = tc.Handshake()
				if err == nil {
					_, err = io.ReadFull(tc, make([]byte, 1))
				}
				tc.Close()
				if err != nil {
					fail(fmt.Errorf("client: %w", err))
					continue
				}
				count.Add(1)
				select {
				case tick <- struct{}{}:
				default:
				}
			}
		}()
	}
	// settle waits until the clients completed some handshakes after a step.
	settle := func() {
		target := count.Load() + 2*workers
		for count.Load() < target {
			<-tick
		}
	}
	reload := func(step string) {
		t.Helper()
		if err := srvR.Reload(); err != nil {
			t.Fatalf("%s: server reload: %v", step, err)
		}
		if err := cliR.Reload(); err != nil {
			t.Fatalf("%s: client reload: %v", step, err)
		}
		settle()
	}
	settle()
	for i := range 3 {
		reissue(t, ca1, srvDir, "n1", nil)
		reissue(t, ca1, cliDir, "n2", nil)
		reload(fmt.Sprintf("node rotation %d", i))
	}
	both := append(ca1.CertPEM(), ca2.CertPEM()...)
	for _, dir := range []string{srvDir, cliDir} {
		if err := WriteCert(dir, nil, nil, both); err != nil {
			t.Fatal(err)
		}
	}
	reload("bundle of both CAs")
	// One side on the new CA while the other is still on the old one.
	reissue(t, ca2, srvDir, "n1", nil)
	reload("server on the new CA")
	reissue(t, ca2, cliDir, "n2", nil)
	reload("client on the new CA")
	for _, dir := range []string{srvDir, cliDir} {
		if err := WriteCert(dir, nil, nil, ca2.CertPEM()); err != nil {
			t.Fatal(err)
		}
	}
	reload("bundle of the new CA only")
	close(done)
	wg.Wait()
	ln.Close()
	serverWG.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d handshakes failed during rotation, first: %v", len(failures), failures[0])
	}
	if count.Load() == 0 {
		t.Fatal("no handshakes ran")
	}
	t.Logf("%d handshakes during rotation", count.Load())

	// The old CA's nodes are now refused.
	old, oldKey, err := IssueNode(ca1, NodeRequest{NodeID: "old", IPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := handshake(t, serverCfg, &tls.Config{Certificates: []tls.Certificate{keyPair(t, old, oldKey)}, InsecureSkipVerify: true})
	if srv.err == nil || !strings.Contains(srv.err.Error(), "unknown authority") {
		t.Errorf("node of the retired CA: server %v, want unknown authority", srv.err)
	}
	if got := srvR.Certificate().Leaf; got.CheckSignatureFrom(ca2.Cert) != nil {
		t.Error("server certificate in use is not from the new CA")
	}
}
