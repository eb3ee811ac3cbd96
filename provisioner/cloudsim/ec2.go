package cloudsim

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

const (
	ec2Version = "2016-11-15"
	ec2NS      = "http://ec2.amazonaws.com/doc/2016-11-15/"
	ownerID    = "123456789012"
	// maxUserData is EC2's limit on user data before base64.
	maxUserData = 16 << 10
	maxForm     = 1 << 20
)

// apiError is a cloud error: HTTP status, code and message.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func invalidParam(format string, args ...any) *apiError {
	return &apiError{Status: 400, Code: "InvalidParameterValue", Message: fmt.Sprintf(format, args...)}
}

func missingParam(name string) *apiError {
	return &apiError{Status: 400, Code: "MissingParameter", Message: fmt.Sprintf("The request must contain the parameter %s", name)}
}

// ec2Mutating are the actions that change state (CommitThen500 applies to
// them).
var ec2Mutating = map[string]bool{
	"RunInstances": true, "TerminateInstances": true, "CreateSecurityGroup": true,
	"AuthorizeSecurityGroupIngress": true, "DeleteSecurityGroup": true, "CreateTags": true,
}

// sigV4RE is the shape of a SigV4 Authorization header for EC2.
var sigV4RE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([A-Za-z0-9]{16,128})/(\d{8})/([a-z0-9-]+)/ec2/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=[0-9a-f]{64}$`)

// serveEC2 serves the EC2 Query API: a form-encoded POST signed with
// SigV4, answered in EC2's XML.
func (s *Server) serveEC2(w http.ResponseWriter, r *http.Request) {
	rec := Request{Time: s.cfg.Now(), Cloud: "aws", Method: r.Method, Path: r.URL.Path}
	status, code := s.handleEC2(w, r, &rec)
	rec.Status, rec.Error = status, code
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
}

func (s *Server) handleEC2(w http.ResponseWriter, r *http.Request, rec *Request) (int, string) {
	requestID := newRequestID()
	fail := func(e *apiError) (int, string) {
		writeEC2Error(w, e, requestID)
		return e.Status, e.Code
	}
	if r.Method != http.MethodPost {
		return fail(&apiError{Status: 400, Code: "InvalidHttpRequest", Message: "The EC2 Query API takes POST requests (form-encoded)."})
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return fail(&apiError{Status: 400, Code: "InvalidHttpRequest", Message: fmt.Sprintf("Content-Type %q: want application/x-www-form-urlencoded", ct)})
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxForm+1))
	if err != nil || len(body) > maxForm {
		return fail(&apiError{Status: 400, Code: "InvalidHttpRequest", Message: "request body unreadable or above 1 MiB"})
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return fail(&apiError{Status: 400, Code: "MalformedQueryString", Message: "The query string is malformed: " + err.Error()})
	}
	f := form(vals)
	rec.Action = f.get("Action")

	// Authentication: EC2 refuses an unsigned or malformed request before
	// anything else. The signature itself cannot be checked without the
	// secret; its shape, the scope's service and the date header can.
	authz := r.Header.Get("Authorization")
	rec.Auth, _, _ = strings.Cut(authz, " ")
	m := sigV4RE.FindStringSubmatch(authz)
	if authz == "" {
		return fail(&apiError{Status: 401, Code: "AuthFailure", Message: "AWS was not able to validate the provided access credentials (no Authorization header)."})
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if m == nil || !strings.Contains(";"+m[4]+";", ";host;") || !strings.Contains(";"+m[4]+";", ";x-amz-date;") || len(amzDate) != 16 || !strings.HasPrefix(amzDate, m[2]) {
		return fail(&apiError{Status: 401, Code: "AuthFailure", Message: "AWS was not able to validate the provided access credentials (malformed SigV4 Authorization or X-Amz-Date)."})
	}
	rec.AuthOK = true
	region := m[3]

	if f.get("Version") != ec2Version {
		return fail(&apiError{Status: 400, Code: "InvalidParameterValue", Message: fmt.Sprintf("Version %q is not supported; want %s", f.get("Version"), ec2Version)})
	}
	handler, ok := ec2Actions[rec.Action]
	if !ok {
		return fail(&apiError{Status: 400, Code: "InvalidAction", Message: fmt.Sprintf("The action %s is not valid for this web service.", rec.Action)})
	}

	s.mu.Lock()
	if s.nth("throttle", s.faults.Throttle) {
		s.mu.Unlock()
		return fail(&apiError{Status: 503, Code: "RequestLimitExceeded", Message: "Request limit exceeded."})
	}
	s.advanceLocked()
	out, after, apiErr := handler(s, f, region)
	commitThen500 := apiErr == nil && ec2Mutating[rec.Action] && s.nth("commit500", s.faults.CommitThen500)
	s.mu.Unlock()
	for _, fn := range after {
		fn()
	}
	if apiErr != nil {
		return fail(apiErr)
	}
	if commitThen500 {
		return fail(&apiError{Status: 500, Code: "InternalError", Message: "An internal error has occurred."})
	}
	writeEC2(w, rec.Action, requestID, out)
	return http.StatusOK, ""
}

// ec2Handler runs one action under s.mu; after runs once the lock is
// released (stopping agents, booting instances).
type ec2Handler func(s *Server, f form, region string) (out any, after []func(), err *apiError)

var ec2Actions map[string]ec2Handler

func init() {
	ec2Actions = map[string]ec2Handler{
		"RunInstances":                  (*Server).runInstances,
		"DescribeInstances":             (*Server).describeInstances,
		"TerminateInstances":            (*Server).terminateInstances,
		"CreateSecurityGroup":           (*Server).createSecurityGroup,
		"DescribeSecurityGroups":        (*Server).describeSecurityGroups,
		"AuthorizeSecurityGroupIngress": (*Server).authorizeIngress,
		"DeleteSecurityGroup":           (*Server).deleteSecurityGroup,
		"CreateTags":                    (*Server).createTags,
	}
}

var (
	amiRE          = regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`)
	instanceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
)

