package agent

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/aerolithdb/aerolith/agent/httpapi"
	"github.com/aerolithdb/aerolith/internal/nodetls"
	"github.com/aerolithdb/aerolith/internal/pki"
	"github.com/aerolithdb/aerolith/store"
)

// loadNodeTLS issues a node certificate of ca for id and loads it.
func loadNodeTLS(t *testing.T, ca *pki.CA, id string) *nodetls.TLS {
	t.Helper()
	cert, key, err := pki.IssueNode(ca, pki.NodeRequest{NodeID: id, IPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), id)
	if err := pki.WriteCert(dir, cert, key, ca.CertPEM()); err != nil {
		t.Fatal(err)
	}
	tl, err := nodetls.Load(nodetls.Files{Cert: filepath.Join(dir, pki.CertFile), Key: filepath.Join(dir, pki.KeyFile), CA: filepath.Join(dir, pki.CACertFile)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// TestLiveCounterTLS: with TLS, peers are probed over https and verified
// against the cluster CA: a peer with a node certificate of the cluster
// counts, a server with another certificate does not.
func TestLiveCounterTLS(t *testing.T) {
	ca, err := pki.NewCA(pki.CAConfig{ClusterID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	self, peer := loadNodeTLS(t, ca, "self"), loadNodeTLS(t, ca, "peer")
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	goodLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	good := &http.Server{Handler: ok}
	go peer.Serve(good, goodLn) // the agent's own HTTPS serving
	defer good.Close()
	stranger := httptest.NewTLSServer(ok) // httptest's own certificate
	defer stranger.Close()
	plain := httptest.NewServer(ok)
	defer plain.Close()
	member := func(id, addr string) store.Member {
		return store.Member{ID: id, Meta: map[string]string{httpapi.MetaHTTPAddr: addr}}
	}
	f := &fakeMembers{ready: true, members: []store.Member{
		member("self", "127.0.0.1:1"),
		member("peer", goodLn.Addr().String()),
		member("stranger", stranger.Listener.Addr().String()),
		member("plain", plain.Listener.Addr().String()),
	}}
	lc := newLiveCounter(f, "self", self)
	if n, ok := lc.count(context.Background()); !ok || n != 2 {
		t.Fatalf("count = %d, %v; want 2 (self and the peer with a cluster certificate)", n, ok)
	}
}
