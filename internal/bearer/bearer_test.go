package bearer

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestToken(t *testing.T) {
	errUnauth := errors.New("unauthenticated")
	tests := []struct {
		header, want, wantErr string
	}{
		{header: "Bearer abc", want: "abc"},
		{header: "bearer  abc ", want: "abc"},
		{header: "", wantErr: "missing Authorization header"},
		{header: "Basic abc", wantErr: "must use the Bearer scheme"},
		{header: "Bearer", wantErr: "must use the Bearer scheme"},
		{header: "Bearer   ", wantErr: "empty bearer token"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		got, err := Token(r, errUnauth)
		if tt.wantErr != "" {
			if !errors.Is(err, errUnauth) || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "abc") {
				t.Errorf("Token(%q) error = %v, want %q wrapping the sentinel, no token", tt.header, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Token(%q) = %q, %v; want %q", tt.header, got, err, tt.want)
		}
	}
}

// FuzzToken: any Authorization header gives a token without surrounding
// space, or an error that wraps the sentinel.
func FuzzToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  x ", "", "Basic x", "Bearer", "Bearer \t", "Bearerabc", "BEARER k\x00"} {
		f.Add(s)
	}
	errUnauth := errors.New("unauthenticated")
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{h}
		tok, err := Token(r, errUnauth)
		if err != nil {
			if !errors.Is(err, errUnauth) || tok != "" {
				t.Fatalf("Token(%q) = %q, %v: want the sentinel and no token", h, tok, err)
			}
			return
		}
		if tok == "" || tok != strings.TrimSpace(tok) {
			t.Fatalf("Token(%q) = %q: want a trimmed, non-empty token", h, tok)
		}
	})
}
