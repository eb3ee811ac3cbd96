package clientopts

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/aerolithdb/aerolith/internal/pki"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		raw      string
		insecure bool
		want     string // "" means accepted
	}{
		{"https://a:7070", false, ""},
		{"https://a:7070,https://b:7070", false, ""},
		{"http://a:7070", false, "url: http://a:7070 is plain HTTP; use https:// or pass --insecure-http"},
		{"https://a:1,http://b:2", false, "url: http://b:2 is plain HTTP"},
		{"a:7070", false, "url: http://a:7070 is plain HTTP"},
		{"http://a:7070", true, ""},
		{"a:7070", true, ""},
		{"", false, "url: required (e.g. https://example:7070)"},
		{"ftp://a", true, "scheme must be http or https"},
	}
	for _, tt := range tests {
		err := Options{InsecureHTTP: tt.insecure}.CheckURL(tt.raw, "https://example:7070")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckURL(%q, insecure=%v) = %v, want nil", tt.raw, tt.insecure, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckURL(%q, insecure=%v) = %v, want %q", tt.raw, tt.insecure, err, tt.want)
		}
	}
}

// certs is a cluster CA, a server certificate for 127.0.0.1 and a client
// (node) certificate, written to files.
type certs struct {
	caFile, serverCert, serverKey, clientCert, clientKey string
	foreignCA                                            string
}

func writeCerts(t *testing.T) certs {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA(pki.CAConfig{ClusterID: "c-1"})
	if err != nil {
		t.Fatal(err)
	}
	sc, sk, err := pki.IssueServer(ca, pki.ServerRequest{IPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteCert(filepath.Join(dir, "server"), sc, sk, ca.CertPEM()); err != nil {
		t.Fatal(err)
	}
	cc, ck, err := pki.IssueNode(ca, pki.NodeRequest{NodeID: "cli", IPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteCert(filepath.Join(dir, "client"), cc, ck, nil); err != nil {
		t.Fatal(err)
	}
	foreign, err := pki.NewCA(pki.CAConfig{ClusterID: "c-2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := foreign.Save(filepath.Join(dir, "foreign")); err != nil {
		t.Fatal(err)
	}
	return certs{
		caFile:     filepath.Join(dir, "server", pki.CACertFile),
		serverCert: filepath.Join(dir, "server", pki.CertFile),
		serverKey:  filepath.Join(dir, "server", pki.KeyFile),
		clientCert: filepath.Join(dir, "client", pki.CertFile),
		clientKey:  filepath.Join(dir, "client", pki.KeyFile),
		foreignCA:  filepath.Join(dir, "foreign", pki.CACertFile),
	}
}

func TestTLSConfigErrors(t *testing.T) {
	c := writeCerts(t)
	tests := []struct {
		opts Options
		want string
	}{
		{Options{CertFile: c.clientCert}, "tls-cert, tls-key: a client certificate needs its key"},
		{Options{KeyFile: c.clientKey}, "set both or neither"},
		{Options{CAFile: filepath.Join(t.TempDir(), "nope.crt")}, "ca-file: open"},
		{Options{CAFile: c.clientCert}, "ca-file: " + c.clientCert + ": certificate 1 (\"cli\") is not a CA certificate"},
		{Options{CAFile: c.clientKey}, "no PEM CERTIFICATE block"},
		{Options{CertFile: c.clientCert, KeyFile: c.serverKey}, "tls-cert: key " + c.serverKey + " does not belong to certificate"},
	}
	for _, tt := range tests {
		_, err := tt.opts.HTTPClient()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: HTTPClient() error = %v, want %q", tt.opts, err, tt.want)
		}
	}
}

func TestHTTPClient(t *testing.T) {
	c := writeCerts(t)
	sr, err := pki.LoadReloader(pki.ReloaderConfig{CertFile: c.serverCert, KeyFile: c.serverKey, CAFile: c.caFile})
	if err != nil {
		t.Fatal(err)
	}
	newServer := func(mtls bool) string {
		cfg, err := pki.ServerConfig(sr, pki.ServerOptions{RequireClientCert: mtls})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{
			Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
			TLSConfig:         cfg,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          log.New(io.Discard, "", 0),
		}
		go srv.ServeTLS(ln, "", "")
		t.Cleanup(func() { srv.Close() })
		return "https://" + ln.Addr().String()
	}
	plain, mtls := newServer(false), newServer(true)
	tests := []struct {
		name string
		opts Options
		url  string
		want string // "" means success; alternatives separated by |
	}{
		{"cluster CA", Options{CAFile: c.caFile}, plain, ""},
		{"system roots", Options{}, plain, "unknown authority"},
		{"foreign CA", Options{CAFile: c.foreignCA}, plain, "unknown authority"},
		{"mTLS with client certificate", Options{CAFile: c.caFile, CertFile: c.clientCert, KeyFile: c.clientKey}, mtls, ""},
		{"mTLS without client certificate", Options{CAFile: c.caFile}, mtls, "certificate required|could not be established|broken pipe|connection reset"}, // the refusal surfaces differently with HTTP/2 and timing
		{"plain HTTP to the TLS port", Options{CAFile: c.caFile, InsecureHTTP: true}, strings.Replace(plain, "https", "http", 1), "status 400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc, err := tt.opts.HTTPClient()
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Get(tt.url)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != "ok" {
					err = errStatus(resp.StatusCode)
				}
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("GET: %v, want success", err)
			case tt.want != "" && (err == nil || !containsAny(err.Error(), tt.want)):
				t.Errorf("GET error = %v, want %q", err, tt.want)
			}
		})
	}
}

func containsAny(s, alternatives string) bool {
	for _, a := range strings.Split(alternatives, "|") {
		if strings.Contains(s, a) {
			return true
		}
	}
	return false
}

type errStatus int

func (e errStatus) Error() string { return fmt.Sprintf("status %d", int(e)) }

func TestFlagsAndEnv(t *testing.T) {
	var o Options
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse([]string{"--ca-file", "/ca.crt", "--insecure-http"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvCAFile: "/env-ca.crt", EnvCertFile: "/c.crt", EnvKeyFile: "/c.key"}
	if err := o.FromEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	want := Options{CAFile: "/ca.crt", CertFile: "/c.crt", KeyFile: "/c.key", InsecureHTTP: true}
	if o != want {
		t.Errorf("options = %+v, want %+v (flags win over env)", o, want)
	}
	var e Options
	if err := e.FromEnv(func(k string) string { return map[string]string{EnvInsecureHTTP: "maybe"}[k] }); err == nil || !strings.Contains(err.Error(), EnvInsecureHTTP) {
		t.Errorf("FromEnv with a bad boolean: %v", err)
	}
	if err := e.FromEnv(func(k string) string { return map[string]string{EnvInsecureHTTP: "true"}[k] }); err != nil || !e.InsecureHTTP {
		t.Errorf("FromEnv insecure: %v, %+v", err, e)
	}
}
