package cloudsim

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// gceItem is one metadata item.
type gceItem struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

// gceInstanceIn is the body of instances.insert: the fields the
// simulator models (others are refused by name, as unknown).
type gceInstanceIn struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	MachineType string            `json:"machineType"`
	Labels      map[string]string `json:"labels"`
	Tags        *struct {
		Items       []string `json:"items"`
		Fingerprint string   `json:"fingerprint"`
	} `json:"tags"`
	Metadata *struct {
		Items       []gceItem `json:"items"`
		Fingerprint string    `json:"fingerprint"`
	} `json:"metadata"`
	Disks []struct {
		Boot             bool   `json:"boot"`
		AutoDelete       bool   `json:"autoDelete"`
		Type             string `json:"type"`
		Mode             string `json:"mode"`
		DeviceName       string `json:"deviceName"`
		Source           string `json:"source"`
		InitializeParams *struct {
			DiskName    string            `json:"diskName"`
			DiskSizeGb  int64s            `json:"diskSizeGb"`
			SourceImage string            `json:"sourceImage"`
			DiskType    string            `json:"diskType"`
			Labels      map[string]string `json:"labels"`
		} `json:"initializeParams"`
	} `json:"disks"`
	NetworkInterfaces []struct {
		Network       string `json:"network"`
		Subnetwork    string `json:"subnetwork"`
		NetworkIP     string `json:"networkIP"`
		AccessConfigs []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			NatIP string `json:"natIP"`
		} `json:"accessConfigs"`
	} `json:"networkInterfaces"`
	ServiceAccounts []struct {
		Email  string   `json:"email"`
		Scopes []string `json:"scopes"`
	} `json:"serviceAccounts"`
}

// checkLabels applies GCE's label rules.
func checkLabels(field string, l map[string]string) *gceErr {
	if len(l) > 64 {
		return gceInvalid("Invalid value for field '%s': %d labels, at most 64 are allowed.", field, len(l))
	}
	for _, k := range sortedKeys(l) {
		if !labelKeyRE.MatchString(k) {
			return gceInvalid("Invalid value for field '%s': label key '%s' must start with a lowercase letter and hold at most 63 lowercase letters, digits, '_' or '-'.", field, clip(k))
		}
		if !labelValRE.MatchString(l[k]) {
			return gceInvalid("Invalid value for field '%s': the value of label '%s' may hold at most 63 lowercase letters, digits, '_' or '-'.", field, clip(k))
		}
	}
	return nil
}

