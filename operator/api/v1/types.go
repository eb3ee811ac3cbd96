package v1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Tier names, as billing knows them.
const (
	TierFree         = "free"
	TierStarter      = "starter"
	TierProfessional = "professional"
	TierEnterprise   = "enterprise"
)

// TLS modes of a cluster.
const (
	// TLSEnrollment: each node obtains its certificate from billing with
	// the cluster's enrollment token (--tls-bootstrap); the cluster CA is
	// billing's per-cluster CA.
	TLSEnrollment = "Enrollment"
	// TLSSecret: the certificate, key and CA come from a kubernetes.io/tls
	// Secret with tls.crt, tls.key and ca.crt (what cert-manager writes).
	TLSSecret = "Secret"
	// TLSDisabled: plain HTTP and plain raft (trusted networks and tests
	// only).
	TLSDisabled = "Disabled"
)

// Tenant removal policies: when a tenant dropped from spec.tenants stops
// being served.
const (
	TenantRemovalWhenEmpty = "WhenEmpty"
	TenantRemovalForce     = "Force"
)

// Volume reclaim policies: what happens to the nodes' volumes when the
// AerolithCluster is deleted.
const (
	ReclaimRetain = "Retain"
	ReclaimDelete = "Delete"
)

// AerolithClusterSpec is the cluster a user asks for.
//
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",message="storageClassName is immutable"
type AerolithClusterSpec struct {
	// Nodes is the number of agents (raft voters). It must be odd, so a
	// majority survives the loss of (nodes-1)/2 of them.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=9
	// +kubebuilder:validation:XValidation:rule="self % 2 == 1",message="nodes must be odd (1, 3, 5, 7 or 9) so a majority exists"
	Nodes int32 `json:"nodes"`

	// Storage is the size of each node's data volume. Immutable: a
	// StatefulSet cannot change its volume claim templates.
	// +optional
	// +kubebuilder:default="10Gi"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storage is immutable"
	Storage *resource.Quantity `json:"storage,omitempty"`

	// StorageClassName is the storage class of the data volumes (empty:
	// the cluster's default). Immutable.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	StorageClassName *string `json:"storageClassName,omitempty"`

	// TenantID is the billing tenant the cluster is registered for.
	// Immutable: usage is metered to it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9_.-]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="tenantId is immutable"
	TenantID string `json:"tenantId"`

	// SubscriptionTier is the tenant's billing tier, set in billing by the
	// operator.
	// +optional
	// +kubebuilder:default=starter
	// +kubebuilder:validation:Enum=free;starter;professional;enterprise
	SubscriptionTier string `json:"subscriptionTier,omitempty"`

	// Tenants are further billing tenants the cluster serves besides
	// TenantID.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9][A-Za-z0-9_.-]*$`
	// +kubebuilder:validation:items:MaxLength=128
	Tenants []string `json:"tenants,omitempty"`

	// TenantRemovalPolicy says when a tenant dropped from Tenants stops
	// being served. WhenEmpty (default): once it has no collection left
	// on the cluster (the operator asks the cluster; until then the
	// Degraded condition says TenantRemovalBlocked). Force: at once; its
	// data stays on the cluster, refused to its keys, until it is added
	// back (what the Terraform provider does when tenant_ids shrinks).
	// +optional
	// +kubebuilder:default=WhenEmpty
	// +kubebuilder:validation:Enum=WhenEmpty;Force
	TenantRemovalPolicy string `json:"tenantRemovalPolicy,omitempty"`

	// Version is the Aerolith release the nodes run; it picks the image
	// when Image is empty.
	// +optional
	// +kubebuilder:default="v0.1.0"
	// +kubebuilder:validation:Pattern=`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`
	Version string `json:"version,omitempty"`

	// Image overrides the container image (default
	// ghcr.io/aerolithdb/aerolith:<version>).
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// Resources of each node's container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// TLS of the data API and the raft port.
	// +optional
	// +kubebuilder:default={mode: Enrollment}
	TLS *TLSSpec `json:"tls,omitempty"`

	// Billing is the billing service the cluster enrolls with.
	Billing BillingRef `json:"billing"`

	// AllowedCIDRs, when set, restrict the client port to these source
	// ranges (a NetworkPolicy); the raft port is open only to the
	// cluster's own pods either way.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="allowedCIDRs entries must be CIDRs such as 10.0.0.0/8"
	// +kubebuilder:validation:items:MaxLength=64
	AllowedCIDRs []string `json:"allowedCIDRs,omitempty"`

	// VolumeReclaimPolicy says what happens to the data volumes when the
	// AerolithCluster is deleted: Retain (default) keeps them, Delete
	// removes them. Volumes of nodes removed by a scale-down are always
	// deleted, so a node added later joins empty.
	// +kubebuilder:default=Retain
	// +kubebuilder:validation:Enum=Retain;Delete
	// +optional
	VolumeReclaimPolicy string `json:"volumeReclaimPolicy,omitempty"`
}

