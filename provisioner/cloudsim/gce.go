package cloudsim

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The Compute Engine REST API (v1), as cloud.google.com/go/compute/apiv1's
// REST clients speak it: JSON bodies, `Authorization: Bearer` on every
// request, long-running operations (PENDING → RUNNING → DONE) polled with
// GET, errors in Google's JSON error format, requestId deduplication and
// pageToken paging. GCE instances live in the simulator's instance table
// beside EC2's, move through the same states and are booted by the same
// Booter from their `user-data` metadata item.

const (
	gcePrefix = "/compute/v1/projects/"
	// gceBase is the host self links name, as the real API's do.
	gceBase    = "https://www.googleapis.com/compute/v1/"
	maxGCEBody = 1 << 20
	// GCE metadata: one value up to 256 KiB, all of them up to 512 KiB.
	maxMetadataValue = 256 << 10
	maxMetadataTotal = 512 << 10
)

// gceState is the GCE side of the simulator: what EC2's tables do not
// hold. Guarded by Server.mu; maps are made on first use.
type gceState struct {
	meta      map[string]*gceInstance // by Instance.ID
	firewalls map[string]*Firewall    // by project/name
	ops       map[string]*gceOp       // by project/scope/name
	requests  map[string]*gceOp       // by requestId
	throttled int
}

func (g *gceState) init() {
	if g.meta == nil {
		g.meta, g.firewalls, g.ops, g.requests = map[string]*gceInstance{}, map[string]*Firewall{}, map[string]*gceOp{}, map[string]*gceOp{}
	}
}

// gceInstance is what GCE knows of an instance beyond the shared table.
type gceInstance struct {
	Project, Name, Description string
	MachineType, Network       string
	SourceImage, DiskType      string
	NetworkTags                []string
	Metadata                   []gceItem
	NatIP                      bool
	deleting                   bool
}

// gceErr is an error answered in Google's format.
type gceErr struct {
	Code    int
	Status  string // google.rpc.Code name
	Reason  string
	Message string
}

func (e *gceErr) Error() string { return e.Reason + ": " + e.Message }

func gceInvalid(format string, args ...any) *gceErr {
	return &gceErr{Code: 400, Status: "INVALID_ARGUMENT", Reason: "invalid", Message: fmt.Sprintf(format, args...)}
}

func gceNotFound(resource string) *gceErr {
	return &gceErr{Code: 404, Status: "NOT_FOUND", Reason: "notFound", Message: fmt.Sprintf("The resource '%s' was not found", resource)}
}

func writeGCEError(w http.ResponseWriter, e *gceErr) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.Code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": e.Code, "message": e.Message, "status": e.Status,
		"errors": []map[string]string{{"message": e.Message, "domain": "global", "reason": e.Reason}},
	}})
}

func writeGCE(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(v)
}

