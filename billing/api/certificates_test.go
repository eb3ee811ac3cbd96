package api

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/audit/audittest"
	"github.com/aerolithdb/aerolith/internal/pki"
)

// nodeCSR makes a key and a certificate request for id at ips.
func nodeCSR(t *testing.T, id pki.Identity, dns []string, ips ...string) string {
	t.Helper()
	key, _, err := pki.NewNodeKey("")
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.NodeCSR(key, id, dns, ips)
	if err != nil {
		t.Fatal(err)
	}
	return string(csr)
}

func TestIssueCertificate(t *testing.T) {
	rec := &audittest.Recorder{}
	e := newEnv(t, func(c *Config) { c.Audit = rec; c.NodeCertTTL = time.Hour })
	acme := e.tenant("acme", "starter")
	cl := e.cluster("cl-1", acme.ID)
	body := map[string]string{"node_id": "n1", "csr": nodeCSR(t, pki.Identity{ClusterID: "cl-1", NodeID: "n1"}, []string{"n1.internal"}, "10.0.0.1")}
	var out CertificateOut
	e.want(201, "POST", "/api/v1/clusters/cl-1/certificates", cl.EnrollmentToken, body, &out)
	certs, err := pki.ParseCertificates([]byte(out.Certificate))
	if err != nil {
		t.Fatal(err)
	}
	cert := certs[0]
	if id, ok := pki.IdentityOf(cert); !ok || id != (pki.Identity{ClusterID: "cl-1", NodeID: "n1"}) {
		t.Fatalf("identity = %+v", id)
	}
	if got := cert.NotAfter.Sub(e.clock.Now()); got != time.Hour {
		t.Fatalf("lifetime = %v, want the configured 1h", got)
	}
	pool, _, err := pki.ParseCertPool([]byte(out.CA))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: e.clock.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Fatalf("certificate does not chain to the served CA: %v", err)
	}
	// The CA was made at registration and stays the same; its bundle is
	// served to the cluster and admins, never its key.
	var again CertificateOut
	e.want(201, "POST", "/api/v1/clusters/cl-1/certificates", cl.EnrollmentToken, body, &again)
	if again.CA != out.CA || again.Serial == out.Serial {
		t.Fatal("second certificate: different CA or same serial")
	}
	for _, key := range []string{adminKey, cl.EnrollmentToken} {
		r := e.want(200, "GET", "/api/v1/clusters/cl-1/ca", key, nil, nil)
		if string(r.body) != out.CA || bytes.Contains(r.body, []byte("PRIVATE KEY")) {
			t.Fatalf("GET ca = %s", r.body)
		}
	}
	var issued int
	for _, ev := range rec.Events() {
		if ev.Action == "cluster.certificate_issue" && ev.Detail["serial"] == out.Serial {
			issued++
			if ev.Target != "node:cl-1/n1" || ev.Detail["ip"] != "10.0.0.1" || ev.Detail["dns"] != "n1.internal" || ev.Actor.Kind != "cluster" {
				t.Fatalf("audit event = %+v", ev)
			}
		}
	}
	if issued != 1 {
		t.Fatalf("%d audit records of serial %s, want 1", issued, out.Serial)
	}
}

func TestIssueCertificateRefusals(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	cl := e.cluster("cl-1", acme.ID)
	other := e.cluster("cl-2", acme.ID)
	self := pki.Identity{ClusterID: "cl-1", NodeID: "n1"}
	good := nodeCSR(t, self, nil, "10.0.0.1")
	many := make([]string, pki.MaxCSRNames+1)
	for i := range many {
		many[i] = "10.0.1." + strconv.Itoa(i+1)
	}
	tooManyReq := rawCSR(t, self, many)
	tests := []struct {
		name   string
		path   string
		key    string
		body   any
		status int
		msg    string
	}{
		{"foreign cluster's token", "/api/v1/clusters/cl-1/certificates", other.EnrollmentToken, map[string]string{"node_id": "n1", "csr": good}, 404, `cluster "cl-1" not found`},
		{"wrong token", "/api/v1/clusters/cl-1/certificates", "aet_not-a-real-token-0123456789", map[string]string{"node_id": "n1", "csr": good}, 401, ""},
		{"admin key", "/api/v1/clusters/cl-1/certificates", adminKey, map[string]string{"node_id": "n1", "csr": good}, 403, ""},
		{"other cluster's identity", "/api/v1/clusters/cl-1/certificates", cl.EnrollmentToken, map[string]string{"node_id": "n1", "csr": nodeCSR(t, pki.Identity{ClusterID: "cl-2", NodeID: "n1"}, nil, "10.0.0.1")}, 403, "aerolith://cluster/cl-2/node/n1"},
		{"other node's identity", "/api/v1/clusters/cl-1/certificates", cl.EnrollmentToken, map[string]string{"node_id": "n2", "csr": good}, 403, "may only obtain aerolith://cluster/cl-1/node/n2"},
		{"malformed csr", "/api/v1/clusters/cl-1/certificates", cl.EnrollmentToken, map[string]string{"node_id": "n1", "csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}, 400, "csr:"},
		{"not pem", "/api/v1/clusters/cl-1/certificates", cl.EnrollmentToken, map[string]string{"node_id": "n1", "csr": "hello"}, 400, "no PEM block"},
		{"no csr", "/api/v1/clusters/cl-1/certificates", cl.EnrollmentToken, map[string]string{"node_id": "n1"}, 400, "csr: required"},
		{"node id not valid", "/api/v1/clusters/cl-1/certificates", cl.EnrollmentToken, map[string]string{"node_id": "../n1", "csr": good}, 400, "node_id: invalid id"},
		{"too many names", "/api/v1/clusters/cl-1/certificates", cl.EnrollmentToken, map[string]string{"node_id": "n1", "csr": tooManyReq}, 400, "at most 16"},
		{"unknown field", "/api/v1/clusters/cl-1/certificates", cl.EnrollmentToken, map[string]string{"node_id": "n1", "csr": good, "ttl": "1y"}, 400, "ttl"},
		{"foreign token reads ca", "/api/v1/clusters/cl-1/ca", other.EnrollmentToken, nil, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "POST"
			if tt.body == nil {
				method = "GET"
			}
			r := e.do(method, tt.path, tt.key, tt.body)
			if r.status != tt.status || !strings.Contains(r.errMsg(), tt.msg) {
				t.Fatalf("%s %s = %d %s, want %d mentioning %q", method, tt.path, r.status, r.body, tt.status, tt.msg)
			}
		})
	}
}

// rawCSR builds a request for id at ips without pki.NodeCSR's checks,
// as a hostile node would (NodeCSR refuses too many names itself).
func rawCSR(t *testing.T, id pki.Identity, ips []string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{URIs: []*url.URL{id.URI()}}
	for _, s := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(s))
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func FuzzDecodeCertificate(f *testing.F) {
	for _, s := range []string{`{"node_id":"n1","csr":"x"}`, `{"node_id":"","csr":"x"}`, `{"node_id":"n1"}`, `{"node_id":"n1","csr":"x","extra":1}`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCertificate(bytes.NewReader(b))
		checkDecodeErr(t, err)
		if err == nil && (!validID(c.NodeID) || c.CSR == "") {
			t.Fatalf("accepted %+v", c)
		}
	})
}