func (s *Server) runInstances(f form, region string) (any, []func(), *apiError) {
	image, itype := f.get("ImageId"), f.get("InstanceType")
	if image == "" {
		return nil, nil, missingParam("ImageId")
	}
	if !amiRE.MatchString(image) {
		return nil, nil, &apiError{Status: 400, Code: "InvalidAMIID.Malformed", Message: fmt.Sprintf("Invalid id: \"%s\" (expecting \"ami-...\")", image)}
	}
	if itype == "" {
		return nil, nil, missingParam("InstanceType")
	}
	if !instanceTypeRE.MatchString(itype) {
		return nil, nil, &apiError{Status: 400, Code: "InvalidInstanceType", Message: fmt.Sprintf("The instance type '%s' does not exist", itype)}
	}
	minCount, e1 := f.intParam("MinCount", -1)
	maxCount, e2 := f.intParam("MaxCount", -1)
	if e1 != nil {
		return nil, nil, e1
	}
	if e2 != nil {
		return nil, nil, e2
	}
	if minCount < 0 {
		return nil, nil, missingParam("MinCount")
	}
	if maxCount < 0 {
		return nil, nil, missingParam("MaxCount")
	}
	if minCount < 1 || maxCount < minCount || maxCount > 20 {
		return nil, nil, invalidParam("MinCount (%d) and MaxCount (%d): want 1 <= MinCount <= MaxCount <= 20", minCount, maxCount)
	}
	token := f.get("ClientToken")
	if len(token) > 64 || strings.IndexFunc(token, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		return nil, nil, invalidParam("ClientToken: at most 64 printable ASCII characters")
	}
	var userData []byte
	if raw := f.get("UserData"); raw != "" {
		d, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return nil, nil, invalidParam("Invalid BASE64 encoding of user data.")
		}
		if len(d) > maxUserData {
			return nil, nil, invalidParam("User data is limited to %d bytes; got %d.", maxUserData, len(d))
		}
		userData = d
	}
	groupIDs := f.list("SecurityGroupId")
	for _, g := range groupIDs {
		if _, ok := s.groups[g]; !ok {
			return nil, nil, &apiError{Status: 400, Code: "InvalidGroup.NotFound", Message: fmt.Sprintf("The security group '%s' does not exist", g)}
		}
	}
	var instTags map[string]string
	for _, p := range f.items("TagSpecification") {
		rt := f.get(p + "ResourceType")
		t, err := f.tags(p + "Tag")
		if err != nil {
			return nil, nil, err
		}
		switch rt {
		case "instance":
			instTags = t
		case "volume", "network-interface":
		default:
			return nil, nil, invalidParam("TagSpecification: resource type '%s' cannot be tagged by RunInstances", rt)
		}
	}
	zone := f.get("Placement.AvailabilityZone")
	if zone == "" {
		zone = region + "a"
	} else if !strings.HasPrefix(zone, region) || len(zone) != len(region)+1 {
		return nil, nil, &apiError{Status: 400, Code: "InvalidParameterValue", Message: fmt.Sprintf("Invalid availability zone: [%s]", zone)}
	}
	disk := 8
	for _, p := range f.items("BlockDeviceMapping") {
		if v := f.get(p + "Ebs.VolumeSize"); v != "" {
			n, err := f.intParam(p+"Ebs.VolumeSize", 0)
			if err != nil || n < 1 || n > 16384 {
				return nil, nil, invalidParam("Volume size %s: want 1-16384 GiB", v)
			}
			disk = n
		}
	}

	// Idempotency: the same token with the same parameters answers the
	// original reservation; with others, a mismatch.
	// The comparison is semantic: the order of tags or groups in the
	// request does not matter, as on EC2.
	h := sha256.New()
	sortedGroups := append([]string(nil), groupIDs...)
	sort.Strings(sortedGroups)
	fmt.Fprintf(h, "%s\n%s\n%d-%d\n%s\n%d\n%x\n%q\n", image, itype, minCount, maxCount, zone, disk, sha256.Sum256(userData), sortedGroups)
	for _, k := range sortedKeys(instTags) {
		fmt.Fprintf(h, "%q=%q\n", k, instTags[k])
	}
	hash := hex.EncodeToString(h.Sum(nil))
	if token != "" {
		if l, ok := s.tokens[token]; ok {
			if l.paramsHash != hash {
				return nil, nil, &apiError{Status: 400, Code: "IdempotentParameterMismatch", Message: "The client token you have provided is associated with a resource that is already deleted or its parameters differ. Please use a different client token."}
			}
			return s.reservationXML(l.reservationID, l.instanceIDs), nil, nil
		}
	}

	now := s.cfg.Now()
	l := &launch{paramsHash: hash, reservationID: newID("r-")}
	var after []func()
	for i := 0; i < maxCount; i++ {
		ip, err := s.allocIP()
		if err != nil {
			return nil, nil, &apiError{Status: 400, Code: "InsufficientFreeAddressesInSubnet", Message: err.Error()}
		}
		in := &Instance{
			ID: newID("i-"), Cloud: "aws", Region: region, Zone: zone, ImageID: image, InstanceType: itype,
			PrivateIP: ip, ClientToken: token, GroupIDs: groupIDs, Tags: cloneTags(instTags), UserData: userData,
			DiskGB: disk, LaunchTime: now, State: "pending", hiddenFor: s.faults.EventualConsistency,
		}
		in.willFail = s.nth("faillaunch", s.faults.FailLaunch)
		s.instances[in.ID] = in
		l.instanceIDs = append(l.instanceIDs, in.ID)
		id := in.ID
		after = append(after, func() { time.AfterFunc(s.cfg.PendingFor, func() { s.boot(id) }) })
	}
	if token != "" {
		s.tokens[token] = l
	}
	return s.reservationXML(l.reservationID, l.instanceIDs), after, nil
}

