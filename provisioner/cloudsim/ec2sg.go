package cloudsim

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
)

// SecurityGroup is a simulated EC2 security group.
type SecurityGroup struct {
	ID          string
	Name        string
	Description string
	Region      string
	VpcID       string
	Tags        map[string]string
	Ingress     []Permission
	hiddenFor   int
}

// Permission is one ingress rule: a protocol and port range from a CIDR or
// from the members of a security group.
type Permission struct {
	Protocol string
	FromPort int
	ToPort   int
	CIDR     string
	GroupID  string
}

var groupNameRE = regexp.MustCompile(`^[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{1,255}$`)

func (s *Server) createSecurityGroup(f form, region string) (any, []func(), *apiError) {
	name, desc := f.get("GroupName"), f.get("GroupDescription")
	if name == "" {
		return nil, nil, missingParam("GroupName")
	}
	if desc == "" {
		return nil, nil, missingParam("GroupDescription")
	}
	if !groupNameRE.MatchString(name) || len(name) > 255 {
		return nil, nil, invalidParam("Invalid security group name: %q", name)
	}
	if len(name) >= 3 && name[:3] == "sg-" {
		return nil, nil, invalidParam("Group names may not be in the format sg-*")
	}
	for _, g := range s.groups {
		if g.Region == region && g.Name == name {
			return nil, nil, &apiError{Status: 400, Code: "InvalidGroup.Duplicate", Message: fmt.Sprintf("The security group '%s' already exists for VPC '%s'", name, g.VpcID)}
		}
	}
	tags := map[string]string{}
	for _, p := range f.items("TagSpecification") {
		if rt := f.get(p + "ResourceType"); rt != "security-group" {
			return nil, nil, invalidParam("TagSpecification: resource type '%s' is not a security-group", rt)
		}
		t, err := f.tags(p + "Tag")
		if err != nil {
			return nil, nil, err
		}
		tags = t
	}
	vpc := f.get("VpcId")
	if vpc == "" {
		vpc = "vpc-default0"
	}
	g := &SecurityGroup{ID: newID("sg-"), Name: name, Description: desc, Region: region, VpcID: vpc, Tags: tags, hiddenFor: s.faults.EventualConsistency}
	s.groups[g.ID] = g
	return &createGroupXML{GroupID: g.ID, Tags: tagSetXML(tags)}, nil, nil
}