// TLSSpec chooses how the nodes get their certificates.
//
// +kubebuilder:validation:XValidation:rule="self.mode != 'Secret' || (has(self.secretName) && size(self.secretName) > 0)",message="tls.secretName is required when tls.mode is Secret"
type TLSSpec struct {
	// Mode is Enrollment (certificates from billing's cluster CA),
	// Secret (a cert-manager compatible Secret) or Disabled.
	// +kubebuilder:default=Enrollment
	// +kubebuilder:validation:Enum=Enrollment;Secret;Disabled
	Mode string `json:"mode"`
	// SecretName is the Secret holding tls.crt, tls.key and ca.crt (mode
	// Secret); its certificate must be valid for every node's name.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName,omitempty"`
}

// BillingRef locates the billing service and the admin key the operator
// registers the cluster with.
type BillingRef struct {
	// URL of the billing service (replicas separated by commas).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^https?://`
	URL string `json:"url"`
	// CredentialsSecret holds billing's admin key.
	CredentialsSecret SecretKeyRef `json:"credentialsSecret"`
	// CASecret, when set, holds the CA bundle (key ca.crt) that billing's
	// certificate is verified with.
	// +optional
	CASecret *SecretKeyRef `json:"caSecret,omitempty"`
}

// SecretKeyRef is one key of a Secret in the cluster's namespace.
type SecretKeyRef struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// +kubebuilder:default=key
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// Phases of a cluster.
const (
	PhasePending  = "Pending"  // waiting for billing or the first pods
	PhaseCreating = "Creating" // pods starting, cluster forming
	PhaseRunning  = "Running"  // every node ready and a voter
	PhaseScaling  = "Scaling"  // nodes joining or leaving
	PhaseDegraded = "Degraded" // fewer ready nodes than asked for, or an error
	PhaseDeleting = "Deleting" // deregistering from billing
)

// Condition types.
const (
	ConditionReady       = "Ready"
	ConditionProgressing = "Progressing"
	ConditionDegraded    = "Degraded"
)

// AerolithClusterStatus is what the operator observed.
type AerolithClusterStatus struct {
	// ObservedGeneration is the generation of the spec last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase summarises the conditions.
	// +optional
	Phase string `json:"phase,omitempty"`
	// Nodes is the StatefulSet's replica count; ReadyNodes how many pods
	// are ready; Voters how many raft members vote.
	// +optional
	Nodes int32 `json:"nodes,omitempty"`
	// +optional
	ReadyNodes int32 `json:"readyNodes,omitempty"`
	// +optional
	Voters int32 `json:"voters,omitempty"`
	// Leader is the node id of the raft leader.
	// +optional
	Leader string `json:"leader,omitempty"`
	// Endpoints are the client addresses (host:port): the client Service
	// first, then each node.
	// +optional
	Endpoints []string `json:"endpoints,omitempty"`
	// ClusterID is the cluster's id in billing.
	// +optional
	ClusterID string `json:"clusterID,omitempty"`
	// BootstrapNodes is the node count the cluster was formed with; the
	// pod template keeps it so a scale never restarts the running pods.
	// +optional
	BootstrapNodes int32 `json:"bootstrapNodes,omitempty"`
	// Conditions: Ready, Progressing, Degraded.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AerolithCluster is an Aerolith cluster run by the operator: a
// StatefulSet of agents, their Services, a PodDisruptionBudget and the
// cluster's enrollment with billing.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ac;acs,categories=aerolith
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.spec.nodes`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyNodes`,description="Nodes whose pod is ready"
// +kubebuilder:printcolumn:name="Voters",type=integer,JSONPath=`.status.voters`,description="Raft voters"
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Serving",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,description="Whether a majority serves (the Ready condition)"
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Degraded")].reason`,description="What is wrong or under way (the Degraded condition's reason)"
// +kubebuilder:printcolumn:name="Leader",type=string,JSONPath=`.status.leader`
// +kubebuilder:printcolumn:name="Tier",type=string,JSONPath=`.spec.subscriptionTier`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
type AerolithCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AerolithClusterSpec   `json:"spec"`
	Status AerolithClusterStatus `json:"status,omitempty"`
}

// AerolithClusterList is a list of AerolithClusters.
//
// +kubebuilder:object:root=true
type AerolithClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AerolithCluster `json:"items"`
}
