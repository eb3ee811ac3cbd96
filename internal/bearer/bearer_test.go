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
