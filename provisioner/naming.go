package provisioner

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// TagPrefix starts every tag (label on gcp) the provisioner sets itself;
// a spec's own tags may not use it.
const TagPrefix = "aerolith-"

// Tags the provisioner puts on every resource. Read finds a cluster's
// resources by TagCluster alone, so a resource is never orphaned by a
// lost state file.
const (
	TagCluster = TagPrefix + "cluster"
	TagNode    = TagPrefix + "node"
	TagManaged = TagPrefix + "managed-by"
	// ManagedBy is TagManaged's value.
	ManagedBy = "aerolith"
)

// NodeID is the agent node id (and instance name) of the index'th node of
// cluster, counting from 1. Names are deterministic so that an apply
// interrupted at any point and run again finds what it made.
func NodeID(cluster string, index int) string {
	return cluster + "-n" + strconv.Itoa(index)
}

// NodeIndex is the inverse of NodeID: the index of node id in cluster, or
// false when id is not one of its node ids.
func NodeIndex(cluster, id string) (int, bool) {
	rest, ok := strings.CutPrefix(id, cluster+"-n")
	if !ok || rest == "" || rest[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// ResourceTags are the tags of a resource of spec's cluster: the spec's own
// tags plus the provisioner's. node is "" for cluster-wide resources.
func ResourceTags(spec *ClusterSpec, node string) map[string]string {
	t := make(map[string]string, len(spec.Tags)+3)
	for k, v := range spec.Tags {
		t[k] = v
	}
	t[TagCluster] = spec.Name
	t[TagManaged] = ManagedBy
	if node != "" {
		t[TagNode] = node
	}
	return t
}

// SortedKeys returns m's keys in order, for deterministic requests.
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ClientToken is the idempotency token of the launch of node in cluster
// (EC2 ClientToken, GCE requestId): the same for every retry of the same
// launch, so a retry never makes a second instance; generation
// distinguishes a relaunch after the node's instance was terminated. It is
// a name-based UUID (RFC 9562 version 8, SHA-256), which both clouds
// accept (EC2: at most 64 ASCII characters; GCE: a UUID).
func ClientToken(cluster, node string, generation int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "aerolith/%s/%s/%d", cluster, node, generation))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
