package httpapi

import (
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// TestListRoutesRefuseUnknownQuery: list routes answer 400 naming a query
// parameter they do not take instead of ignoring it (a misspelt ?limt=
// answered the whole collection).
func TestListRoutesRefuseUnknownQuery(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/collections/c/documents", rwKey, `{"id":"a","data":{"n":1}}`)
	e.must(201, "POST", "/api/v1/collections/c/indexes", adminKey, `{"field":"n"}`) // indexes are the admin's
	tests := []struct {
		path   string
		status int
		want   string
	}{
		{"/api/v1/collections/c/documents?limit=1&offset=0&consistency=leader", 200, ""},
		{"/api/v1/collections/c/documents?limt=1", 400, `unknown query parameter "limt"; this route takes limit, offset, consistency`},
		{"/api/v1/collections/c/documents?tenant=bravo", 400, `"tenant"`},
		{"/api/v1/collections?consistency=stale", 200, ""},
		{"/api/v1/collections?prefix=c", 400, `"prefix"`},
		{"/api/v1/collections/c/indexes", 200, ""},
		{"/api/v1/collections/c/indexes?field=n", 400, `"field"`},
		{"/api/v1/keys?tenants=a", 400, `unknown query parameter "tenants" (did you mean tenant?)`},
	}
	for _, tt := range tests {
		key := readKey
		if strings.HasPrefix(tt.path, "/api/v1/keys") {
			key = adminKey
		}
		r := e.do("GET", tt.path, key, "")
		if r.Status != tt.status {
			t.Errorf("GET %s = %d %s, want %d", tt.path, r.Status, r.Body, tt.status)
			continue
		}
		if tt.want != "" {
			if code, msg := r.ErrCode(t); code != jsonapi.CodeInvalidArgument || !strings.Contains(msg, tt.want) {
				t.Errorf("GET %s = %s: %s, want invalid_argument naming %q", tt.path, code, msg, tt.want)
			}
		}
	}
}
