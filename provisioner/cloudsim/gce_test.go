package cloudsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
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

// TestGCEInsertLifecycle: an insert's operation goes PENDING → RUNNING →
// DONE as the instance goes PROVISIONING → STAGING → RUNNING; the same
// requestId answers the same operation and makes nothing more; another
// requestId for the same name is a 409; a delete's operation is DONE
// once the instance is gone.
func TestGCEInsertLifecycle(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	sim, err := New(Config{PendingFor: 300 * time.Millisecond, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	const zone = "/compute/v1/projects/acme-prod-1/zones/europe-west1-b"
	const bearer = "Bearer ya29.test-0123456789"
	body := `{"name":"shop-n1","machineType":"zones/europe-west1-b/machineTypes/e2-standard-2",` +
		`"disks":[{"boot":true,"initializeParams":{"diskSizeGb":"20","sourceImage":"projects/debian-cloud/global/images/family/debian-12"}}],` +
		`"networkInterfaces":[{"network":"global/networks/default"}],"metadata":{"items":[{"key":"user-data","value":"#cloud-config\n"}]}}`
	const rid = "6f1c3b2a-1d2e-8f00-9abc-0123456789ab"
	code, op := gceDo(t, sim, "POST", zone+"/instances?requestId="+rid, bearer, body)
	if code != 200 || op["status"] != "PENDING" || op["operationType"] != "insert" {
		t.Fatalf("insert = %d %v", code, op)
	}
	opPath := zone + "/operations/" + op["name"].(string)
	instance := func() string {
		_, in := gceDo(t, sim, "GET", zone+"/instances/shop-n1", bearer, "")
		s, _ := in["status"].(string)
		return s
	}
	status := func() string { _, o := gceDo(t, sim, "GET", opPath, bearer, ""); return o["status"].(string) }
	if s, st := instance(), status(); s != "PROVISIONING" || st != "PENDING" {
		t.Fatalf("at once: instance %s, operation %s", s, st)
	}
	advance(200 * time.Millisecond)
	if s, st := instance(), status(); s != "STAGING" || st != "RUNNING" {
		t.Fatalf("after 200ms: instance %s, operation %s", s, st)
	}
	advance(200 * time.Millisecond)
	if s, st := instance(), status(); s != "RUNNING" || st != "DONE" {
		t.Fatalf("after 400ms: instance %s, operation %s", s, st)
	}
	if code, again := gceDo(t, sim, "POST", zone+"/instances?requestId="+rid, bearer, body); code != 200 || again["name"] != op["name"] {
		t.Fatalf("the same requestId = %d %v, want operation %v", code, again, op["name"])
	}
	if code, doc := gceDo(t, sim, "POST", zone+"/instances?requestId=7f1c3b2a-1d2e-8f00-9abc-0123456789ab", bearer, body); code != 409 {
		t.Fatalf("another requestId for the same name = %d %v, want 409", code, doc)
	}
	if n := len(sim.Instances()); n != 1 {
		t.Fatalf("%d instances, want 1", n)
	}
	code, del := gceDo(t, sim, "DELETE", zone+"/instances/shop-n1", bearer, "")
	if code != 200 || instance() != "STOPPING" {
		t.Fatalf("delete = %d %v, instance %s", code, del, instance())
	}
	advance(200 * time.Millisecond)
	_, d := gceDo(t, sim, "GET", zone+"/operations/"+del["name"].(string), bearer, "")
	if d["status"] != "DONE" || instance() != "" {
		t.Fatalf("after the delete: operation %v, instance %q", d["status"], instance())
	}
}
