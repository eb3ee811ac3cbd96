package main

import (
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/internal/clientopts"
)

func TestHTTPClientChecksURLs(t *testing.T) {
	t.Setenv(clientopts.EnvCAFile, "")
	t.Setenv(clientopts.EnvInsecureHTTP, "")
	tests := []struct {
		name string
		opts clientopts.Options
		urls string
		want string // error substring; "" = ok
	}{
		{"https", clientopts.Options{}, "https://db.example:7070", ""},
		{"plain http refused", clientopts.Options{}, "http://10.0.0.1:7070", "--url: http://10.0.0.1:7070 is plain HTTP; use https:// or pass --insecure-http"},
		{"no scheme is http", clientopts.Options{}, "10.0.0.1:7070", "plain HTTP"},
		{"one plain endpoint", clientopts.Options{}, "https://a:1,http://b:2", "plain HTTP"},
		{"insecure-http allows http", clientopts.Options{InsecureHTTP: true}, "http://10.0.0.1:7070", ""},
		{"loopback http", clientopts.Options{}, "http://127.0.0.1:7070,http://localhost:7072,http://[::1]:7074", ""},
		{"missing ca file", clientopts.Options{CAFile: "/no/such/ca.crt"}, "https://a:1", "ca-file"},
		{"cert without key", clientopts.Options{CertFile: "/x.crt"}, "https://a:1", "tls-key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			_, err := httpClient(&o, tc.urls, "url", defaultURL, client.NewTransport())
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("httpClient(%q) = %v, want ok", tc.urls, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("httpClient(%q) = %v, want an error with %q", tc.urls, err, tc.want)
			}
		})
	}
}

func TestHTTPClientReadsCAFromEnv(t *testing.T) {
	t.Setenv(clientopts.EnvCAFile, "/no/such/env-ca.crt")
	var o clientopts.Options
	if _, err := httpClient(&o, "https://a:1", "url", defaultURL, client.NewTransport()); err == nil || !strings.Contains(err.Error(), "env-ca.crt") {
		t.Fatalf("httpClient with AEROLITH_CA_FILE = %v, want an error naming the file", err)
	}
}