func (s *Server) gceInsertInstance(route gceRoute, _ map[string][]string, body []byte) (any, []func(), *gceErr) {
	var in gceInstanceIn
	if e := decodeGCE(body, &in); e != nil {
		return nil, nil, e
	}
	if !rfc1035RE.MatchString(in.Name) {
		return nil, nil, gceInvalid("Invalid value for field 'resource.name': '%s'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", clip(in.Name))
	}
	mt := in.MachineType
	if i := strings.Index(mt, "zones/"); i >= 0 {
		mt = mt[i:]
	}
	mtZone, mtType, ok := strings.Cut(strings.TrimPrefix(mt, "zones/"), "/machineTypes/")
	if !ok || !strings.HasPrefix(mt, "zones/") || mtZone != route.zone || !gceTypeRE.MatchString(mtType) {
		return nil, nil, gceInvalid("Invalid value for field 'resource.machineType': '%s'. Machine type must be zones/%s/machineTypes/TYPE.", clip(in.MachineType), route.zone)
	}
	if e := checkLabels("resource.labels", in.Labels); e != nil {
		return nil, nil, e
	}
	var netTags []string
	if in.Tags != nil {
		for _, t := range in.Tags.Items {
			if !rfc1035RE.MatchString(t) {
				return nil, nil, gceInvalid("Invalid value for field 'resource.tags.items[]': '%s'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", clip(t))
			}
		}
		netTags = append(netTags, in.Tags.Items...)
	}
	var items []gceItem
	var userData []byte
	if in.Metadata != nil {
		seen, total := map[string]bool{}, 0
		for _, it := range in.Metadata.Items {
			if !metaKeyRE.MatchString(it.Key) {
				return nil, nil, gceInvalid("Invalid value for field 'resource.metadata.items[].key': '%s'. Must be a match of regex '[a-zA-Z0-9-_]{1,128}'", clip(it.Key))
			}
			if seen[it.Key] {
				return nil, nil, gceInvalid("Invalid value for field 'resource.metadata': duplicate key '%s'.", it.Key)
			}
			seen[it.Key] = true
			v := ""
			if it.Value != nil {
				v = *it.Value
			}
			if len(v) > maxMetadataValue {
				return nil, nil, gceInvalid("Invalid value for field 'resource.metadata.items[%s].value': %d bytes, the limit is %d.", it.Key, len(v), maxMetadataValue)
			}
			total += len(it.Key) + len(v)
			if it.Key == "user-data" {
				userData = []byte(v)
			}
			items = append(items, it)
		}
		if total > maxMetadataTotal {
			return nil, nil, gceInvalid("Invalid value for field 'resource.metadata': %d bytes in all, the limit is %d.", total, maxMetadataTotal)
		}
	}
	boot := -1
	for i, d := range in.Disks {
		if d.Boot {
			if boot >= 0 {
				return nil, nil, gceInvalid("Invalid value for field 'resource.disks': more than one boot disk.")
			}
			boot = i
		}
	}
	if boot < 0 {
		return nil, nil, gceInvalid("Invalid value for field 'resource.disks': no boot disk is specified.")
	}
	ip := in.Disks[boot].InitializeParams
	if ip == nil || ip.SourceImage == "" {
		return nil, nil, gceInvalid("Invalid value for field 'resource.disks[%d].initializeParams.sourceImage': a boot disk needs a source image.", boot)
	}
	if !imagePathRE.MatchString(ip.SourceImage) {
		return nil, nil, gceInvalid("Invalid value for field 'resource.disks[%d].initializeParams.sourceImage': '%s'. The URL is malformed.", boot, clip(ip.SourceImage))
	}
	size := int(ip.DiskSizeGb)
	if size == 0 {
		size = 10
	}
	if size < 10 || size > 65536 {
		return nil, nil, gceInvalid("Invalid value for field 'resource.disks[%d].initializeParams.diskSizeGb': '%d'. Must be 10 to 65536 GB.", boot, ip.DiskSizeGb)
	}
	if e := checkLabels("resource.disks[].initializeParams.labels", ip.Labels); e != nil {
		return nil, nil, e
	}
	if len(in.NetworkInterfaces) == 0 {
		return nil, nil, gceInvalid("Invalid value for field 'resource.networkInterfaces': at least one network interface is required.")
	}
	nic := in.NetworkInterfaces[0]
	if nic.Network == "" || !networkRE.MatchString(nic.Network) {
		return nil, nil, gceInvalid("Invalid value for field 'resource.networkInterfaces[0].network': '%s'. The URL is malformed.", clip(nic.Network))
	}
	if len(nic.AccessConfigs) > 1 || len(nic.AccessConfigs) == 1 && nic.AccessConfigs[0].Type != "ONE_TO_ONE_NAT" {
		return nil, nil, gceInvalid("Invalid value for field 'resource.networkInterfaces[0].accessConfigs': only one ONE_TO_ONE_NAT access config is supported.")
	}
	for i, sa := range in.ServiceAccounts {
		if sa.Email != "default" && !strings.HasSuffix(sa.Email, ".iam.gserviceaccount.com") {
			return nil, nil, gceInvalid("Invalid value for field 'resource.serviceAccounts[%d].email': '%s'.", i, clip(sa.Email))
		}
		for _, sc := range sa.Scopes {
			if !strings.HasPrefix(sc, "https://www.googleapis.com/auth/") {
				return nil, nil, gceInvalid("Invalid value for field 'resource.serviceAccounts[%d].scopes[]': '%s'.", i, clip(sc))
			}
		}
	}
	if existing := s.gceFind(route, in.Name, false); existing != nil {
		return nil, nil, &gceErr{Code: 409, Status: "ALREADY_EXISTS", Reason: "alreadyExists",
			Message: fmt.Sprintf("The resource 'projects/%s/zones/%s/instances/%s' already exists", route.project, route.zone, in.Name)}
	}
	addr, err := s.allocIP()
	if err != nil {
		return nil, nil, &gceErr{Code: 503, Status: "UNAVAILABLE", Reason: "resourceExhausted", Message: err.Error()}
	}
	now := s.cfg.Now()
	inst := &Instance{
		ID: gceID(), Cloud: "gcp", Region: zoneRegion(route.zone), Zone: route.zone, ImageID: ip.SourceImage, InstanceType: mtType,
		PrivateIP: addr, Tags: cloneTags(in.Labels), UserData: userData, DiskGB: size, LaunchTime: now, State: "pending",
		hiddenFor: s.faults.EventualConsistency,
	}
	inst.willFail = s.nth("faillaunch", s.faults.FailLaunch)
	s.instances[inst.ID] = inst
	s.gce.meta[inst.ID] = &gceInstance{Project: route.project, Name: in.Name, Description: in.Description, MachineType: mtType,
		Network: nic.Network, SourceImage: ip.SourceImage, DiskType: ip.DiskType, NetworkTags: netTags, Metadata: items, NatIP: len(nic.AccessConfigs) == 1}
	id := inst.ID
	op := s.newGCEOp(route.project, route.zone, "insert", gceSelfLink(route.project, route.zone, "instances", in.Name), id, func() (bool, *gceOpError) {
		in, ok := s.instances[id]
		switch {
		case !ok:
			return true, nil
		case in.willFail && in.State == "terminated":
			return true, &gceOpError{Code: "ZONE_RESOURCE_POOL_EXHAUSTED", HTTPStatus: 503, HTTPMessage: "SERVICE UNAVAILABLE",
				Message: fmt.Sprintf("The zone 'projects/%s/zones/%s' does not have enough resources available to fulfill the request. Try a different zone, or try again later.", route.project, route.zone)}
		case in.State != "pending":
			return true, nil
		}
		return false, nil
	})
	after := []func(){func() { time.AfterFunc(s.cfg.PendingFor, func() { s.boot(id) }) }}
	return op, after, nil
}

