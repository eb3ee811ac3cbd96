package cloudsim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Resource groups and the generic resource lifecycle of ARM: PUT is
// create-or-update by name (201, then 200), GET and lists see a new
// resource only after the EventualConsistency fault lets them, DELETE is
// a long-running operation (202) refused with 409 while another resource
// uses the one deleted, and deleting what does not exist answers 204.

var rgNameRE = regexp.MustCompile(`^[-\w._()]{1,90}$`)

func groupKey(sub, name string) string {
	return strings.ToLower("/subscriptions/" + sub + "/resourcegroups/" + name)
}

func (s *Server) findGroup(sub, name string) (*armGroup, *apiError) {
	g, ok := s.armLocked().groups[groupKey(sub, name)]
	if !ok || !g.deleteAt.IsZero() {
		return nil, armErr(404, "ResourceGroupNotFound", "Resource group '%s' could not be found.", clipStr(name))
	}
	return g, nil
}

func groupJSON(g *armGroup) map[string]any {
	return map[string]any{"id": g.id, "name": g.name, "type": "Microsoft.Resources/resourceGroups", "location": g.location,
		"tags": cloneTags(g.tags), "properties": map[string]any{"provisioningState": g.state()}}
}

func (s *Server) listGroups(req *armReq) (*armAnswer, []func(), *apiError) {
	a := s.armLocked()
	var items []any
	keys := make([]string, 0, len(a.groups))
	for k := range a.groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	prefix := strings.ToLower("/subscriptions/" + req.sub + "/")
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) {
			items = append(items, groupJSON(a.groups[k]))
		}
	}
	page, err := s.armPage(req, items)
	if err != nil {
		return nil, nil, err
	}
	return &armAnswer{status: 200, body: page}, nil, nil
}

// armBody is the envelope of every PUT.
type armBody struct {
	Location   string                 `json:"location"`
	Tags       map[string]string      `json:"tags"`
	Zones      []string               `json:"zones"`
	SKU        *struct{ Name string } `json:"sku"`
	Properties json.RawMessage        `json:"properties"`
}

