package nodetls

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aerolithdb/aerolith/internal/pki"
)

// nodeFiles issues a node certificate of ca for id (SAN 127.0.0.1) into
// a fresh directory and returns its Files.
func nodeFiles(t *testing.T, ca *pki.CA, id string, now time.Time) Files {
	t.Helper()
	cert, key, err := pki.IssueNode(ca, pki.NodeRequest{NodeID: id, IPs: []string{"127.0.0.1"}, Now: now, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), id)
	if err := pki.WriteCert(dir, cert, key, ca.CertPEM()); err != nil {
		t.Fatal(err)
	}
	return Files{Cert: filepath.Join(dir, pki.CertFile), Key: filepath.Join(dir, pki.KeyFile), CA: filepath.Join(dir, pki.CACertFile)}
}

// newCA creates a cluster CA valid from a week ago, so certificates
// issued in the past (expired ones) chain to it.
func newCA(t *testing.T, cluster string) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(pki.CAConfig{ClusterID: cluster, Now: time.Now().Add(-7 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestFilesValidate(t *testing.T) {
	good := nodeFiles(t, newCA(t, "c1"), "n1", time.Time{})
	tests := []struct {
		name string
		f    Files
		want string // error prefix; "" = valid
	}{
		{"tls", good, ""},
		{"insecure", Files{InsecureHTTP: true}, ""},
		{"neither", Files{}, "tls-cert: required"},
		{"both", Files{Cert: good.Cert, Key: good.Key, CA: good.CA, InsecureHTTP: true}, "insecure-http: cannot be combined"},
		{"no key", Files{Cert: good.Cert, CA: good.CA}, "tls-key: required"},
		{"no ca", Files{Cert: good.Cert, Key: good.Key}, "tls-ca: required"},
		{"no cert", Files{Key: good.Key, CA: good.CA}, "tls-cert: required"},
		{"missing file", Files{Cert: good.Cert, Key: good.Key, CA: good.CA + ".gone"}, "tls-ca: stat"},
		{"negative poll", Files{InsecureHTTP: true, PollInterval: -time.Second}, "tls-poll-interval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("Validate() = %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestLoadInsecureIsNil(t *testing.T) {
	tl, err := Load(Files{InsecureHTTP: true}, nil)
	if err != nil || tl != nil {
		t.Fatalf("Load(insecure) = %v, %v; want nil, nil", tl, err)
	}
	if tl.Scheme() != "http" {
		t.Fatalf("Scheme() = %q, want http", tl.Scheme())
	}
}

// serveEcho accepts on ln and echoes one line per connection.
func serveEcho(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			b := make([]byte, 9)
			if _, err := io.ReadFull(c, b); err != nil {
				return
			}
			_, _ = c.Write(b)
		}()
	}
}

func TestPeerMutualTLS(t *testing.T) {
	ca := newCA(t, "c1")
	server, err := Load(nodeFiles(t, ca, "n1", time.Time{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := server.Register(reg); err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := server.PeerListener(raw)
	defer ln.Close()
	go serveEcho(ln)
	addr := raw.Addr().String()

	// An expired certificate of the right CA cannot even be loaded; its
	// handshake is refused when presented anyway.
	past := time.Now().Add(-48 * time.Hour)
	expired := nodeFiles(t, ca, "old", past)
	if _, err := Load(expired, nil); err == nil {
		t.Fatal("Load(expired certificate) succeeded, want an error")
	}
	expiredPair, err := tls.LoadX509KeyPair(expired.Cert, expired.Key)
	if err != nil {
		t.Fatal(err)
	}

	foreign, err := Load(nodeFiles(t, newCA(t, "c1"), "n9", time.Time{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := Load(nodeFiles(t, ca, "n2", time.Time{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	tests := []struct {
		name string
		dial func() (net.Conn, error)
		ok   bool
	}{
		{"same cluster", func() (net.Conn, error) { return peer.PeerDialer(nil)(ctx, addr) }, true},
		{"foreign CA", func() (net.Conn, error) { return foreign.PeerDialer(nil)(ctx, addr) }, false},
		{"no client certificate", func() (net.Conn, error) {
			return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
		}, false},
		{"expired certificate", func() (net.Conn, error) {
			return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{expiredPair}})
		}, false},
		{"plain tcp", func() (net.Conn, error) { return net.Dial("tcp", addr) }, false},
		{"wrong address", func() (net.Conn, error) {
			return peer.PeerDialer(nil)(ctx, strings.Replace(addr, "127.0.0.1", "localhost", 1))
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.dial()
			if err == nil {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err = c.Write([]byte("ping-pong")); err == nil {
					b := make([]byte, 9)
					_, err = io.ReadFull(c, b)
				}
			}
			if tc.ok != (err == nil) {
				t.Fatalf("echo over %s: err = %v, want ok=%v", tc.name, err, tc.ok)
			}
		})
	}
	// Every refused handshake that reached the server is counted: the
	// foreign CA, no certificate, the expired one and plain TCP (the
	// wrong address fails at the client).
	deadline := time.Now().Add(5 * time.Second)
	for failures(t, reg) < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the server side finishes after the client saw the alert
	}
	if got := failures(t, reg); got < 4 {
		t.Fatalf("handshake failures = %v, want >= 4", got)
	}
}

func TestRotationServesNewCertificate(t *testing.T) {
	ca := newCA(t, "c1")
	f := nodeFiles(t, ca, "n1", time.Time{})
	server, err := Load(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := server.Reloader().Certificate().Leaf.SerialNumber
	cert, key, err := pki.IssueNode(ca, pki.NodeRequest{NodeID: "n1", IPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteCert(filepath.Dir(f.Cert), cert, key, nil); err != nil {
		t.Fatal(err)
	}
	if err := server.Reloader().Reload(); err != nil {
		t.Fatal(err)
	}
	if after := server.Reloader().Certificate().Leaf.SerialNumber; after.Cmp(before) == 0 {
		t.Fatalf("serial after reload = %v, want a new one", after)
	}
}

// failures reads aerolith_tls_handshake_failures_total{port="raft"} from reg.
func failures(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "aerolith_tls_handshake_failures_total" {
			for _, m := range mf.GetMetric() {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestClientTransportVerifiesWithCA(t *testing.T) {
	ca := newCA(t, "billing")
	certPEM, keyPEM, err := pki.IssueServer(ca, pki.ServerRequest{IPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "billing-ca.crt")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	other, err := Load(nodeFiles(t, newCA(t, "agents"), "n1", time.Time{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		caFile string
		tl     *TLS
		ok     bool
	}{
		{"billing ca", caFile, other, true},
		{"cluster ca is not billing's", "", other, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ClientTransport(tc.caFile, tc.tl, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(srv.URL)
			if err == nil {
				resp.Body.Close()
			}
			if tc.ok != (err == nil) {
				t.Fatalf("GET over %s: %v, want ok=%v", tc.name, err, tc.ok)
			}
		})
	}
	if tr, err := ClientTransport("", nil, nil); tr != nil || err != nil {
		t.Fatalf("ClientTransport without CA or TLS = %v, %v; want nil (the caller's default)", tr, err)
	}
}