var (
	bearerRE    = regexp.MustCompile(`^Bearer [A-Za-z0-9._~+/=-]{8,}$`)
	projectRE   = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	gceZoneRE   = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+-[a-z]$`)
	rfc1035RE   = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	uuidRE      = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	labelKeyRE  = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	labelValRE  = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
	metaKeyRE   = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
	gceTypeRE   = regexp.MustCompile(`^[a-z][a-z0-9]*-[a-z0-9-]+$`)
	imagePathRE = regexp.MustCompile(`^(https://(www|compute)\.googleapis\.com/compute/v1/)?projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/global/images/(family/)?[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	networkRE   = regexp.MustCompile(`^(https://(www|compute)\.googleapis\.com/compute/v1/)?(projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/)?global/networks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
)

// gceRoute is a parsed request path.
type gceRoute struct {
	project, zone string // zone "" for global resources
	collection    string // instances, firewalls, operations
	name          string // "" for the collection
}

// parseGCEPath reads /compute/v1/projects/{p}/zones/{z}/{collection}[/{name}]
// and /compute/v1/projects/{p}/global/{collection}[/{name}].
func parseGCEPath(path string) (gceRoute, *gceErr) {
	rest, ok := strings.CutPrefix(path, gcePrefix)
	if !ok {
		return gceRoute{}, &gceErr{Code: 404, Status: "NOT_FOUND", Reason: "notFound", Message: "The requested URL " + clipPath(path) + " was not found on this server."}
	}
	parts := strings.Split(rest, "/")
	var r gceRoute
	r.project = parts[0]
	switch {
	case len(parts) >= 4 && parts[1] == "zones" && (parts[3] == "instances" || parts[3] == "operations"):
		r.zone, r.collection, parts = parts[2], parts[3], parts[4:]
	case len(parts) >= 3 && parts[1] == "global" && (parts[2] == "firewalls" || parts[2] == "operations"):
		r.collection, parts = parts[2], parts[3:]
	default:
		return gceRoute{}, &gceErr{Code: 404, Status: "NOT_FOUND", Reason: "notFound", Message: "The requested URL " + clipPath(path) + " was not found on this server."}
	}
	if len(parts) > 1 {
		return gceRoute{}, &gceErr{Code: 404, Status: "NOT_FOUND", Reason: "notFound", Message: "The requested URL " + clipPath(path) + " was not found on this server."}
	}
	if len(parts) == 1 {
		if parts[0] == "" {
			return gceRoute{}, gceInvalid("Invalid resource name: empty")
		}
		r.name = parts[0]
	}
	if !projectRE.MatchString(r.project) {
		return gceRoute{}, gceInvalid("Invalid value for field 'project': '%s'. Must be a match of regex '[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?'", clip(r.project))
	}
	if r.collection != "operations" && r.collection != "firewalls" && !gceZoneRE.MatchString(r.zone) {
		return gceRoute{}, gceInvalid("Invalid value for field 'zone': '%s'. Unknown zone.", clip(r.zone))
	}
	if r.collection == "operations" && r.zone != "" && !gceZoneRE.MatchString(r.zone) {
		return gceRoute{}, gceInvalid("Invalid value for field 'zone': '%s'. Unknown zone.", clip(r.zone))
	}
	return r, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func clipPath(p string) string { return clip(p) }

// serveGCE serves the Compute Engine API and the OAuth token endpoint.
func (s *Server) serveGCE(w http.ResponseWriter, r *http.Request) {
	rec := Request{Time: s.cfg.Now(), Cloud: "gcp", Method: r.Method, Path: r.URL.Path}
	if r.URL.Path == GCETokenPath {
		s.serveToken(w, r, &rec)
	} else if e := s.handleGCE(w, r, &rec); e != nil {
		writeGCEError(w, e)
		rec.Status, rec.Error = e.Code, e.Reason
	} else {
		rec.Status = http.StatusOK
	}
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
}

func (s *Server) handleGCE(w http.ResponseWriter, r *http.Request, rec *Request) *gceErr {
	// Authentication first: GCE refuses a request without an OAuth 2
	// bearer token before it looks at anything else.
	authz := r.Header.Get("Authorization")
	rec.Auth, _, _ = strings.Cut(authz, " ")
	if authz == "" {
		return &gceErr{Code: 401, Status: "UNAUTHENTICATED", Reason: "required", Message: "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential."}
	}
	if len(authz) > 8192 || !bearerRE.MatchString(authz) {
		return &gceErr{Code: 401, Status: "UNAUTHENTICATED", Reason: "authError", Message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."}
	}
	rec.AuthOK = true
	route, e := parseGCEPath(r.URL.Path)
	if e != nil {
		return e
	}
	q := r.URL.Query()
	var body []byte
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			return gceInvalid("Content-Type %q: want application/json", clip(ct))
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, maxGCEBody+1))
		if err != nil || len(b) > maxGCEBody {
			return &gceErr{Code: 413, Status: "INVALID_ARGUMENT", Reason: "badRequest", Message: "request body unreadable or above 1 MiB"}
		}
		body = b
	}
	type handler func(s *Server, route gceRoute, q map[string][]string, body []byte) (any, []func(), *gceErr)
	var h handler
	mutating := false
	switch {
	case route.collection == "instances" && route.name == "" && r.Method == http.MethodPost:
		rec.Action, h, mutating = "compute.instances.insert", (*Server).gceInsertInstance, true
	case route.collection == "instances" && route.name == "" && r.Method == http.MethodGet:
		rec.Action, h = "compute.instances.list", (*Server).gceListInstances
	case route.collection == "instances" && r.Method == http.MethodGet:
		rec.Action, h = "compute.instances.get", (*Server).gceGetInstance
	case route.collection == "instances" && r.Method == http.MethodDelete:
		rec.Action, h, mutating = "compute.instances.delete", (*Server).gceDeleteInstance, true
	case route.collection == "firewalls" && route.name == "" && r.Method == http.MethodPost:
		rec.Action, h, mutating = "compute.firewalls.insert", (*Server).gceInsertFirewall, true
	case route.collection == "firewalls" && route.name != "" && r.Method == http.MethodGet:
		rec.Action, h = "compute.firewalls.get", (*Server).gceGetFirewall
	case route.collection == "firewalls" && route.name != "" && r.Method == http.MethodPatch:
		rec.Action, h, mutating = "compute.firewalls.patch", (*Server).gcePatchFirewall, true
	case route.collection == "firewalls" && route.name != "" && r.Method == http.MethodDelete:
		rec.Action, h, mutating = "compute.firewalls.delete", (*Server).gceDeleteFirewall, true
	case route.collection == "operations" && route.name != "" && r.Method == http.MethodGet:
		rec.Action, h = "compute.operations.get", (*Server).gceGetOperation
	default:
		return &gceErr{Code: 405, Status: "INVALID_ARGUMENT", Reason: "badRequest", Message: fmt.Sprintf("method %s is not allowed on %s", r.Method, clipPath(r.URL.Path))}
	}
	if rid, ok := q["requestId"]; ok && (len(rid) != 1 || !uuidRE.MatchString(rid[0]) || rid[0] == "00000000-0000-0000-0000-000000000000") {
		return gceInvalid("Invalid value for field 'requestId': '%s'. The request id must be a valid UUID with the exception that zero UUID is not supported.", clip(strings.Join(rid, ",")))
	}

	s.mu.Lock()
	s.gce.init()
	if s.nth("throttle", s.faults.Throttle) {
		// GCE answers both ways: 403 rateLimitExceeded for a per-user
		// quota, 429 RESOURCE_EXHAUSTED for the API's rate.
		s.gce.throttled++
		code := 403
		if s.gce.throttled%2 == 0 {
			code = 429
		}
		s.mu.Unlock()
		return &gceErr{Code: code, Status: "RESOURCE_EXHAUSTED", Reason: "rateLimitExceeded", Message: "Rate Limit Exceeded"}
	}
	s.advanceLocked()
	s.gceAdvanceLocked()
	// requestId: a request whose id GCE has seen is answered with the
	// operation it started, and does nothing again.
	if rid := q.Get("requestId"); rid != "" && mutating {
		if op, ok := s.gce.requests[rid]; ok {
			out := s.gceOpJSON(op)
			s.mu.Unlock()
			writeGCE(w, out)
			return nil
		}
	}
	out, after, e := h(s, route, q, body)
	if e == nil && mutating {
		if op, ok := out.(*gceOp); ok {
			if rid := q.Get("requestId"); rid != "" {
				s.gce.requests[rid] = op
			}
			out = s.gceOpJSON(op)
		}
	}
	commitThen500 := e == nil && mutating && s.nth("commit500", s.faults.CommitThen500)
	s.mu.Unlock()
	for _, fn := range after {
		fn()
	}
	if e != nil {
		return e
	}
	if commitThen500 {
		return &gceErr{Code: 500, Status: "INTERNAL", Reason: "backendError", Message: "Internal error. Please try again or contact Google Support."}
	}
	writeGCE(w, out)
	return nil
}

// decodeGCE decodes a JSON body strictly, as GCE's front end does: an
// unknown field is refused with its name.
func decodeGCE(body []byte, v any) *gceErr {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return gceInvalid("Invalid JSON payload received. %s", clip(err.Error()))
	}
	if dec.More() {
		return gceInvalid("Invalid JSON payload received. Unexpected data after the object.")
	}
	return nil
}

// int64s is a JSON int64 written as a string (protojson) or a number.
type int64s int64

func (n *int64s) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("invalid int64 value %s", clip(string(b)))
	}
	*n = int64s(v)
	return nil
}

// gceID is a new numeric resource id, as GCE's are.
func gceID() string {
	var b [8]byte
	rand.Read(b[:])
	return strconv.FormatUint(binary.BigEndian.Uint64(b[:])>>1|1<<61, 10)
}

func gceTime(t time.Time) string { return t.Format("2006-01-02T15:04:05.000-07:00") }

func gceSelfLink(project, zone, collection, name string) string {
	if zone == "" {
		return gceBase + "projects/" + project + "/global/" + collection + "/" + name
	}
	return gceBase + "projects/" + project + "/zones/" + zone + "/" + collection + "/" + name
}