func (s *Server) describeInstances(f form, region string) (any, []func(), *apiError) {
	ids := f.list("InstanceId")
	filters, err := f.filters()
	if err != nil {
		return nil, nil, err
	}
	max, err := f.intParam("MaxResults", 0)
	if err != nil {
		return nil, nil, err
	}
	if f.has("MaxResults") {
		if len(ids) > 0 {
			return nil, nil, invalidParam("The parameter instancesSet cannot be used with the parameter maxResults")
		}
		if max < 5 || max > 1000 {
			return nil, nil, invalidParam("Value ( %d ) for parameter maxResults is invalid. Expecting a value greater than 5.", max)
		}
	}
	for _, fl := range filters {
		if !strings.HasPrefix(fl.name, "tag:") && !contains([]string{"tag-key", "instance-state-name", "instance-id", "client-token", "private-ip-address"}, fl.name) {
			return nil, nil, &apiError{Status: 400, Code: "InvalidParameterValue", Message: fmt.Sprintf("The filter '%s' is invalid", fl.name)}
		}
	}
	var matched []*Instance
	if len(ids) > 0 {
		var missing []string
		for _, id := range ids {
			in, ok := s.instances[id]
			if !ok || in.Region != region || in.hiddenFor > 0 {
				missing = append(missing, id)
				if ok && in.hiddenFor > 0 {
					in.hiddenFor--
				}
				continue
			}
			matched = append(matched, in)
		}
		if len(missing) > 0 {
			return nil, nil, &apiError{Status: 400, Code: "InvalidInstanceID.NotFound", Message: fmt.Sprintf("The instance IDs '%s' do not exist", strings.Join(missing, ", "))}
		}
	} else {
		for _, in := range s.instances {
			if in.Region != region {
				continue
			}
			if in.hiddenFor > 0 {
				in.hiddenFor--
				continue
			}
			matched = append(matched, in)
		}
	}
	var out []*Instance
	for _, in := range matched {
		if instanceMatches(in, filters) {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LaunchTime.Equal(out[j].LaunchTime) {
			return out[i].LaunchTime.Before(out[j].LaunchTime)
		}
		return out[i].ID < out[j].ID
	})
	pageItems, next, err := page(out, f.get("NextToken"), max, s.faults.PageSize)
	if err != nil {
		return nil, nil, err
	}
	resp := &describeInstancesXML{NextToken: next}
	for _, in := range pageItems {
		resp.Reservations = append(resp.Reservations, reservationXML{
			ReservationID: "r-" + strings.TrimPrefix(in.ID, "i-"), OwnerID: ownerID,
			Instances: []instanceXML{s.instanceXML(in)},
		})
	}
	return resp, nil, nil
}

