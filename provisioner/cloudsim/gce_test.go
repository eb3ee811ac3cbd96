package cloudsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func gceDo(t *testing.T, h http.Handler, method, path, auth, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %s", method, path, w.Body.String())
	}
	return w.Code, doc
}

// TestGCEFrontEnd checks what the driver tests cannot see: the answers to
// requests the SDK never sends wrong.
func TestGCEFrontEnd(t *testing.T) {
	sim, err := New(Config{PendingFor: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	const zone = "/compute/v1/projects/acme-prod-1/zones/europe-west1-b/instances"
	const bearer = "Bearer ya29.test-0123456789"
	tests := []struct {
		name, method, path, auth, body string
		code                           int
		reason                         string
	}{
		{"no credentials", "GET", zone, "", "", 401, "required"},
		{"not a bearer token", "GET", zone, "Basic dXNlcjpwYXNz", "", 401, "authError"},
		{"unknown collection", "GET", "/compute/v1/projects/acme-prod-1/zones/europe-west1-b/disks", bearer, "", 404, "notFound"},
		{"bad project", "GET", "/compute/v1/projects/A/zones/europe-west1-b/instances", bearer, "", 400, "invalid"},
		{"bad filter", "GET", zone + "?filter=labels.x%20%3D", bearer, "", 400, "invalid"},
		{"unknown filter field", "GET", zone + "?filter=colour%20%3D%20red", bearer, "", 400, "invalid"},
		{"bad page token", "GET", zone + "?pageToken=zz", bearer, "", 400, "invalid"},
		{"missing instance", "GET", zone + "/nope", bearer, "", 404, "notFound"},
		{"requestId not a UUID", "POST", zone + "?requestId=abc", bearer, "{}", 400, "invalid"},
		{"unknown field", "POST", zone, bearer, `{"name":"a","colour":"red"}`, 400, "invalid"},
		{"no boot disk", "POST", zone, bearer, `{"name":"a","machineType":"zones/europe-west1-b/machineTypes/e2-micro"}`, 400, "invalid"},
		{"machine type of another zone", "POST", zone, bearer, `{"name":"a","machineType":"zones/us-east1-b/machineTypes/e2-micro"}`, 400, "invalid"},
		{"bad label", "POST", zone, bearer, `{"name":"a","machineType":"zones/europe-west1-b/machineTypes/e2-micro","labels":{"Team":"x"}}`, 400, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, doc := gceDo(t, sim, tt.method, tt.path, tt.auth, tt.body)
			e, _ := doc["error"].(map[string]any)
			errs, _ := e["errors"].([]any)
			if code != tt.code || len(errs) != 1 || errs[0].(map[string]any)["reason"] != tt.reason || e["message"] == "" {
				t.Fatalf("%s %s = %d %v; want %d with reason %s", tt.method, tt.path, code, doc, tt.code, tt.reason)
			}
		})
	}
	for _, r := range sim.Requests() {
		if r.Cloud != "gcp" || (r.Auth == "Bearer") != r.AuthOK {
			t.Fatalf("logged %+v", r)
		}
	}
}

func TestGCEFilter(t *testing.T) {
	labels := map[string]string{"aerolith-cluster": "shop", "team": "a"}
	get := func(f string) (string, bool) {
		switch f {
		case "name":
			return "shop-n1", true
		case "status":
			return "RUNNING", true
		}
		v, ok := labels[strings.TrimPrefix(f, "labels.")]
		return v, ok && strings.HasPrefix(f, "labels.")
	}
	tests := []struct {
		expr string
		want bool
	}{
		{``, true},
		{`labels.aerolith-cluster = "shop"`, true},
		{`labels.aerolith-cluster = shop-other`, false},
		{`labels.missing != x`, true},
		{`(labels.team = "a") (status = RUNNING)`, true},
		{`labels.team = "a" AND status = STOPPING`, false},
		{`labels.team = "b" OR name eq "shop-n[0-9]+"`, true},
		{`name = shop-*`, true},
		{`name ne "shop-.*"`, false},
	}
	for _, tt := range tests {
		f, err := parseGCEFilter(tt.expr)
		if err != nil {
			t.Fatalf("parseGCEFilter(%q): %v", tt.expr, err)
		}
		if got := f.match(get); got != tt.want {
			t.Errorf("filter %q = %v, want %v", tt.expr, got, tt.want)
		}
	}
}
