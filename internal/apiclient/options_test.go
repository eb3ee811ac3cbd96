package apiclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	var gotUA string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUA = r.Header.Get("User-Agent")
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	svc := Service{ExampleURL: "http://127.0.0.1:1", UserAgent: "svc-agent", CheckKey: true}
	tests := []struct {
		name    string
		opts    Options
		svc     Service
		wantErr string
		wantUA  string
	}{
		{name: "service user agent", opts: Options{URL: srv.URL}, svc: svc, wantUA: "svc-agent"},
		{name: "caller user agent", opts: Options{URL: srv.URL, UserAgent: "mine"}, svc: svc, wantUA: "mine"},
		{name: "empty url names the example", svc: svc, wantErr: "http://127.0.0.1:1"},
		{name: "key with a space", opts: Options{URL: srv.URL, Key: "ab cd"}, svc: svc, wantErr: "key: contains whitespace or control characters"},
		{name: "key not checked", opts: Options{URL: srv.URL, Key: "ab cd"}, svc: Service{UserAgent: "u"}, wantUA: "u"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Open(tt.opts, tt.svc)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open() error = %v", err)
			}
			if _, err := c.Call(context.Background(), &Request{Method: http.MethodGet, Path: "/x"}, nil); err != nil {
				t.Fatalf("Call() error = %v", err)
			}
			if gotUA != tt.wantUA {
				t.Errorf("User-Agent = %q, want %q", gotUA, tt.wantUA)
			}
		})
	}
}
