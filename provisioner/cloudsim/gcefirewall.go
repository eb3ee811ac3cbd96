package cloudsim

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Firewall is a simulated GCE firewall rule.
type Firewall struct {
	ID, Name, Project, Description, Network string
	Direction                               string
	Priority                                int
	Allowed                                 []FirewallAllowed
	SourceRanges, SourceTags, TargetTags    []string
	// hiddenFor counts the gets still blind to a new rule.
	hiddenFor int
}

// FirewallAllowed is one protocol and its ports.
type FirewallAllowed struct {
	IPProtocol string   `json:"IPProtocol"`
	Ports      []string `json:"ports,omitempty"`
}

// gceFirewallIn is the body of firewalls.insert and patch.
type gceFirewallIn struct {
	Name         *string           `json:"name"`
	Description  *string           `json:"description"`
	Network      *string           `json:"network"`
	Direction    *string           `json:"direction"`
	Priority     *int              `json:"priority"`
	Allowed      []FirewallAllowed `json:"allowed"`
	SourceRanges []string          `json:"sourceRanges"`
	SourceTags   []string          `json:"sourceTags"`
	TargetTags   []string          `json:"targetTags"`
	Disabled     *bool             `json:"disabled"`
}

var portRE = regexp.MustCompile(`^[0-9]{1,5}(-[0-9]{1,5})?$`)

// apply validates in and writes it over fw (insert: over an empty rule;
// patch: the fields given replace the rule's).
func (in *gceFirewallIn) apply(fw *Firewall) *gceErr {
	if in.Description != nil {
		fw.Description = *in.Description
	}
	if in.Network != nil {
		if !networkRE.MatchString(*in.Network) {
			return gceInvalid("Invalid value for field 'resource.network': '%s'. The URL is malformed.", clip(*in.Network))
		}
		fw.Network = *in.Network
	}
	if in.Direction != nil {
		if *in.Direction != "INGRESS" && *in.Direction != "EGRESS" {
			return gceInvalid("Invalid value for field 'resource.direction': '%s'. Must be INGRESS or EGRESS.", clip(*in.Direction))
		}
		fw.Direction = *in.Direction
	}
	if in.Priority != nil {
		if *in.Priority < 0 || *in.Priority > 65535 {
			return gceInvalid("Invalid value for field 'resource.priority': '%d'. Must be 0 to 65535.", *in.Priority)
		}
		fw.Priority = *in.Priority
	}
	if in.Allowed != nil {
		for i, a := range in.Allowed {
			switch a.IPProtocol {
			case "tcp", "udp", "sctp":
			case "icmp", "esp", "ah", "all":
				if len(a.Ports) > 0 {
					return gceInvalid("Invalid value for field 'resource.allowed[%d].ports': ports are only allowed with tcp, udp and sctp.", i)
				}
			default:
				return gceInvalid("Invalid value for field 'resource.allowed[%d].IPProtocol': '%s'.", i, clip(a.IPProtocol))
			}
			for _, p := range a.Ports {
				if !portRE.MatchString(p) || !validPorts(p) {
					return gceInvalid("Invalid value for field 'resource.allowed[%d].ports[]': '%s'. Must be a port or a range of ports between 0 and 65535.", i, clip(p))
				}
			}
		}
		fw.Allowed = append([]FirewallAllowed(nil), in.Allowed...)
	}
	if in.SourceRanges != nil {
		for _, r := range in.SourceRanges {
			if _, err := netip.ParsePrefix(r); err != nil {
				if _, err := netip.ParseAddr(r); err != nil {
					return gceInvalid("Invalid value for field 'resource.sourceRanges[]': '%s'. Must be a CIDR address range.", clip(r))
				}
			}
		}
		fw.SourceRanges = append([]string(nil), in.SourceRanges...)
	}
	for _, tags := range []struct {
		field string
		in    []string
		out   *[]string
	}{{"sourceTags", in.SourceTags, &fw.SourceTags}, {"targetTags", in.TargetTags, &fw.TargetTags}} {
		if tags.in == nil {
			continue
		}
		for _, t := range tags.in {
			if !rfc1035RE.MatchString(t) {
				return gceInvalid("Invalid value for field 'resource.%s[]': '%s'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", tags.field, clip(t))
			}
		}
		*tags.out = append([]string(nil), tags.in...)
	}
	if len(fw.Allowed) == 0 {
		return gceInvalid("Invalid value for field 'resource.allowed': a rule must allow at least one protocol.")
	}
	return nil
}

func validPorts(p string) bool {
	lo, hi, isRange := strings.Cut(p, "-")
	a, err1 := strconv.Atoi(lo)
	b := a
	var err2 error
	if isRange {
		b, err2 = strconv.Atoi(hi)
	}
	return err1 == nil && err2 == nil && a <= b && b <= 65535
}

