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

// FuzzCheckQuery: any query string gives an error exactly when it holds a
// name outside the allowed ones, and the error names only such names.
func FuzzCheckQuery(f *testing.F) {
	for _, s := range []string{"", "limit=1", "tenant=x", "a=1&b=2&limit=3", "%zz", "=1", "limit&&offset=", strings.Repeat("x", 200) + "=1"} {
		f.Add(s)
	}
	allowed := []string{"limit", "offset", "tenant_id"}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // the server answers 400 for a malformed query elsewhere
		}
		unknown := 0
		for name := range q {
			if name != "limit" && name != "offset" && name != "tenant_id" {
				unknown++
			}
		}
		err = CheckQuery(q, allowed...)
		var ue *UnknownQueryError
		switch {
		case unknown == 0 && err != nil:
			t.Fatalf("CheckQuery(%q) = %v, want nil", raw, err)
		case unknown > 0 && !errors.As(err, &ue):
			t.Fatalf("CheckQuery(%q) = %v, want an UnknownQueryError", raw, err)
		case unknown > 0 && len(ue.Unknown) != min(unknown, 5):
			t.Fatalf("CheckQuery(%q) names %v, want %d names", raw, ue.Unknown, min(unknown, 5))
		}
		if ue != nil {
			for _, n := range ue.Unknown {
				if n == "limit" || n == "offset" || n == "tenant_id" {
					t.Fatalf("CheckQuery(%q) names the allowed %q", raw, n)
				}
			}
			_ = ue.Error()
		}
	})
}

func TestCheckRawQuery(t *testing.T) {
	if err := CheckRawQuery("limit=1", "limit"); err != nil {
		t.Fatalf("CheckRawQuery(limit=1) = %v", err)
	}
	for _, raw := range []string{"limit=%zz", "limit=1;x=2"} {
		if err := CheckRawQuery(raw, "limit", "x"); err == nil || !strings.Contains(err.Error(), "malformed query string") {
			t.Errorf("CheckRawQuery(%q) = %v, want malformed", raw, err)
		}
	}
	if err := CheckRawQuery("x=1", "limit"); !errors.Is(err, ErrUnknownQuery) {
		t.Errorf("CheckRawQuery(x=1) = %v", err)
	}
}
