package cloudsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// armClient speaks raw HTTP to the simulator's ARM with a token from its
// identity endpoint, for what the SDK never sends (bad versions, missing
// tokens, conditional headers).
type armClient struct {
	t   *testing.T
	url string
	tok string
}

func newARM(t *testing.T, cfg Config) (*Server, *armClient) {
	t.Helper()
	sim, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(func() { ts.Close(); sim.Close() })
	req, _ := http.NewRequest(http.MethodGet, ts.URL+MSITokenPath+"?api-version=2019-08-01&resource="+ts.URL, nil)
	req.Header.Set("X-IDENTITY-HEADER", "x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v", err)
	}
	return sim, &armClient{t: t, url: ts.URL, tok: tok.AccessToken}
}

const testSub = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"

// do sends method path (the api-version given in path, or the
// namespace's) with body and headers (key, value, ...).
func (c *armClient) do(method, path, body string, headers ...string) (int, http.Header, map[string]any) {
	c.t.Helper()
	if !strings.Contains(path, "api-version=") {
		v := armAPIVersions["microsoft.resources"]
		if strings.Contains(path, "Microsoft.Network") {
			v = armAPIVersions["microsoft.network"]
		}
		path += map[bool]string{true: "&", false: "?"}[strings.Contains(path, "?")] + "api-version=" + v
	}
	if !strings.HasPrefix(path, "http") {
		path = c.url + path
	}
	req, _ := http.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.tok)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(b, &out)
	return resp.StatusCode, resp.Header, out
}