func (s *Server) gceInsertFirewall(route gceRoute, _ map[string][]string, body []byte) (any, []func(), *gceErr) {
	var in gceFirewallIn
	if e := decodeGCE(body, &in); e != nil {
		return nil, nil, e
	}
	if in.Name == nil || !rfc1035RE.MatchString(*in.Name) {
		name := ""
		if in.Name != nil {
			name = *in.Name
		}
		return nil, nil, gceInvalid("Invalid value for field 'resource.name': '%s'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", clip(name))
	}
	fw := &Firewall{ID: gceID(), Name: *in.Name, Project: route.project, Direction: "INGRESS", Priority: 1000, Network: "global/networks/default",
		hiddenFor: s.faults.EventualConsistency}
	if e := in.apply(fw); e != nil {
		return nil, nil, e
	}
	if fw.Direction == "INGRESS" && len(fw.SourceRanges) == 0 && len(fw.SourceTags) == 0 {
		// GCE's default: an ingress rule without sources admits everyone.
		fw.SourceRanges = []string{"0.0.0.0/0"}
	}
	key := route.project + "/" + fw.Name
	if _, ok := s.gce.firewalls[key]; ok {
		return nil, nil, &gceErr{Code: 409, Status: "ALREADY_EXISTS", Reason: "alreadyExists",
			Message: fmt.Sprintf("The resource 'projects/%s/global/firewalls/%s' already exists", route.project, fw.Name)}
	}
	s.gce.firewalls[key] = fw
	return s.timedOp(route.project, "insert", gceSelfLink(route.project, "", "firewalls", fw.Name), fw.ID), nil, nil
}

// timedOp is an operation whose work is done after two steps.
func (s *Server) timedOp(project, typ, link, id string) *gceOp {
	var op *gceOp
	op = s.newGCEOp(project, "", typ, link, id, func() (bool, *gceOpError) {
		return s.cfg.Now().Sub(op.Inserted) >= 2*s.gceStep(), nil
	})
	return op
}

func (s *Server) gceFirewall(route gceRoute) (*Firewall, *gceErr) {
	fw, ok := s.gce.firewalls[route.project+"/"+route.name]
	if !ok {
		return nil, gceNotFound(fmt.Sprintf("projects/%s/global/firewalls/%s", route.project, clip(route.name)))
	}
	return fw, nil
}

func (s *Server) gceGetFirewall(route gceRoute, _ map[string][]string, _ []byte) (any, []func(), *gceErr) {
	fw, e := s.gceFirewall(route)
	if e != nil {
		return nil, nil, e
	}
	if fw.hiddenFor > 0 {
		fw.hiddenFor--
		return nil, nil, gceNotFound(fmt.Sprintf("projects/%s/global/firewalls/%s", route.project, route.name))
	}
	return firewallJSON(fw), nil, nil
}

func (s *Server) gcePatchFirewall(route gceRoute, _ map[string][]string, body []byte) (any, []func(), *gceErr) {
	fw, e := s.gceFirewall(route)
	if e != nil {
		return nil, nil, e
	}
	var in gceFirewallIn
	if e := decodeGCE(body, &in); e != nil {
		return nil, nil, e
	}
	if in.Name != nil && *in.Name != fw.Name {
		return nil, nil, gceInvalid("Invalid value for field 'resource.name': '%s'. A rule cannot be renamed.", clip(*in.Name))
	}
	c := *fw
	if e := in.apply(&c); e != nil {
		return nil, nil, e
	}
	*fw = c
	return s.timedOp(route.project, "patch", gceSelfLink(route.project, "", "firewalls", fw.Name), fw.ID), nil, nil
}

func (s *Server) gceDeleteFirewall(route gceRoute, _ map[string][]string, _ []byte) (any, []func(), *gceErr) {
	fw, e := s.gceFirewall(route)
	if e != nil {
		return nil, nil, e
	}
	delete(s.gce.firewalls, route.project+"/"+route.name)
	return s.timedOp(route.project, "delete", gceSelfLink(route.project, "", "firewalls", fw.Name), fw.ID), nil, nil
}

func firewallJSON(fw *Firewall) map[string]any {
	out := map[string]any{
		"kind": "compute#firewall", "id": fw.ID, "name": fw.Name, "description": fw.Description,
		"network": gceBase + "projects/" + fw.Project + "/" + fw.Network[strings.Index(fw.Network, "global/"):], "direction": fw.Direction,
		"priority": fw.Priority, "allowed": fw.Allowed, "disabled": false,
		"selfLink": gceSelfLink(fw.Project, "", "firewalls", fw.Name),
	}
	if len(fw.SourceRanges) > 0 {
		out["sourceRanges"] = fw.SourceRanges
	}
	if len(fw.SourceTags) > 0 {
		out["sourceTags"] = fw.SourceTags
	}
	if len(fw.TargetTags) > 0 {
		out["targetTags"] = fw.TargetTags
	}
	return out
}

// Firewalls returns a snapshot of the GCE firewall rules, by name.
func (s *Server) Firewalls() []Firewall {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Firewall
	for _, fw := range s.gce.firewalls {
		c := *fw
		c.Allowed = append([]FirewallAllowed(nil), fw.Allowed...)
		c.SourceRanges = append([]string(nil), fw.SourceRanges...)
		c.SourceTags = append([]string(nil), fw.SourceTags...)
		c.TargetTags = append([]string(nil), fw.TargetTags...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
