package provisioner

import (
	"errors"
	"fmt"

	"github.com/aerolithdb/aerolith/provisioner/cloudinit"
)

// Boot are the settings of a deployment that the spec does not hold:
// secrets and how the nodes find each other and secure their traffic.
type Boot struct {
	// AdminKey is the cluster admin key every node is started with (at
	// least 16 characters; a secret, kept as such by every caller).
	AdminKey string
	// Discover tells nodes of an unmanaged cluster how to find each other
	// (the agent's --discover: "provider=aws region=… tag_key=… tag_value=…");
	// managed clusters discover through billing's node registry. Empty
	// with Join set: fixed addresses.
	Discover string
	// Join lists fixed peer addresses (host:raftport), for drivers that
	// know them before launch (local).
	Join []string
	// InsecureHTTP runs the nodes without TLS (an explicit choice, for
	// tests and throwaway clusters); otherwise a managed node obtains its
	// certificate from billing with its enrollment token at first boot.
	InsecureHTTP bool
}

// BillingCAPath is where a node keeps the CA bundle it verifies billing
// with (Managed.BillingCA).
const BillingCAPath = cloudinit.FilesDir + "billing-ca.pem"

// DiscoverBilling is the --discover value of managed nodes.
const DiscoverBilling = "billing"

// TLSBootstrapKey is the agent option that makes a managed node create its
// key at boot and obtain its certificate through enrollment.
const TLSBootstrapKey = "tls-bootstrap"

// UserData returns the UserDataFunc that renders spec's nodes with b: the
// agent configuration each node boots with, identical whichever tool
// (CLI, Terraform, Pulumi) creates the node. Check b with CheckBoot first.
func UserData(b Boot) UserDataFunc {
	return func(spec *ClusterSpec, nodeID string, initial bool) ([]byte, error) {
		if err := CheckBoot(spec, b); err != nil {
			return nil, err
		}
		n := cloudinit.Node{
			Cluster: spec.Name, NodeID: nodeID, AgentURL: spec.Agent.URL, AgentSHA256: spec.Agent.SHA256,
			Settings: Settings(spec, b, initial),
		}
		if spec.Managed != nil && spec.Managed.BillingCA != "" {
			n.Files = append(n.Files, cloudinit.File{Path: BillingCAPath, Content: spec.Managed.BillingCA})
		}
		return cloudinit.Render(n)
	}
}

// Settings are the agent settings of one node of spec (in the order the
// configuration file lists them).
func Settings(spec *ClusterSpec, b Boot, initial bool) []cloudinit.Setting {
	var s []cloudinit.Setting
	add := func(k string, v any) { s = append(s, cloudinit.Setting{Key: k, Value: v}) }
	add("admin-key", b.AdminKey)
	if initial {
		// The first nodes form the cluster together; a node added later
		// joins the running one through the same discovery.
		add("bootstrap-expect", spec.Nodes)
	}
	switch {
	case spec.Managed != nil:
		add("discover", DiscoverBilling)
	case b.Discover != "":
		add("discover", b.Discover)
	}
	if len(b.Join) > 0 {
		add("join", b.Join)
	}
	if m := spec.Managed; m != nil {
		add("billing-url", m.BillingURL)
		add("enrollment-token", m.EnrollmentToken)
		if m.BillingCA != "" {
			add("billing-ca", BillingCAPath)
		}
	}
	if b.InsecureHTTP {
		add("insecure-http", true)
	} else {
		add(TLSBootstrapKey, true)
	}
	return s
}

// CheckBoot names what makes b unusable with spec.
func CheckBoot(spec *ClusterSpec, b Boot) error {
	if len(b.AdminKey) < 16 {
		return errors.New("admin key: at least 16 characters required")
	}
	if spec.Managed == nil && b.Discover == "" && len(b.Join) == 0 && spec.Nodes > 1 {
		return fmt.Errorf("nodes of an unmanaged %s cluster need a way to find each other: a discovery string or fixed join addresses", spec.Cloud)
	}
	if spec.Managed == nil && !b.InsecureHTTP {
		return errors.New("an unmanaged cluster has no billing to issue its certificates: give it a CA of its own or choose insecure HTTP explicitly")
	}
	return nil
}
