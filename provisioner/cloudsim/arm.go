package cloudsim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The Azure Resource Manager front end: JSON over REST under
// /subscriptions/{s}/..., each provider namespace at the api-version the
// official SDK modules send (armresources/v3, armnetwork/v7,
// armcompute/v7), bearer tokens checked, long-running operations with
// Azure-AsyncOperation and Location headers, errors in ARM's
// {"error":{"code","message"}} shape. Virtual machines are Instances like
// EC2's: they take their private address from the simulator's subnet (at
// NIC creation) and boot their customData through the same Booter.

// armAPIVersions are the api-versions each namespace accepts: the ones the
// pinned SDK modules send.
var armAPIVersions = map[string]string{
	"microsoft.resources": "2025-04-01", // armresources/v3 v3.0.1
	"microsoft.network":   "2025-01-01", // armnetwork/v7 v7.2.0
	"microsoft.compute":   "2025-04-01", // armcompute/v7 v7.3.0 (virtual machines)
}

// MSITokenPath is the simulator's managed-identity token endpoint, in the
// App Service shape (GET ?api-version=2019-08-01&resource=R with an
// X-IDENTITY-HEADER): point IDENTITY_ENDPOINT at it and set any
// IDENTITY_HEADER, and azidentity's DefaultAzureCredential (or
// ManagedIdentityCredential) gets tokens this simulator's ARM accepts.
const MSITokenPath = "/msi/token"

// armMaxBody bounds a request body (customData alone may be 64 KiB as base64).
const armMaxBody = 1 << 20

// armDefaultPage is how many items a list page holds without the PageSize fault.
const armDefaultPage = 50

// isARM reports whether r is for the ARM front end.
func isARM(r *http.Request) bool {
	p := strings.ToLower(r.URL.Path)
	return strings.HasPrefix(p, "/subscriptions/") || p == MSITokenPath
}

// armState is the ARM half of the simulator's state (under Server.mu).
type armState struct {
	key       []byte                  // signs the tokens MSITokenPath issues
	groups    map[string]*armGroup    // by lower(/subscriptions/s/resourcegroups/rg)
	resources map[string]*armResource // by lower(resource id)
	ops       map[string]*armOp       // by operation id
	publicIPs int                     // public addresses handed out
}

type armGroup struct {
	id, name, location string
	tags               map[string]string
	deleteAt           time.Time // zero unless deleting
}

// armResource is one resource of a provider namespace.
type armResource struct {
	id, name, typ, location string
	group                   string // lower key of its resource group
	tags                    map[string]string
	props                   map[string]any // as given, server fields overlaid
	etag                    string
	readyAt                 time.Time // provisioning until then (network resources)
	deleteAt                time.Time // zero unless deleting
	hiddenFor               int       // GETs and lists still blind to it
	refs                    []string  // lower ids of the resources it uses
	inst                    *Instance // virtual machines
	privateIP               string    // network interfaces
	customData              string    // virtual machines: fixed at creation
	zones                   []string
}

// armOp is one long-running operation; status is evaluated when polled.
type armOp struct {
	id, ns, location string
	status           func(now time.Time) (done bool, err *apiError)
}

// ARMResource is a snapshot of one simulated ARM resource.
type ARMResource struct {
	ID, Name, Type, Location string
	Tags                     map[string]string
	ProvisioningState        string
}

