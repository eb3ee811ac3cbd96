package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
)

func testCluster(mode string) *aerov1.AerolithCluster {
	return &aerov1.AerolithCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "db"},
		Spec: aerov1.AerolithClusterSpec{Nodes: 3, TenantID: "ten_1", Version: "v1.2.3",
			TLS:     &aerov1.TLSSpec{Mode: mode, SecretName: "db-tls"},
			Billing: aerov1.BillingRef{URL: "https://billing:7080", CredentialsSecret: aerov1.SecretKeyRef{Name: "billing", Key: "key"}}},
	}
}

func envOf(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

// A scale must not restart running pods: the template is the same
// whatever the replica count.
func TestPodTemplateIndependentOfReplicas(t *testing.T) {
	ac := testCluster(aerov1.TLSEnrollment)
	a, b := desiredStatefulSet(ac, 3, 3), desiredStatefulSet(ac, 5, 3)
	if templateHash(&a.Spec.Template) != templateHash(&b.Spec.Template) {
		t.Fatal("pod template of 3 and 5 replicas differ")
	}
	env := envOf(a.Spec.Template.Spec.Containers[0])
	if got, want := env["AEROLITH_JOIN"], "db-0.db-raft.prod.svc:7071,db-1.db-raft.prod.svc:7071,db-2.db-raft.prod.svc:7071"; got != want {
		t.Errorf("AEROLITH_JOIN = %q, want %q", got, want)
	}
	if got := env["AEROLITH_BOOTSTRAP_EXPECT"]; got != "3" {
		t.Errorf("AEROLITH_BOOTSTRAP_EXPECT = %q, want 3", got)
	}
	if got := a.Spec.Template.Spec.Containers[0].Image; got != "ghcr.io/aerolithdb/aerolith:v1.2.3" {
		t.Errorf("image = %q, want the version's", got)
	}
}

func TestTLSModes(t *testing.T) {
	tests := []struct {
		mode, flag, probeScheme string
	}{
		{aerov1.TLSDisabled, "AEROLITH_INSECURE_HTTP", "HTTP"},
		{aerov1.TLSEnrollment, "AEROLITH_TLS_BOOTSTRAP", "HTTPS"},
		{aerov1.TLSSecret, "AEROLITH_TLS_CERT", "HTTPS"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			c := desiredStatefulSet(testCluster(tt.mode), 3, 3).Spec.Template.Spec.Containers[0]
			if _, ok := envOf(c)[tt.flag]; !ok {
				t.Errorf("mode %s: no %s in the environment", tt.mode, tt.flag)
			}
			if got := string(c.ReadinessProbe.HTTPGet.Scheme); got != tt.probeScheme {
				t.Errorf("mode %s: probe scheme %s, want %s", tt.mode, got, tt.probeScheme)
			}
		})
	}
}

func TestPDBKeepsAMajority(t *testing.T) {
	for _, tt := range []struct{ nodes, min int32 }{{1, 1}, {3, 2}, {5, 3}, {7, 4}, {9, 5}} {
		ac := testCluster(aerov1.TLSDisabled)
		ac.Spec.Nodes = tt.nodes
		if got := desiredPDB(ac).Spec.MinAvailable.IntValue(); got != int(tt.min) {
			t.Errorf("nodes %d: minAvailable %d, want %d", tt.nodes, got, tt.min)
		}
	}
}

func TestNetworkPolicyOnlyWithCIDRs(t *testing.T) {
	ac := testCluster(aerov1.TLSDisabled)
	if np := desiredNetworkPolicy(ac); np != nil {
		t.Fatalf("network policy without allowedCIDRs = %+v, want none", np)
	}
	ac.Spec.AllowedCIDRs = []string{"10.0.0.0/8"}
	np := desiredNetworkPolicy(ac)
	if np == nil || len(np.Spec.Ingress) != 2 || len(np.Spec.Ingress[0].From) != 2 || len(np.Spec.Ingress[1].From) != 1 {
		t.Fatalf("network policy = %+v, want the client port open to the pods and the CIDR, raft to the pods", np)
	}
}