// instanceMatches applies filters whose names describeInstances checked.
func instanceMatches(in *Instance, filters []filter) bool {
	for _, fl := range filters {
		var ok bool
		switch {
		case strings.HasPrefix(fl.name, "tag:"):
			v, has := in.Tags[strings.TrimPrefix(fl.name, "tag:")]
			ok = has && fl.matchesAny(v)
		case fl.name == "tag-key":
			for k := range in.Tags {
				if fl.matchesAny(k) {
					ok = true
				}
			}
		case fl.name == "instance-state-name":
			ok = fl.matchesAny(in.State)
		case fl.name == "instance-id":
			ok = fl.matchesAny(in.ID)
		case fl.name == "client-token":
			ok = fl.matchesAny(in.ClientToken)
		case fl.name == "private-ip-address":
			ok = fl.matchesAny(in.PrivateIP)
		}
		if !ok {
			return false
		}
	}
	return true
}

func (s *Server) terminateInstances(f form, region string) (any, []func(), *apiError) {
	ids := f.list("InstanceId")
	if len(ids) == 0 {
		return nil, nil, missingParam("InstanceId")
	}
	for _, id := range ids {
		if in, ok := s.instances[id]; !ok || in.Region != region {
			return nil, nil, &apiError{Status: 400, Code: "InvalidInstanceID.NotFound", Message: fmt.Sprintf("The instance ID '%s' does not exist", id)}
		}
	}
	resp := &terminateXML{}
	var after []func()
	now := s.cfg.Now()
	for _, id := range ids {
		in := s.instances[id]
		prev := in.State
		if in.State != "terminated" {
			in.State, in.TerminatedAt = "shutting-down", now
			in.StateReason = "Client.UserInitiatedShutdown: User initiated shutdown"
			if p := stopLocked(in); p != nil {
				after = append(after, func() { p.Stop(context.Background()) })
			}
		}
		resp.Items = append(resp.Items, stateChangeXML{InstanceID: id, Current: stateXML(in.State), Previous: stateXML(prev)})
	}
	return resp, after, nil
}

// reservationXML answers RunInstances.
func (s *Server) reservationXML(reservationID string, ids []string) any {
	r := &runInstancesXML{ReservationID: reservationID, OwnerID: ownerID}
	for _, id := range ids {
		if in, ok := s.instances[id]; ok {
			r.Instances = append(r.Instances, s.instanceXML(in))
		}
	}
	return r
}

func (s *Server) instanceXML(in *Instance) instanceXML {
	x := instanceXML{
		InstanceID: in.ID, ImageID: in.ImageID, InstanceType: in.InstanceType, State: stateXML(in.State),
		PrivateIP: in.PrivateIP, ClientToken: in.ClientToken, LaunchTime: in.LaunchTime.UTC().Format(time.RFC3339),
		Placement: placementXML{AvailabilityZone: in.Zone}, Tags: tagSetXML(in.Tags),
	}
	if in.StateReason != "" {
		code, msg, _ := strings.Cut(in.StateReason, ": ")
		x.StateReason = &stateReasonXML{Code: code, Message: msg}
	}
	for _, g := range in.GroupIDs {
		name := ""
		if sg, ok := s.groups[g]; ok {
			name = sg.Name
		}
		x.Groups = append(x.Groups, groupIdentifierXML{GroupID: g, GroupName: name})
	}
	return x
}

// stateXML is EC2's numeric and named instance state.
func stateXML(name string) instanceStateXML {
	codes := map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
	return instanceStateXML{Code: codes[name], Name: name}
}

func tagSetXML(m map[string]string) []tagXML {
	var out []tagXML
	for _, k := range sortedKeys(m) {
		out = append(out, tagXML{Key: k, Value: m[k]})
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func newRequestID() string {
	id := newID("")
	return id[:8] + "-" + id[8:12] + "-4" + id[12:15] + "-8" + id[15:17] + "0-000000000000"
}

func writeEC2(w http.ResponseWriter, action, requestID string, out any) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	body, err := xml.Marshal(out)
	if err != nil {
		panic(err) // our own types always marshal
	}
	// Every answer is <ActionResponse xmlns=…><requestId/>…</ActionResponse>.
	inner := strings.TrimSuffix(strings.TrimPrefix(string(body), "<r>"), "</r>")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<%sResponse xmlns="%s"><requestId>%s</requestId>%s</%sResponse>`, action, ec2NS, requestID, inner, action)
}

func writeEC2Error(w http.ResponseWriter, e *apiError, requestID string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(e.Status)
	var msg strings.Builder
	xml.EscapeText(&msg, []byte(e.Message))
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`, e.Code, msg.String(), requestID)
}
