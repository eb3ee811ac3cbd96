package jsonapi

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestCheckQuery(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		allowed []string
		want    []string // substrings of the error; nil: no error
	}{
		{"empty", "", []string{"limit"}, nil},
		{"known", "limit=1&offset=2", []string{"limit", "offset"}, nil},
		{"known repeated", "limit=1&limit=2", []string{"limit"}, nil},
		{"misspelt filter", "tenant=t1", []string{"tenant_id", "status", "consistency"},
			[]string{`unknown query parameter "tenant" (did you mean tenant_id?)`, "this route takes tenant_id, status, consistency"}},
		{"several, sorted", "zz=1&aa=2&limit=3", []string{"limit"},
			[]string{`unknown query parameters "aa", "zz"`, "this route takes limit"}},
		{"none taken", "x=1", nil, []string{`unknown query parameter "x"`, "this route takes no query parameters"}},
		{"case", "Limit=1", []string{"limit"}, []string{`"Limit" (did you mean limit?)`}},
		{"empty name", "=1", []string{"limit"}, []string{`unknown query parameter ""`}},
		{"long name clipped", "a" + strings.Repeat("b", 100) + "=1", nil, []string{"…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			err = CheckQuery(q, tt.allowed...)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckQuery(%q) = %v, want nil", tt.query, err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrUnknownQuery) {
				t.Fatalf("CheckQuery(%q) = %v, want an ErrUnknownQuery", tt.query, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("CheckQuery(%q) = %q, want it to contain %q", tt.query, err, w)
				}
			}
		})
	}
}

func TestCheckQueryBoundsNames(t *testing.T) {
	q := url.Values{}
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		q.Set(n, "1")
	}
	var ue *UnknownQueryError
	if err := CheckQuery(q); !errors.As(err, &ue) || len(ue.Unknown) != 5 {
		t.Fatalf("CheckQuery(7 unknown) = %v, want 5 named", err)
	}
}
