package api

import (
	"net/http"
	"strings"

	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// routeQuery lists the query parameters each /api/v1 route takes besides
// consistency, which every GET takes (see Server.view). Every other
// parameter is refused with 400 naming it (jsonapi.CheckQuery): a
// misspelt filter such as ?tenant= for ?tenant_id= would otherwise be
// ignored and answer every tenant's records.
var routeQuery = map[string][]string{
	"GET /api/v1/tenants":                           {"limit", "offset", "include_deleted"},
	"GET /api/v1/tenants/{id}/audit":                {"after", "limit"},
	"GET /api/v1/tenants/{id}/usage":                {"from", "to", "granularity"},
	"GET /api/v1/invoices":                          {"tenant_id", "status"},
	"GET /api/v1/invoices/{id}":                     {"format"},
	"DELETE /api/v1/clusters/{id}/tenants/{tenant}": {"force"},
}

// queryParams returns the query parameters rt takes, and whether they are
// checked at all (only /api/v1 routes are; /health, /readyz and /metrics
// answer probes and scrapers as they are).
func queryParams(rt route) ([]string, bool) {
	if !strings.HasPrefix(rt.pattern, "/api/v1/") {
		return nil, false
	}
	allowed := routeQuery[rt.method+" "+rt.pattern]
	if rt.method == http.MethodGet {
		allowed = append(allowed[:len(allowed):len(allowed)], "consistency")
	}
	return allowed, true
}

// checkQuery refuses the query parameters rt does not take (400 naming
// them and the ones it takes).
func checkQuery(r *http.Request, allowed []string) error {
	if err := jsonapi.CheckRawQuery(r.URL.RawQuery, allowed...); err != nil {
		return jsonapi.Invalid("%v", err)
	}
	return nil
}