func errCode(doc map[string]any) string {
	e, _ := doc["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestARMProtocol(t *testing.T) {
	_, c := newARM(t, Config{PendingFor: 40 * time.Millisecond})
	rg := testSub + "/resourceGroups/rg"
	if st, _, doc := c.do("PUT", rg, `{"location":"westeurope"}`); st != 201 || doc["name"] != "rg" {
		t.Fatalf("PUT resource group = %d %v", st, doc)
	}
	for _, tc := range []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		code                     string
	}{
		{"no token", "GET", rg, "", []string{"Authorization", ""}, 401, "AuthenticationFailed"},
		{"foreign token", "GET", rg, "", []string{"Authorization", "Bearer a.b.c"}, 401, "InvalidAuthenticationToken"},
		{"wrong api-version", "GET", rg + "?api-version=2020-01-01", "", nil, 400, "InvalidApiVersionParameter"},
		{"unknown type", "GET", rg + "/providers/Microsoft.Network/loadBalancers/x", "", nil, 404, "InvalidResourceType"},
		{"missing group", "GET", testSub + "/resourceGroups/nope/providers/Microsoft.Network/virtualNetworks/v", "", nil, 404, "ResourceGroupNotFound"},
		{"missing resource", "GET", rg + "/providers/Microsoft.Network/virtualNetworks/v", "", nil, 404, "ResourceNotFound"},
		{"not JSON", "PUT", rg + "/providers/Microsoft.Network/virtualNetworks/v", "{", nil, 400, "InvalidRequestContent"},
		{"no location", "PUT", rg + "/providers/Microsoft.Network/virtualNetworks/v", `{}`, nil, 400, "LocationRequired"},
		{"subnet outside", "PUT", rg + "/providers/Microsoft.Network/virtualNetworks/v", `{"location":"westeurope","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[{"name":"s","properties":{"addressPrefix":"10.9.0.0/24"}}]}}`, nil, 400, "NetcfgSubnetRangeOutsideVnet"},
		{"duplicate priority", "PUT", rg + "/providers/Microsoft.Network/networkSecurityGroups/n", `{"location":"westeurope","properties":{"securityRules":[` +
			`{"name":"a","properties":{"protocol":"Tcp","access":"Allow","direction":"Inbound","priority":100,"sourcePortRange":"*","destinationPortRange":"1","sourceAddressPrefix":"*","destinationAddressPrefix":"*"}},` +
			`{"name":"b","properties":{"protocol":"Tcp","access":"Allow","direction":"Inbound","priority":100,"sourcePortRange":"*","destinationPortRange":"2","sourceAddressPrefix":"*","destinationAddressPrefix":"*"}}]}}`, nil, 400, "SecurityRuleConflict"},
		{"delete missing", "DELETE", rg + "/providers/Microsoft.Network/publicIPAddresses/none", "", nil, 204, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, h, doc := c.do(tc.method, tc.path, tc.body, tc.headers...)
			if st != tc.status || errCode(doc) != tc.code {
				t.Fatalf("%s %s = %d %v, want %d %s", tc.method, tc.path, st, doc, tc.status, tc.code)
			}
			if tc.code != "" && h.Get("x-ms-error-code") != tc.code {
				t.Fatalf("x-ms-error-code %q", h.Get("x-ms-error-code"))
			}
		})
	}

	// A long-running PUT: 201 Updating with both operation headers; the
	// operation goes InProgress → Succeeded.
	pip := rg + "/providers/Microsoft.Network/publicIPAddresses/p"
	st, h, doc := c.do("PUT", pip, `{"location":"westeurope","sku":{"name":"Standard"},"properties":{"publicIPAllocationMethod":"Static"}}`)
	props, _ := doc["properties"].(map[string]any)
	if st != 201 || props["provisioningState"] != "Updating" || h.Get("Azure-AsyncOperation") == "" || h.Get("Location") == "" {
		t.Fatalf("PUT public IP = %d %v %v", st, doc, h)
	}
	etag, _ := doc["etag"].(string)
	_, _, op := c.do("GET", h.Get("Azure-AsyncOperation"), "")
	if op["status"] != "InProgress" {
		t.Fatalf("operation right after the PUT: %v", op)
	}
	deadline := time.Now().Add(10 * time.Second)
	for op["status"] != "Succeeded" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // simulated provisioning time passing
		_, _, op = c.do("GET", h.Get("Azure-AsyncOperation"), "")
	}
	if op["status"] != "Succeeded" {
		t.Fatalf("operation: %v", op)
	}
	// If-Match: a stale etag is refused, the current one accepted.
	if st, _, doc := c.do("PUT", pip, `{"location":"westeurope","sku":{"name":"Standard"},"properties":{"publicIPAllocationMethod":"Static"}}`, "If-Match", `W/"stale"`); st != 412 || errCode(doc) != "PreconditionFailed" {
		t.Fatalf("PUT with a stale If-Match = %d %v", st, doc)
	}
	if st, _, _ := c.do("PUT", pip, `{"location":"westeurope","sku":{"name":"Standard"},"properties":{"publicIPAllocationMethod":"Static"}}`, "If-Match", etag); st != 200 {
		t.Fatalf("PUT with the current If-Match = %d", st)
	}
	if st, _, _ := c.do("PUT", pip, `{"location":"westeurope"}`, "If-None-Match", "*"); st != 412 {
		t.Fatalf("PUT If-None-Match * on an existing resource = %d", st)
	}
}

func TestARMPaging(t *testing.T) {
	_, c := newARM(t, Config{Faults: Faults{PageSize: 2}})
	rg := testSub + "/resourceGroups/rg"
	c.do("PUT", rg, `{"location":"westeurope"}`)
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if st, _, doc := c.do("PUT", rg+"/providers/Microsoft.Network/publicIPAddresses/"+n, `{"location":"westeurope"}`); st != 201 {
			t.Fatalf("PUT %s = %d %v", n, st, doc)
		}
	}
	var names []string
	next := rg + "/providers/Microsoft.Network/publicIPAddresses"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("nextLink does not end")
		}
		st, _, doc := c.do("GET", next, "")
		if st != 200 {
			t.Fatalf("list = %d %v", st, doc)
		}
		for _, v := range doc["value"].([]any) {
			names = append(names, v.(map[string]any)["name"].(string))
		}
		next, _ = doc["nextLink"].(string)
	}
	if strings.Join(names, "") != "abcde" {
		t.Fatalf("pages held %v", names)
	}
}