// gceFind returns the visible instance named name (or with that numeric
// id) in route's project and zone; countHidden spends one of a new
// instance's eventual-consistency misses.
func (s *Server) gceFind(route gceRoute, name string, countHidden bool) *Instance {
	for id, m := range s.gce.meta {
		in := s.instances[id]
		if in == nil || m.Project != route.project || in.Zone != route.zone || (m.Name != name && id != name) || !gceVisible(in) {
			continue
		}
		if countHidden && in.hiddenFor > 0 {
			in.hiddenFor--
			return nil
		}
		return in
	}
	return nil
}

// gceVisible: a launch that failed leaves no instance on GCE.
func gceVisible(in *Instance) bool { return !(in.willFail && in.State == "terminated") }

// gceStatus is the GCE status of an instance of the shared table.
func (s *Server) gceStatus(in *Instance, m *gceInstance) string {
	switch {
	case m.deleting:
		return "STOPPING"
	case in.State == "pending" && s.cfg.Now().Sub(in.LaunchTime) < s.cfg.PendingFor/2:
		return "PROVISIONING"
	case in.State == "pending":
		return "STAGING"
	case in.State == "running":
		return "RUNNING"
	case in.State == "stopping", in.State == "shutting-down":
		return "STOPPING"
	default:
		return "TERMINATED"
	}
}

func (s *Server) gceInstanceJSON(in *Instance, m *gceInstance) map[string]any {
	link := gceSelfLink(m.Project, in.Zone, "instances", m.Name)
	nic := map[string]any{"kind": "compute#networkInterface", "name": "nic0", "network": gceBase + "projects/" + m.Project + "/" + strings.TrimPrefix(m.Network[strings.Index(m.Network, "global/"):], "/"),
		"networkIP": in.PrivateIP}
	if m.NatIP {
		ac := map[string]any{"kind": "compute#accessConfig", "name": "External NAT", "type": "ONE_TO_ONE_NAT", "networkTier": "PREMIUM"}
		if in.State == "running" {
			// TEST-NET-2: documentation addresses, never routed.
			a := netip.MustParseAddr(in.PrivateIP).As4()
			ac["natIP"] = fmt.Sprintf("198.51.100.%d", a[3])
		}
		nic["accessConfigs"] = []any{ac}
	}
	var items []map[string]any
	for _, it := range m.Metadata {
		items = append(items, map[string]any{"key": it.Key, "value": it.Value})
	}
	out := map[string]any{
		"kind": "compute#instance", "id": in.ID, "name": m.Name, "description": m.Description,
		"creationTimestamp": gceTime(in.LaunchTime), "zone": gceBase + "projects/" + m.Project + "/zones/" + in.Zone,
		"machineType": gceBase + "projects/" + m.Project + "/zones/" + in.Zone + "/machineTypes/" + in.InstanceType,
		"status":      s.gceStatus(in, m), "selfLink": link, "labels": in.Tags, "labelFingerprint": "42WmSpB8rSM=",
		"tags":              map[string]any{"items": m.NetworkTags, "fingerprint": "42WmSpB8rSM="},
		"metadata":          map[string]any{"kind": "compute#metadata", "items": items, "fingerprint": "42WmSpB8rSM="},
		"networkInterfaces": []any{nic},
		"disks": []any{map[string]any{"kind": "compute#attachedDisk", "type": "PERSISTENT", "mode": "READ_WRITE", "boot": true, "autoDelete": true,
			"deviceName": "persistent-disk-0", "index": 0, "diskSizeGb": strconv.Itoa(in.DiskGB),
			"source": gceSelfLink(m.Project, in.Zone, "disks", m.Name)}},
		"scheduling": map[string]any{"onHostMaintenance": "MIGRATE", "automaticRestart": true, "preemptible": false},
	}
	if in.StateReason != "" && !m.deleting {
		out["statusMessage"] = in.StateReason
	}
	return out
}