func (s *Server) describeSecurityGroups(f form, region string) (any, []func(), *apiError) {
	ids, names := f.list("GroupId"), f.list("GroupName")
	filters, err := f.filters()
	if err != nil {
		return nil, nil, err
	}
	max, err := f.intParam("MaxResults", 0)
	if err != nil {
		return nil, nil, err
	}
	var out []*SecurityGroup
	for _, id := range ids {
		g, ok := s.groups[id]
		if !ok || g.Region != region || g.hiddenFor > 0 {
			if ok && g.hiddenFor > 0 {
				g.hiddenFor--
			}
			return nil, nil, &apiError{Status: 400, Code: "InvalidGroup.NotFound", Message: fmt.Sprintf("The security group '%s' does not exist", id)}
		}
	}
	for _, g := range s.groups {
		if g.Region != region {
			continue
		}
		if len(ids) == 0 && g.hiddenFor > 0 {
			g.hiddenFor--
			continue
		}
		if len(ids) > 0 && !contains(ids, g.ID) || len(names) > 0 && !contains(names, g.Name) {
			continue
		}
		ok := true
		for _, fl := range filters {
			switch {
			case fl.name == "group-name":
				ok = ok && fl.matchesAny(g.Name)
			case fl.name == "group-id":
				ok = ok && fl.matchesAny(g.ID)
			case fl.name == "vpc-id":
				ok = ok && fl.matchesAny(g.VpcID)
			case len(fl.name) > 4 && fl.name[:4] == "tag:":
				v, has := g.Tags[fl.name[4:]]
				ok = ok && has && fl.matchesAny(v)
			default:
				return nil, nil, invalidParam("The filter '%s' is invalid", fl.name)
			}
		}
		if ok {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	items, next, err := page(out, f.get("NextToken"), max, s.faults.PageSize)
	if err != nil {
		return nil, nil, err
	}
	resp := &describeGroupsXML{NextToken: next}
	for _, g := range items {
		x := securityGroupXML{OwnerID: ownerID, GroupID: g.ID, GroupName: g.Name, Description: g.Description, VpcID: g.VpcID, Tags: tagSetXML(g.Tags)}
		for _, p := range g.Ingress {
			px := permissionXML{Protocol: p.Protocol, FromPort: p.FromPort, ToPort: p.ToPort}
			if p.GroupID != "" {
				px.Groups = []groupPairXML{{UserID: ownerID, GroupID: p.GroupID}}
			} else {
				px.Ranges = []ipRangeXML{{CidrIP: p.CIDR}}
			}
			x.Ingress = append(x.Ingress, px)
		}
		resp.Groups = append(resp.Groups, x)
	}
	return resp, nil, nil
}

func (s *Server) authorizeIngress(f form, region string) (any, []func(), *apiError) {
	id := f.get("GroupId")
	if id == "" {
		return nil, nil, missingParam("GroupId")
	}
	g, ok := s.groups[id]
	if !ok || g.Region != region {
		return nil, nil, &apiError{Status: 400, Code: "InvalidGroup.NotFound", Message: fmt.Sprintf("The security group '%s' does not exist", id)}
	}
	var add []Permission
	perms := f.items("IpPermissions")
	if len(perms) == 0 {
		return nil, nil, missingParam("IpPermissions")
	}
	for _, p := range perms {
		proto := f.get(p + "IpProtocol")
		if proto != "tcp" && proto != "udp" && proto != "icmp" && proto != "-1" && proto != "6" && proto != "17" {
			return nil, nil, &apiError{Status: 400, Code: "InvalidParameterValue", Message: fmt.Sprintf("Invalid value '%s' for IP protocol. Unknown protocol.", proto)}
		}
		from, e1 := f.intParam(p+"FromPort", -1)
		to, e2 := f.intParam(p+"ToPort", -1)
		if e1 != nil || e2 != nil || (proto == "tcp" || proto == "udp") && (from < 0 || to > 65535 || from > to) {
			return nil, nil, invalidParam("Invalid port range %s-%s", f.get(p+"FromPort"), f.get(p+"ToPort"))
		}
		base := Permission{Protocol: proto, FromPort: from, ToPort: to}
		for _, r := range f.items(p + "IpRanges") {
			cidr := f.get(r + "CidrIp")
			pfx, err := netip.ParsePrefix(cidr)
			if err != nil || !pfx.Addr().Is4() {
				return nil, nil, &apiError{Status: 400, Code: "InvalidParameterValue", Message: fmt.Sprintf("CIDR block %s is malformed", cidr)}
			}
			perm := base
			perm.CIDR = cidr
			add = append(add, perm)
		}
		for _, r := range f.items(p + "Groups") {
			gid := f.get(r + "GroupId")
			if _, ok := s.groups[gid]; !ok {
				return nil, nil, &apiError{Status: 400, Code: "InvalidGroup.NotFound", Message: fmt.Sprintf("The security group '%s' does not exist", gid)}
			}
			perm := base
			perm.GroupID = gid
			add = append(add, perm)
		}
		if len(f.items(p+"IpRanges")) == 0 && len(f.items(p+"Groups")) == 0 {
			return nil, nil, invalidParam("IpPermissions %s: give IpRanges or Groups", p)
		}
	}
	for _, a := range add {
		for _, have := range g.Ingress {
			if a == have {
				src := a.CIDR
				if a.GroupID != "" {
					src = a.GroupID
				}
				return nil, nil, &apiError{Status: 400, Code: "InvalidPermission.Duplicate", Message: fmt.Sprintf("the specified rule \"peer: %s, %s, from port: %s, to port: %s, ALLOW\" already exists", src, a.Protocol, strconv.Itoa(a.FromPort), strconv.Itoa(a.ToPort))}
			}
		}
	}
	g.Ingress = append(g.Ingress, add...)
	return &returnXML{Return: true}, nil, nil
}

func (s *Server) deleteSecurityGroup(f form, region string) (any, []func(), *apiError) {
	id := f.get("GroupId")
	if id == "" {
		return nil, nil, missingParam("GroupId")
	}
	g, ok := s.groups[id]
	if !ok || g.Region != region {
		return nil, nil, &apiError{Status: 400, Code: "InvalidGroup.NotFound", Message: fmt.Sprintf("The security group '%s' does not exist", id)}
	}
	for _, in := range s.instances {
		if in.State != "terminated" && contains(in.GroupIDs, id) {
			return nil, nil, &apiError{Status: 400, Code: "DependencyViolation", Message: fmt.Sprintf("resource %s has a dependent object", id)}
		}
	}
	for _, other := range s.groups {
		for _, p := range other.Ingress {
			if p.GroupID == id && other.ID != id {
				return nil, nil, &apiError{Status: 400, Code: "DependencyViolation", Message: fmt.Sprintf("resource %s has a dependent object", id)}
			}
		}
	}
	delete(s.groups, id)
	return &returnXML{Return: true, GroupID: id}, nil, nil
}

func (s *Server) createTags(f form, region string) (any, []func(), *apiError) {
	ids := f.list("ResourceId")
	if len(ids) == 0 {
		return nil, nil, missingParam("ResourceId")
	}
	tags, err := f.tags("Tag")
	if err != nil {
		return nil, nil, err
	}
	for _, id := range ids {
		var target map[string]string
		if in, ok := s.instances[id]; ok && in.Region == region {
			target = in.Tags
		} else if g, ok := s.groups[id]; ok && g.Region == region {
			target = g.Tags
		} else {
			return nil, nil, &apiError{Status: 400, Code: "InvalidID", Message: fmt.Sprintf("The ID '%s' is not valid", id)}
		}
		if len(target)+len(tags) > 50 {
			return nil, nil, &apiError{Status: 400, Code: "TagLimitExceeded", Message: "The maximum number of tags per resource is 50."}
		}
	}
	for _, id := range ids {
		target := map[string]string(nil)
		if in, ok := s.instances[id]; ok {
			if in.Tags == nil {
				in.Tags = map[string]string{}
			}
			target = in.Tags
		} else {
			target = s.groups[id].Tags
		}
		for k, v := range tags {
			target[k] = v
		}
	}
	return &returnXML{Return: true}, nil, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
