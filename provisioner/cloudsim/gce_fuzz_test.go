package cloudsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzGCERequest sends arbitrary methods, paths, queries and bodies through
// the Compute Engine front end: it never panics, every answer is JSON (a
// resource, an operation or Google's error document), and a failed
// request launches nothing.
func FuzzGCERequest(f *testing.F) {
	insert := `{"name":"shop-n1","machineType":"zones/europe-west1-b/machineTypes/e2-standard-2","labels":{"aerolith-cluster":"shop"},` +
		`"tags":{"items":["aerolith-shop"]},"metadata":{"items":[{"key":"user-data","value":"#cloud-config\n"}]},` +
		`"disks":[{"boot":true,"autoDelete":true,"initializeParams":{"diskSizeGb":"20","sourceImage":"projects/debian-cloud/global/images/family/debian-12"}}],` +
		`"networkInterfaces":[{"network":"global/networks/default","accessConfigs":[{"name":"External NAT","type":"ONE_TO_ONE_NAT"}]}]}`
	const zone = "/compute/v1/projects/acme-prod-1/zones/europe-west1-b/instances"
	seeds := []struct{ method, path, body string }{
		{"POST", zone + "?requestId=6f1c3b2a-1d2e-8f00-9abc-0123456789ab", insert},
		{"POST", zone, `{"name":"x","machineType":"zones/europe-west1-b/machineTypes/e2-micro","disks":[{"boot":true}]}`},
		{"POST", zone, `{"name":"x","unknown":1}`},
		{"GET", zone + "?filter=" + "labels.aerolith-cluster%20%3D%20%22shop%22&maxResults=1&pageToken=p1", ""},
		{"GET", zone + "?filter=(name%20eq%20%22shop-.*%22)%20AND%20(status%20!%3D%20RUNNING)%20OR%20id%20%3D%201", ""},
		{"GET", zone + "?filter=((((", ""},
		{"GET", zone + "/shop-n1", ""},
		{"DELETE", zone + "/shop-n1?requestId=0", ""},
		{"GET", "/compute/v1/projects/acme-prod-1/zones/europe-west1-b/operations/operation-1", ""},
		{"POST", "/compute/v1/projects/acme-prod-1/global/firewalls", `{"name":"aerolith-shop-raft","allowed":[{"IPProtocol":"tcp","ports":["7071","1-2"]}],"sourceTags":["aerolith-shop"],"targetTags":["aerolith-shop"]}`},
		{"PATCH", "/compute/v1/projects/acme-prod-1/global/firewalls/fw-1", `{"sourceRanges":["10.0.0.0/8"]}`},
		{"DELETE", "/compute/v1/projects/acme-prod-1/global/firewalls/fw-1", ""},
		{"GET", "/compute/v1/projects/X/global/firewalls/a/b", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body)
	}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		switch method {
		case "GET", "POST", "PATCH", "DELETE", "PUT":
		default:
			return
		}
		if !strings.HasPrefix(path, "/compute/") {
			path = "/compute/" + path
		}
		sim, err := New(Config{PendingFor: 1 << 62})
		if err != nil {
			t.Fatal(err)
		}
		defer sim.Close()
		sim.mu.Lock()
		sim.gce.init()
		sim.gce.firewalls["acme-prod-1/fw-1"] = &Firewall{ID: "1", Name: "fw-1", Project: "acme-prod-1", Network: "global/networks/default",
			Direction: "INGRESS", Priority: 1000, Allowed: []FirewallAllowed{{IPProtocol: "tcp"}}}
		sim.mu.Unlock()
		req, err := http.NewRequest(method, "http://sim"+path, strings.NewReader(body))
		if err != nil {
			return // not a request a client can send
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer ya29.fuzz-token-0123456789")
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, req)
		var doc map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("answer to %s %q %q is not a JSON object: %v\n%s", method, path, body, err, w.Body.String())
		}
		if w.Code != http.StatusOK {
			e, ok := doc["error"].(map[string]any)
			if !ok || e["code"] == nil || e["message"] == nil || e["status"] == nil || e["errors"] == nil {
				t.Fatalf("error answer to %s %q is not Google's error format: %s", method, path, w.Body.String())
			}
			if len(sim.Instances()) != 0 {
				t.Fatalf("failed request %s %q launched an instance", method, path)
			}
		}
	})
}