func decodeBody(b []byte) (*armBody, map[string]any, *apiError) {
	var body armBody
	if len(b) == 0 {
		return nil, nil, armErr(400, "InvalidRequestContent", "The request content is empty; a JSON object is required.")
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, nil, armErr(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: %s.", clipStr(err.Error()))
	}
	props := map[string]any{}
	if len(body.Properties) > 0 && string(body.Properties) != "null" {
		if err := json.Unmarshal(body.Properties, &props); err != nil {
			return nil, nil, armErr(400, "InvalidRequestContent", "The 'properties' of the request are not a JSON object: %s.", clipStr(err.Error()))
		}
	}
	if err := checkARMTags(body.Tags); err != nil {
		return nil, nil, err
	}
	return &body, props, nil
}

// checkARMTags applies ARM's tag limits.
func checkARMTags(tags map[string]string) *apiError {
	if len(tags) > 50 {
		return armErr(400, "InvalidTag", "A resource can have at most 50 tags; %d given.", len(tags))
	}
	for k, v := range tags {
		if k == "" || len(k) > 512 || strings.ContainsAny(k, "<>%&\\?/") {
			return armErr(400, "InvalidTagNameCharacters", "The tag name '%s' is empty, longer than 512 characters or has one of <>%%&\\?/.", clipStr(k))
		}
		if len(v) > 256 {
			return armErr(400, "InvalidTag", "The value of tag '%s' is longer than 256 characters.", clipStr(k))
		}
	}
	return nil
}

func (s *Server) groupRequest(req *armReq, rt armRoute) (*armAnswer, []func(), *apiError) {
	a := s.armLocked()
	key := groupKey(rt.sub, rt.group)
	g, exists := a.groups[key]
	switch req.r.Method {
	case http.MethodGet, http.MethodHead:
		if !exists {
			if req.r.Method == http.MethodHead {
				return &armAnswer{status: 404}, nil, nil
			}
			return nil, nil, armErr(404, "ResourceGroupNotFound", "Resource group '%s' could not be found.", clipStr(rt.group))
		}
		if req.r.Method == http.MethodHead {
			return &armAnswer{status: 204}, nil, nil
		}
		return &armAnswer{status: 200, body: groupJSON(g)}, nil, nil
	case http.MethodPut:
		if !rgNameRE.MatchString(rt.group) || strings.HasSuffix(rt.group, ".") {
			return nil, nil, armErr(400, "InvalidResourceGroupName", "Resource group name '%s' is invalid: 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'.", clipStr(rt.group))
		}
		body, _, err := decodeBody(req.body)
		if err != nil {
			return nil, nil, err
		}
		if !locationRE.MatchString(body.Location) {
			return nil, nil, armErr(400, "LocationRequired", "The location property is required for this definition (a region such as westeurope).")
		}
		if exists && !g.deleteAt.IsZero() {
			return nil, nil, armErr(409, "ResourceGroupBeingDeleted", "The resource group '%s' is in deprovisioning state and cannot perform this operation.", g.name)
		}
		status := 200
		if !exists {
			g = &armGroup{id: "/subscriptions/" + rt.sub + "/resourceGroups/" + rt.group, name: rt.group, location: body.Location}
			a.groups[key] = g
			status = 201
		} else if !strings.EqualFold(g.location, body.Location) {
			return nil, nil, armErr(409, "InvalidResourceGroupLocation", "Invalid resource group location '%s'. The Resource group already exists in location '%s'.", body.Location, g.location)
		}
		g.tags = cloneTags(body.Tags)
		return &armAnswer{status: status, body: groupJSON(g)}, nil, nil
	case http.MethodDelete:
		if !exists {
			return nil, nil, armErr(404, "ResourceGroupNotFound", "Resource group '%s' could not be found.", clipStr(rt.group))
		}
		var after []func()
		if g.deleteAt.IsZero() {
			g.deleteAt = req.now.Add(s.armDelay())
			// Everything in it goes too, virtual machines first.
			for _, r := range a.resources {
				if r.group == key && r.deleteAt.IsZero() {
					after = append(after, s.startDelete(r, req.now)...)
				}
			}
		}
		id := newOpID()
		a.ops[id] = &armOp{id: id, ns: "microsoft.resources", status: func(time.Time) (bool, *apiError) {
			_, still := s.arm.groups[key]
			return !still, nil
		}}
		loc := req.base + "/subscriptions/" + rt.sub + "/operationresults/" + id + "?api-version=" + armAPIVersions["microsoft.resources"]
		return &armAnswer{status: 202, headers: map[string]string{"Location": loc}}, after, nil
	}
	return nil, nil, methodNotAllowed(req.r.Method)
}

// startDelete marks r deleting; a virtual machine's agent stops (after
// the lock is released).
func (s *Server) startDelete(r *armResource, now time.Time) []func() {
	r.deleteAt = now.Add(s.armDelay())
	if r.inst == nil {
		return nil
	}
	in := r.inst
	if in.State != "terminated" {
		in.State, in.TerminatedAt = "shutting-down", now
		in.StateReason = "Client.UserInitiatedShutdown: VM deleted"
	}
	if p := stopLocked(in); p != nil {
		return []func(){func() { p.Stop(context.Background()) }}
	}
	return nil
}

// armAdvanceLocked removes what finished deleting, and names a failed VM's
// reason as Azure does.
func (s *Server) armAdvanceLocked(now time.Time) {
	a := s.armLocked()
	for k, r := range a.resources {
		if in := r.inst; in != nil && in.willFail && in.State == "terminated" && strings.HasPrefix(in.StateReason, "Server.") {
			in.StateReason = "AllocationFailed: Allocation failed. We do not have sufficient capacity for the requested VM size in this region."
		}
		if !r.deleteAt.IsZero() && !now.Before(r.deleteAt) {
			delete(a.resources, k)
		}
	}
	for k, g := range a.groups {
		if !g.deleteAt.IsZero() && !now.Before(g.deleteAt) {
			delete(a.groups, k)
			for rk, r := range a.resources {
				if r.group == k {
					delete(a.resources, rk)
				}
			}
		}
	}
}

var locationRE = regexp.MustCompile(`^[a-z][a-z0-9]{2,30}$`)

// provisioningState is r's provisioningState now.
func (s *Server) provisioningState(r *armResource, now time.Time) string {
	switch {
	case !r.deleteAt.IsZero():
		return "Deleting"
	case r.inst != nil && r.inst.State == "pending":
		return "Creating"
	case r.inst != nil && r.inst.willFail:
		return "Failed"
	case now.Before(r.readyAt):
		return "Updating"
	}
	return "Succeeded"
}

// resourceJSON renders r as ARM does.
func (s *Server) resourceJSON(r *armResource, now time.Time, expand string) map[string]any {
	props := deepCopy(r.props)
	props["provisioningState"] = s.provisioningState(r, now)
	if r.inst != nil && strings.EqualFold(expand, "instanceView") {
		props["instanceView"] = vmInstanceView(s.provisioningState(r, now), r.inst)
	}
	if r.typ == "Microsoft.Network/networkInterfaces" {
		// The virtual machine using it, as ARM reports it.
		for _, o := range s.arm.resources {
			if o.inst != nil && containsRef(o.refs, strings.ToLower(r.id)) {
				props["virtualMachine"] = map[string]any{"id": o.id}
			}
		}
	}
	out := map[string]any{"id": r.id, "name": r.name, "type": r.typ, "location": r.location, "properties": props}
	if len(r.tags) > 0 {
		out["tags"] = cloneTags(r.tags)
	}
	if r.etag != "" {
		out["etag"] = r.etag
	}
	if len(r.zones) > 0 {
		out["zones"] = append([]string(nil), r.zones...)
	}
	return out
}

func containsRef(refs []string, id string) bool {
	for _, r := range refs {
		if r == id {
			return true
		}
	}
	return false
}

func deepCopy(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	json.Unmarshal(b, &out)
	if out == nil {
		out = map[string]any{}
	}
	return out
}

func resourceKey(rt armRoute) string {
	return strings.ToLower(fmt.Sprintf("/subscriptions/%s/resourcegroups/%s/providers/%s/%s/%s", rt.sub, rt.group, rt.ns, rt.typ, rt.name))
}

var resourceNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,78}[A-Za-z0-9_]$|^[A-Za-z0-9]$`)

// resourceRequest serves GET, PUT and DELETE on one resource.
func (s *Server) resourceRequest(req *armReq, rt armRoute) (*armAnswer, []func(), *apiError) {
	a := s.armLocked()
	gk := groupKey(rt.sub, rt.group)
	if _, err := s.findGroup(rt.sub, rt.group); err != nil {
		if req.r.Method == http.MethodDelete {
			return nil, nil, err
		}
		return nil, nil, err
	}
	typ := canonicalType(rt.ns, rt.typ)
	key := resourceKey(rt)
	r, exists := a.resources[key]
	notFound := armErr(404, "ResourceNotFound", "The Resource '%s/%s' under resource group '%s' was not found.", typ, clipStr(rt.name), clipStr(rt.group))
	if exists && r.hiddenFor > 0 && req.r.Method == http.MethodGet {
		r.hiddenFor--
		return nil, nil, notFound
	}
	if err := checkPreconditions(req.r, r, exists); err != nil {
		return nil, nil, err
	}
	switch req.r.Method {
	case http.MethodGet:
		if !exists {
			return nil, nil, notFound
		}
		return &armAnswer{status: 200, body: s.resourceJSON(r, req.now, req.query.Get("$expand"))}, nil, nil
	case http.MethodDelete:
		if !exists {
			return &armAnswer{status: 204}, nil, nil
		}
		var after []func()
		if r.deleteAt.IsZero() {
			if err := s.inUse(r); err != nil {
				return nil, nil, err
			}
			after = s.startDelete(r, req.now)
		}
		headers := s.newOp(req, rt.ns, r.location, func(time.Time) (bool, *apiError) {
			_, still := s.arm.resources[key]
			return !still, nil
		})
		return &armAnswer{status: 202, headers: headers}, after, nil
	case http.MethodPut:
		if !resourceNameRE.MatchString(rt.name) {
			return nil, nil, armErr(400, "InvalidResourceName", "Resource name %s is invalid. The name can be up to 80 characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'.", clipStr(rt.name))
		}
		body, props, err := decodeBody(req.body)
		if err != nil {
			return nil, nil, err
		}
		if !locationRE.MatchString(body.Location) {
			return nil, nil, armErr(400, "LocationRequired", "The location property is required for this definition (a region such as westeurope).")
		}
		if exists && !r.deleteAt.IsZero() {
			return nil, nil, armErr(409, "AnotherOperationInProgress", "Operation PutResource on %s cannot be performed while it is being deleted.", r.id)
		}
		if exists && !strings.EqualFold(r.location, body.Location) {
			return nil, nil, armErr(400, "InvalidResourceLocation", "The resource '%s' already exists in location '%s'. A resource with the same name cannot be created in location '%s'.", r.name, r.location, body.Location)
		}
		nr := &armResource{id: fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/%s/%s", rt.sub, rt.group, typ, rt.name),
			name: rt.name, typ: typ, location: body.Location, group: gk, tags: cloneTags(body.Tags), props: props, etag: `W/"` + newOpID() + `"`}
		if exists {
			nr.id, nr.name = r.id, r.name
		}
		var after []func()
		switch typ {
		case "Microsoft.Network/virtualNetworks":
			err = s.putVNet(nr, r)
		case "Microsoft.Network/networkSecurityGroups":
			err = s.putNSG(nr)
		case "Microsoft.Network/publicIPAddresses":
			err = s.putPIP(nr, r, body)
		case "Microsoft.Network/networkInterfaces":
			err = s.putNIC(nr, r)
		case "Microsoft.Compute/virtualMachines":
			after, err = s.putVM(nr, r, body, req.now)
		}
		if err != nil {
			return nil, nil, err
		}
		status := 201
		if exists {
			status = 200
		} else {
			nr.hiddenFor = s.faults.EventualConsistency
		}
		if nr.inst == nil {
			nr.readyAt = req.now
			if typ != "Microsoft.Network/networkInterfaces" {
				nr.readyAt = req.now.Add(s.armDelay())
			}
		}
		a.resources[key] = nr
		var headers map[string]string
		if inst := nr.inst; inst != nil {
			headers = s.newOp(req, rt.ns, nr.location, func(time.Time) (bool, *apiError) {
				switch {
				case inst.State == "pending":
					return false, nil
				case inst.willFail:
					return true, armErr(409, "AllocationFailed", "Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance")
				}
				return true, nil
			})
		} else {
			ready := nr.readyAt
			headers = s.newOp(req, rt.ns, nr.location, func(now time.Time) (bool, *apiError) { return !now.Before(ready), nil })
		}
		return &armAnswer{status: status, headers: headers, body: s.resourceJSON(nr, req.now, "")}, after, nil
	}
	return nil, nil, methodNotAllowed(req.r.Method)
}

// checkPreconditions applies If-Match and If-None-Match against r's etag.
func checkPreconditions(r *http.Request, res *armResource, exists bool) *apiError {
	if m := r.Header.Get("If-Match"); m != "" {
		if !exists || (m != "*" && m != res.etag) {
			return armErr(412, "PreconditionFailed", "The condition specified using HTTP conditional header(s) is not met (If-Match %s).", clipStr(m))
		}
	}
	if m := r.Header.Get("If-None-Match"); m != "" && exists && (m == "*" || m == res.etag) {
		return armErr(412, "PreconditionFailed", "The condition specified using HTTP conditional header(s) is not met (If-None-Match %s).", clipStr(m))
	}
	return nil
}

// inUse refuses deleting r while another resource refers to it (or, for
// a virtual network, to one of its subnets).
func (s *Server) inUse(r *armResource) *apiError {
	id := strings.ToLower(r.id)
	var users []string
	for _, o := range s.arm.resources {
		if o == r {
			continue
		}
		for _, ref := range o.refs {
			if ref == id || strings.HasPrefix(ref, id+"/") {
				users = append(users, o.id)
			}
		}
	}
	if len(users) == 0 {
		return nil
	}
	sort.Strings(users)
	switch r.typ {
	case "Microsoft.Network/networkInterfaces":
		return armErr(409, "NicInUse", "Network Interface %s is used by existing resource %s. In order to delete the network interface, it must be dissociated from the resource.", r.id, users[0])
	case "Microsoft.Network/publicIPAddresses":
		return armErr(409, "PublicIPAddressCannotBeDeleted", "Public IP address %s can not be deleted since it is still allocated to resource %s.", r.id, users[0])
	case "Microsoft.Network/networkSecurityGroups":
		return armErr(409, "InUseNetworkSecurityGroupCannotBeDeleted", "Network security group %s cannot be deleted because it is in use by the following resources: %s.", r.id, strings.Join(users, ", "))
	case "Microsoft.Network/virtualNetworks":
		return armErr(409, "InUseSubnetCannotBeDeleted", "Subnet of %s is in use by %s and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet.", r.id, users[0])
	}
	return armErr(409, "ResourceInUse", "%s is in use by %s.", r.id, users[0])
}

// listResources lists a type in a resource group or the subscription.
func (s *Server) listResources(req *armReq, rt armRoute) (*armAnswer, []func(), *apiError) {
	a := s.armLocked()
	typ := canonicalType(rt.ns, rt.typ)
	prefix := strings.ToLower("/subscriptions/" + rt.sub + "/")
	if rt.kind == "list" {
		if _, err := s.findGroup(rt.sub, rt.group); err != nil {
			return nil, nil, err
		}
		prefix = groupKey(rt.sub, rt.group) + "/"
	}
	if req.query.Get("$expand") != "" && rt.kind == "list" && req.query.Get("$filter") == "" {
		return nil, nil, badParam("$expand", "The $expand option 'instanceView' on a resource group's list of virtual machines can only be specified with a valid $filter option.")
	}
	var matched []*armResource
	for k, r := range a.resources {
		if r.typ != typ || !strings.HasPrefix(k, prefix) {
			continue
		}
		if r.hiddenFor > 0 {
			r.hiddenFor--
			continue
		}
		matched = append(matched, r)
	}
	sort.Slice(matched, func(i, j int) bool { return strings.ToLower(matched[i].id) < strings.ToLower(matched[j].id) })
	items := make([]any, len(matched))
	for i, r := range matched {
		items[i] = s.resourceJSON(r, req.now, req.query.Get("$expand"))
	}
	page, err := s.armPage(req, items)
	if err != nil {
		return nil, nil, err
	}
	return &armAnswer{status: 200, body: page}, nil, nil
}

// getSubnet answers GET on a virtual network's subnet.
func (s *Server) getSubnet(req *armReq, rt armRoute) (*armAnswer, []func(), *apiError) {
	if _, err := s.findGroup(rt.sub, rt.group); err != nil {
		return nil, nil, err
	}
	r, ok := s.armLocked().resources[resourceKey(rt)]
	if ok && r.hiddenFor == 0 {
		subnets, _ := r.props["subnets"].([]any)
		for _, sn := range subnets {
			if m, _ := sn.(map[string]any); m != nil && strings.EqualFold(fmt.Sprint(m["name"]), rt.child[1]) {
				out := deepCopy(m)
				return &armAnswer{status: 200, body: out}, nil, nil
			}
		}
	}
	return nil, nil, armErr(404, "NotFound", "Resource %s/subnets/%s not found.", resourceKey(rt), clipStr(rt.child[1]))
}