// ARMResources returns a snapshot of every ARM resource and resource
// group (type "Microsoft.Resources/resourceGroups"), ordered by id.
func (s *Server) ARMResources() []ARMResource {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.armLocked()
	now := s.cfg.Now()
	s.armAdvanceLocked(now)
	var out []ARMResource
	for _, g := range a.groups {
		out = append(out, ARMResource{ID: g.id, Name: g.name, Type: "Microsoft.Resources/resourceGroups", Location: g.location, Tags: cloneTags(g.tags), ProvisioningState: g.state()})
	}
	for _, r := range a.resources {
		out = append(out, ARMResource{ID: r.id, Name: r.name, Type: r.typ, Location: r.location, Tags: cloneTags(r.tags), ProvisioningState: s.provisioningState(r, now)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (g *armGroup) state() string {
	if !g.deleteAt.IsZero() {
		return "Deleting"
	}
	return "Succeeded"
}

// armLocked returns the ARM state, made on first use.
func (s *Server) armLocked() *armState {
	if s.arm == nil {
		key := make([]byte, 32)
		rand.Read(key)
		s.arm = &armState{key: key, groups: map[string]*armGroup{}, resources: map[string]*armResource{}, ops: map[string]*armOp{}}
	}
	return s.arm
}

// armDelay is how long a network resource provisions or anything deletes.
func (s *Server) armDelay() time.Duration { return s.cfg.PendingFor / 4 }

// armReq is one decoded ARM request.
type armReq struct {
	r       *http.Request
	now     time.Time
	sub     string
	body    []byte
	query   url.Values
	base    string // scheme://host of the request, for links
	mutates bool
}

// armError is ARM's error document.
type armError struct {
	Error armErrorBody `json:"error"`
}

type armErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func armErr(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// armAnswer is what a handler answers: a status, headers and a JSON body
// (nil for none).
type armAnswer struct {
	status  int
	headers map[string]string
	body    any
}

func (s *Server) serveARM(w http.ResponseWriter, r *http.Request) {
	rec := Request{Time: s.cfg.Now(), Cloud: "azure", Method: r.Method, Path: r.URL.Path}
	status, code := s.handleARM(w, r, &rec)
	rec.Status, rec.Error = status, code
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
}

func (s *Server) handleARM(w http.ResponseWriter, r *http.Request, rec *Request) (int, string) {
	w.Header().Set("x-ms-request-id", newRequestID())
	if id := r.Header.Get("x-ms-client-request-id"); id != "" && len(id) <= 256 {
		w.Header().Set("x-ms-client-request-id", id)
	}
	fail := func(e *apiError) (int, string) {
		writeARMError(w, e)
		return e.Status, e.Code
	}
	if strings.ToLower(r.URL.Path) == MSITokenPath {
		rec.Action = "ManagedIdentity/token"
		rec.Auth = "X-IDENTITY-HEADER"
		return s.serveMSIToken(w, r, rec)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, armMaxBody+1))
	if err != nil || len(body) > armMaxBody {
		return fail(armErr(413, "RequestEntityTooLarge", "The request body is unreadable or above %d bytes.", armMaxBody))
	}
	q := r.URL.Query()
	req := &armReq{r: r, body: body, query: q, base: "http://" + r.Host}
	if r.TLS != nil {
		req.base = "https://" + r.Host
	}
	route, apiErr := parseARMPath(r.URL.Path)
	if apiErr != nil {
		return fail(apiErr)
	}
	req.sub = route.sub
	rec.Action = route.action(r.Method)

	// Authentication first, as ARM: a bearer token this simulator issued,
	// unexpired, for this endpoint.
	authz := r.Header.Get("Authorization")
	rec.Auth, _, _ = strings.Cut(authz, " ")
	if authz == "" {
		return fail(armErr(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."))
	}
	s.mu.Lock()
	key := s.armLocked().key
	s.mu.Unlock()
	if err := checkToken(key, authz, r.Host, s.cfg.Now()); err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="`+err.Error()+`"`)
		return fail(armErr(401, "InvalidAuthenticationToken", "The access token is invalid: %s.", err))
	}
	rec.AuthOK = true

	want := armAPIVersions[route.ns]
	got := q.Get("api-version")
	switch {
	case got == "":
		return fail(armErr(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."))
	case got != want:
		return fail(armErr(400, "InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported versions are '%s'.", got, want))
	}
	if (r.Method == http.MethodPut || r.Method == http.MethodPatch) && len(body) > 0 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return fail(armErr(415, "UnsupportedMediaType", "The content media type '%s' is not supported. Only 'application/json' is supported.", r.Header.Get("Content-Type")))
	}
	req.mutates = r.Method == http.MethodPut || r.Method == http.MethodDelete || r.Method == http.MethodPatch

	s.mu.Lock()
	if s.nth("throttle", s.faults.Throttle) {
		s.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		return fail(armErr(429, "SubscriptionRequestsThrottled", "Number of requests for subscription '%s' and operation '%s' exceeded the backend storage limit. Please try again after '1' seconds.", route.sub, rec.Action))
	}
	req.now = s.cfg.Now()
	s.advanceLocked()
	s.armAdvanceLocked(req.now)
	ans, after, apiErr := s.routeARM(req, route)
	commitThen500 := apiErr == nil && req.mutates && s.nth("commit500", s.faults.CommitThen500)
	s.mu.Unlock()
	for _, fn := range after {
		fn()
	}
	if apiErr != nil {
		return fail(apiErr)
	}
	if commitThen500 {
		return fail(armErr(500, "InternalServerError", "An internal server error occurred. Please retry the request."))
	}
	for k, v := range ans.headers {
		w.Header().Set(k, v)
	}
	if ans.body == nil {
		w.WriteHeader(ans.status)
		return ans.status, ""
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(ans.status)
	json.NewEncoder(w).Encode(ans.body)
	return ans.status, ""
}

func writeARMError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-error-code", e.Code)
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(armError{Error: armErrorBody{Code: e.Code, Message: e.Message}})
}

// armRoute is a parsed ARM path.
type armRoute struct {
	kind     string // "groups", "group", "list", "resource", "child", "listAll", "operation", "operationResult"
	sub      string
	group    string // resource group name
	ns, typ  string // lower-case provider namespace and resource type
	name     string
	child    []string // child type and name (subnets)
	location string
	opID     string
}

func (rt armRoute) action(method string) string {
	verb := map[string]string{http.MethodGet: "read", http.MethodHead: "read", http.MethodPut: "write", http.MethodPatch: "write", http.MethodDelete: "delete"}[method]
	switch rt.kind {
	case "groups", "group":
		return "Microsoft.Resources/subscriptions/resourceGroups/" + verb
	case "operation", "operationResult":
		return canonicalNS(rt.ns) + "/locations/operations/read"
	}
	t := canonicalType(rt.ns, rt.typ)
	if rt.kind == "child" {
		t += "/" + rt.child[0]
	}
	return t + "/" + verb
}

// parseARMPath recognises the paths the simulator serves (case-insensitive
// fixed segments, as ARM).
func parseARMPath(path string) (armRoute, *apiError) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	for _, s := range seg {
		if s == "" {
			return armRoute{}, armErr(400, "InvalidRequestUri", "The request URI '%s' has an empty segment.", clipStr(path))
		}
	}
	notFound := armErr(404, "InvalidResourceType", "The resource path '%s' is not served by this Azure Resource Manager (resource groups, Microsoft.Network virtualNetworks, networkSecurityGroups, publicIPAddresses, networkInterfaces and Microsoft.Compute virtualMachines are).", clipStr(path))
	if len(seg) < 3 || !strings.EqualFold(seg[0], "subscriptions") {
		return armRoute{}, notFound
	}
	rt := armRoute{sub: seg[1], ns: "microsoft.resources"}
	if !subscriptionRE(rt.sub) {
		return armRoute{}, armErr(400, "InvalidSubscriptionId", "The provided subscription identifier '%s' is malformed or invalid.", clipStr(rt.sub))
	}
	rest := seg[2:]
	lower := func(i int) string { return strings.ToLower(rest[i]) }
	switch {
	case len(rest) == 1 && lower(0) == "resourcegroups":
		rt.kind = "groups"
	case len(rest) == 2 && lower(0) == "resourcegroups":
		rt.kind, rt.group = "group", rest[1]
	case len(rest) == 2 && lower(0) == "operationresults":
		rt.kind, rt.opID = "operationResult", rest[1]
	case len(rest) >= 5 && lower(0) == "resourcegroups" && lower(2) == "providers":
		rt.group, rt.ns, rt.typ = rest[1], lower(3), lower(4)
		switch len(rest) {
		case 5:
			rt.kind = "list"
		case 6:
			rt.kind, rt.name = "resource", rest[5]
		case 8:
			rt.kind, rt.name, rt.child = "child", rest[5], []string{strings.ToLower(rest[6]), rest[7]}
			if rt.typ != "virtualnetworks" || rt.child[0] != "subnets" {
				return armRoute{}, notFound
			}
		default:
			return armRoute{}, notFound
		}
	case len(rest) == 3 && lower(0) == "providers":
		rt.kind, rt.ns, rt.typ = "listAll", lower(1), lower(2)
	case len(rest) == 6 && lower(0) == "providers" && lower(2) == "locations" && (lower(4) == "operations" || lower(4) == "operationresults"):
		rt.ns, rt.location, rt.opID = lower(1), rest[3], rest[5]
		rt.kind = "operation"
		if lower(4) == "operationresults" {
			rt.kind = "operationResult"
		}
	default:
		return armRoute{}, notFound
	}
	if _, ok := armAPIVersions[rt.ns]; !ok {
		return armRoute{}, armErr(404, "NoRegisteredProviderFound", "No registered resource provider found for namespace '%s'.", clipStr(rt.ns))
	}
	if rt.kind == "list" || rt.kind == "resource" || rt.kind == "child" || rt.kind == "listAll" {
		if canonicalType(rt.ns, rt.typ) == "" {
			return armRoute{}, notFound
		}
	}
	return rt, nil
}

// armTypes are the resource types served, by lower-case namespace/type.
var armTypes = map[string]string{
	"microsoft.network/virtualnetworks":         "Microsoft.Network/virtualNetworks",
	"microsoft.network/networksecuritygroups":   "Microsoft.Network/networkSecurityGroups",
	"microsoft.network/publicipaddresses":       "Microsoft.Network/publicIPAddresses",
	"microsoft.network/networkinterfaces":       "Microsoft.Network/networkInterfaces",
	"microsoft.compute/virtualmachines":         "Microsoft.Compute/virtualMachines",
	"microsoft.resources/resourcegroups":        "Microsoft.Resources/resourceGroups",
	"microsoft.network/virtualnetworks/subnets": "Microsoft.Network/virtualNetworks/subnets",
}

func canonicalType(ns, typ string) string { return armTypes[ns+"/"+typ] }

func canonicalNS(ns string) string {
	switch ns {
	case "microsoft.network":
		return "Microsoft.Network"
	case "microsoft.compute":
		return "Microsoft.Compute"
	}
	return "Microsoft.Resources"
}

func subscriptionRE(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

func clipStr(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// routeARM dispatches a request under s.mu.
func (s *Server) routeARM(req *armReq, rt armRoute) (*armAnswer, []func(), *apiError) {
	m := req.r.Method
	switch rt.kind {
	case "groups":
		if m != http.MethodGet {
			return nil, nil, methodNotAllowed(m)
		}
		return s.listGroups(req)
	case "group":
		return s.groupRequest(req, rt)
	case "operation", "operationResult":
		if m != http.MethodGet {
			return nil, nil, methodNotAllowed(m)
		}
		return s.operationStatus(req, rt)
	case "list", "listAll":
		if m != http.MethodGet {
			return nil, nil, methodNotAllowed(m)
		}
		return s.listResources(req, rt)
	case "child":
		if m != http.MethodGet {
			return nil, nil, methodNotAllowed(m)
		}
		return s.getSubnet(req, rt)
	}
	return s.resourceRequest(req, rt)
}

func methodNotAllowed(m string) *apiError {
	return armErr(405, "MethodNotAllowed", "The requested method '%s' is not allowed on this resource path.", m)
}

// newOp registers a long-running operation and returns the headers that
// point at it: Azure-AsyncOperation (the status) and Location (the
// result), each with the api-version, as ARM answers.
func (s *Server) newOp(req *armReq, ns, location string, status func(time.Time) (bool, *apiError)) map[string]string {
	a := s.armLocked()
	id := newOpID()
	a.ops[id] = &armOp{id: id, ns: ns, location: location, status: status}
	v := "?api-version=" + armAPIVersions[ns]
	base := req.base + "/subscriptions/" + req.sub + "/providers/" + canonicalNS(ns) + "/locations/" + location
	return map[string]string{
		"Azure-AsyncOperation": base + "/operations/" + id + v,
		"Location":             base + "/operationResults/" + id + v,
	}
}

func newOpID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// operationStatus answers GET on an operation: its status document
// (Azure-AsyncOperation), or 202 while running and 204 (or the error) once
// done (Location).
func (s *Server) operationStatus(req *armReq, rt armRoute) (*armAnswer, []func(), *apiError) {
	op, ok := s.armLocked().ops[rt.opID]
	if !ok || (rt.ns != "microsoft.resources" && op.ns != rt.ns) {
		return nil, nil, armErr(404, "OperationNotFound", "The operation '%s' was not found.", clipStr(rt.opID))
	}
	done, opErr := op.status(req.now)
	if rt.kind == "operationResult" {
		switch {
		case !done:
			return &armAnswer{status: 202, headers: map[string]string{"Location": req.base + req.r.URL.RequestURI()}}, nil, nil
		case opErr != nil:
			return nil, nil, opErr
		default:
			return &armAnswer{status: 204}, nil, nil
		}
	}
	doc := map[string]any{"name": op.id, "status": "InProgress"}
	if done {
		doc["status"] = "Succeeded"
		if opErr != nil {
			doc["status"] = "Failed"
			doc["error"] = armErrorBody{Code: opErr.Code, Message: opErr.Message}
		}
	}
	return &armAnswer{status: 200, body: doc}, nil, nil
}

// page cuts a list to one page and builds its nextLink ($skiptoken is the
// offset, opaque to clients).
func (s *Server) armPage(req *armReq, items []any) (map[string]any, *apiError) {
	start := 0
	if tok := req.query.Get("$skiptoken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(items) {
			return nil, armErr(400, "InvalidSkipToken", "The skip token '%s' is invalid.", clipStr(tok))
		}
		start = n
	}
	size := armDefaultPage
	if s.faults.PageSize > 0 && s.faults.PageSize < size {
		size = s.faults.PageSize
	}
	end := min(start+size, len(items))
	out := map[string]any{"value": items[start:end]}
	if end < len(items) {
		q := url.Values{}
		for k, v := range req.query {
			q[k] = v
		}
		q.Set("$skiptoken", strconv.Itoa(end))
		out["nextLink"] = req.base + req.r.URL.Path + "?" + q.Encode()
	}
	return out, nil
}

// Tokens: the simulator's managed-identity endpoint issues HS256 JWTs
// signed with a key of its own; ARM accepts only those, unexpired, whose
// audience names this endpoint (the audience of the cloud.Configuration
// the SDK was given).

type tokenClaims struct {
	Aud string `json:"aud"`
	Iss string `json:"iss"`
	Exp int64  `json:"exp"`
	Iat int64  `json:"iat"`
	Oid string `json:"oid"`
}

const tokenLifetime = time.Hour

func signToken(key []byte, c tokenClaims) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, _ := json.Marshal(c)
	msg := head + "." + enc.EncodeToString(body)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(mac.Sum(nil))
}

// checkToken validates an Authorization header's bearer token; the error
// says what is wrong, for the 401's message.
func checkToken(key []byte, authz, host string, now time.Time) error {
	scheme, tok, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return fmt.Errorf("the Authorization header is not 'Bearer <token>'")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return fmt.Errorf("the token is not a JWT")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return fmt.Errorf("the token's signature is invalid (not issued by this endpoint's identity service)")
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c tokenClaims
	if err != nil || json.Unmarshal(body, &c) != nil {
		return fmt.Errorf("the token's claims are unreadable")
	}
	if now.Unix() >= c.Exp {
		return fmt.Errorf("the token expired at %s", time.Unix(c.Exp, 0).UTC().Format(time.RFC3339))
	}
	u, err := url.Parse(c.Aud)
	if err != nil || !strings.EqualFold(u.Host, host) {
		return fmt.Errorf("the token's audience %q is not this endpoint (%s)", clipStr(c.Aud), host)
	}
	return nil
}

// serveMSIToken is the App Service managed-identity endpoint.
func (s *Server) serveMSIToken(w http.ResponseWriter, r *http.Request, rec *Request) (int, string) {
	fail := func(status int, code, msg string) (int, string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"statusCode": status, "message": msg, "correlationId": newOpID()})
		return status, code
	}
	if r.Method != http.MethodGet {
		return fail(405, "MethodNotAllowed", "GET only")
	}
	if r.Header.Get("X-IDENTITY-HEADER") == "" {
		return fail(401, "MissingIdentityHeader", "the X-IDENTITY-HEADER header (IDENTITY_HEADER) is required")
	}
	rec.AuthOK = true
	q := r.URL.Query()
	if q.Get("api-version") != "2019-08-01" {
		return fail(400, "InvalidApiVersion", "api-version must be 2019-08-01")
	}
	resource := q.Get("resource")
	if u, err := url.Parse(resource); resource == "" || err != nil || u.Host == "" {
		return fail(400, "InvalidResource", "resource must be the URL of the service the token is for")
	}
	now := s.cfg.Now()
	s.mu.Lock()
	key := s.armLocked().key
	s.mu.Unlock()
	exp := now.Add(tokenLifetime)
	tok := signToken(key, tokenClaims{Aud: resource, Iss: "https://sts.windows.net/" + simTenant + "/", Exp: exp.Unix(), Iat: now.Unix(), Oid: simPrincipal})
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok, "expires_on": strconv.FormatInt(exp.Unix(), 10), "resource": resource, "token_type": "Bearer", "client_id": simPrincipal,
	})
	return 200, ""
}

// The identity the simulator's tokens name.
const (
	simTenant    = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	simPrincipal = "4b1c4c1e-0000-4000-8000-00000000a1e0"
)