func (s *Server) gceGetInstance(route gceRoute, _ map[string][]string, _ []byte) (any, []func(), *gceErr) {
	in := s.gceFind(route, route.name, true)
	if in == nil {
		return nil, nil, gceNotFound(fmt.Sprintf("projects/%s/zones/%s/instances/%s", route.project, route.zone, clip(route.name)))
	}
	return s.gceInstanceJSON(in, s.gce.meta[in.ID]), nil, nil
}

func (s *Server) gceListInstances(route gceRoute, q map[string][]string, _ []byte) (any, []func(), *gceErr) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	max := 500
	if v := get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 500 {
			return nil, nil, gceInvalid("Invalid value for field 'maxResults': '%s'. Must be less than or equal to 500", clip(v))
		}
		if n > 0 {
			max = n
		}
	}
	switch get("orderBy") {
	case "", "name", "creationTimestamp":
	default:
		return nil, nil, gceInvalid("Invalid value for field 'orderBy': '%s'. Sorting by this field is not supported.", clip(get("orderBy")))
	}
	flt, e := parseGCEFilter(get("filter"))
	if e != nil {
		return nil, nil, e
	}
	var matched []*Instance
	for id, m := range s.gce.meta {
		in := s.instances[id]
		if in == nil || m.Project != route.project || in.Zone != route.zone || !gceVisible(in) {
			continue
		}
		if in.hiddenFor > 0 {
			in.hiddenFor--
			continue
		}
		status := s.gceStatus(in, m)
		ok := flt.match(func(field string) (string, bool) {
			switch {
			case field == "name":
				return m.Name, true
			case field == "status":
				return status, true
			case field == "id":
				return in.ID, true
			case strings.HasPrefix(field, "labels."):
				v, has := in.Tags[strings.TrimPrefix(field, "labels.")]
				return v, has
			}
			return "", false
		})
		if ok {
			matched = append(matched, in)
		}
	}
	if get("orderBy") == "creationTimestamp" {
		sort.Slice(matched, func(i, j int) bool { return matched[i].LaunchTime.Before(matched[j].LaunchTime) })
	} else {
		sort.Slice(matched, func(i, j int) bool { return s.gce.meta[matched[i].ID].Name < s.gce.meta[matched[j].ID].Name })
	}
	items, next, perr := page(matched, get("pageToken"), max, s.faults.PageSize)
	if perr != nil {
		return nil, nil, gceInvalid("Invalid value for field 'pageToken': '%s'. The page token is invalid.", clip(get("pageToken")))
	}
	out := map[string]any{"kind": "compute#instanceList", "id": "projects/" + route.project + "/zones/" + route.zone + "/instances",
		"selfLink": gceBase + "projects/" + route.project + "/zones/" + route.zone + "/instances"}
	if len(items) > 0 {
		list := make([]any, 0, len(items))
		for _, in := range items {
			list = append(list, s.gceInstanceJSON(in, s.gce.meta[in.ID]))
		}
		out["items"] = list
	}
	if next != "" {
		out["nextPageToken"] = next
	}
	return out, nil, nil
}

// gceDeleteInstance stops the instance's agent and removes the instance
// once its shutdown is over (its boot disk goes with it).
func (s *Server) gceDeleteInstance(route gceRoute, _ map[string][]string, _ []byte) (any, []func(), *gceErr) {
	in := s.gceFind(route, route.name, false)
	if in == nil {
		return nil, nil, gceNotFound(fmt.Sprintf("projects/%s/zones/%s/instances/%s", route.project, route.zone, clip(route.name)))
	}
	m := s.gce.meta[in.ID]
	var after []func()
	if !m.deleting {
		m.deleting = true
		if in.State != "terminated" {
			in.State, in.TerminatedAt = "shutting-down", s.cfg.Now()
			in.StateReason = "Client.UserInitiatedShutdown: deleted through compute.instances.delete"
		}
		if p := stopLocked(in); p != nil {
			after = append(after, func() { p.Stop(context.Background()) })
		}
	}
	id := in.ID
	op := s.newGCEOp(route.project, route.zone, "delete", gceSelfLink(route.project, route.zone, "instances", m.Name), id, func() (bool, *gceOpError) {
		_, ok := s.instances[id]
		return !ok, nil
	})
	return op, after, nil
}
