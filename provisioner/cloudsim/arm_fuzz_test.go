package cloudsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzARMRequest sends arbitrary methods, paths and JSON bodies through
// the ARM front end with a valid token: it never panics, every error is
// ARM's {"error":{"code","message"}} document, and a refused request
// creates nothing.
func FuzzARMRequest(f *testing.F) {
	const sub = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
	const rg = sub + "/resourceGroups/rg"
	seeds := []struct{ method, path, body string }{
		{"PUT", rg, `{"location":"westeurope","tags":{"a":"b"}}`},
		{"PUT", rg + "/providers/Microsoft.Network/networkSecurityGroups/n", `{"location":"westeurope","properties":{"securityRules":[{"name":"r","properties":{"protocol":"Tcp","access":"Allow","direction":"Inbound","priority":100,"sourcePortRange":"*","destinationPortRange":"7071","sourceAddressPrefix":"10.0.0.0/24","destinationAddressPrefix":"*"}}]}}`},
		{"PUT", rg + "/providers/Microsoft.Network/virtualNetworks/v", `{"location":"westeurope","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[{"name":"s","properties":{"addressPrefix":"10.0.0.0/24"}}]}}`},
		{"PUT", rg + "/providers/Microsoft.Network/publicIPAddresses/p", `{"location":"westeurope","sku":{"name":"Standard"},"properties":{"publicIPAllocationMethod":"Static"}}`},
		{"PUT", rg + "/providers/Microsoft.Network/networkInterfaces/n", `{"location":"westeurope","properties":{"ipConfigurations":[{"name":"c","properties":{"subnet":{"id":"` + rg + `/providers/Microsoft.Network/virtualNetworks/v/subnets/s"}}}]}}`},
		{"PUT", rg + "/providers/Microsoft.Compute/virtualMachines/vm", `{"location":"westeurope","properties":{"hardwareProfile":{"vmSize":"Standard_D2s_v5"},"osProfile":{"customData":"!!"}}}`},
		{"DELETE", rg + "/providers/Microsoft.Network/networkInterfaces/n", ``},
		{"GET", rg + "/providers/Microsoft.Compute/virtualMachines?$skiptoken=x", ``},
		{"GET", sub + "/providers/Microsoft.Network/locations/westeurope/operations/nope", ``},
		{"PUT", rg + "/providers/Microsoft.Network/virtualNetworks/v", `{"location":"westeurope","properties":[]}`},
		{"PATCH", "/subscriptions/x/resourceGroups", `null`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body)
	}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(strings.ToLower(path), "/subscriptions/") || strings.ContainsAny(path, " ?#%\x00\r\n\t") {
			return // another cloud's path, or not a request line a client can send
		}
		if _, err := url.Parse("http://example.com" + path); err != nil {
			return
		}
		sim, err := New(Config{PendingFor: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer sim.Close()
		tok := func() string {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, MSITokenPath+"?api-version=2019-08-01&resource=http://example.com", nil)
			r.Header.Set("X-IDENTITY-HEADER", "x")
			sim.ServeHTTP(w, r)
			var out struct {
				AccessToken string `json:"access_token"`
			}
			json.Unmarshal(w.Body.Bytes(), &out)
			return out.AccessToken
		}()
		// A group and network to refer to, so that checks past existence run.
		for _, s := range seeds[:5] {
			do(sim, tok, s.method, s.path, s.body)
		}
		before := len(sim.ARMResources())
		known := false
		for _, m := range []string{"GET", "PUT", "DELETE", "HEAD", "PATCH", "POST"} {
			if strings.EqualFold(method, m) {
				method, known = m, true
			}
		}
		if !known {
			return // net/http refuses other methods before a handler sees them
		}
		w := do(sim, tok, method, path, body)
		if w.Code >= 400 {
			var doc armError
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc.Error.Code == "" || doc.Error.Message == "" {
				t.Fatalf("%s %s: error answer %d is not ARM's error document: %s", method, path, w.Code, w.Body.String())
			}
			if n := len(sim.ARMResources()); n != before && method != "DELETE" {
				t.Fatalf("%s %s refused (%d) yet resources went %d → %d", method, path, w.Code, before, n)
			}
		}
	})
}

func do(sim *Server, tok, method, path, body string) *httptest.ResponseRecorder {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	target := path
	if strings.HasPrefix(strings.ToLower(path), "/subscriptions/") {
		ns := "microsoft.resources"
		if strings.Contains(strings.ToLower(path), "microsoft.network") {
			ns = "microsoft.network"
		} else if strings.Contains(strings.ToLower(path), "microsoft.compute") {
			ns = "microsoft.compute"
		}
		target += sep + "api-version=" + armAPIVersions[ns]
	}
	r := httptest.NewRequest(method, "http://example.com"+target, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, r)
	return w
}
