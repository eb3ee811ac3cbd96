package controller

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/aerolithdb/aerolith/internal/release"
	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
)

// The agent's ports in every pod (the contract's defaults).
const (
	HTTPPort = 7070
	RaftPort = 7071
)

// Keys of the Secrets the operator writes.
const (
	// AdminKeySecretKey is the key of the admin Secret holding the
	// cluster admin bearer key.
	AdminKeySecretKey = "admin-key"
	// EnrollmentTokenKey, ClusterIDKey and BillingURLKey are the keys of
	// the enrollment Secret.
	EnrollmentTokenKey = "enrollment-token"
	ClusterIDKey       = "cluster-id"
	BillingURLKey      = "billing-url"
)

// dataDir is where the data volume is mounted in each pod.
const dataDir = "/var/lib/aerolith"

// Names of the objects of cluster ac; every one is in ac's namespace.
func statefulSetName(ac *aerov1.AerolithCluster) string   { return ac.Name }
func clientServiceName(ac *aerov1.AerolithCluster) string { return ac.Name }

// HeadlessServiceName is the Service giving each pod its stable DNS name
// (<pod>.<name>-raft.<namespace>.svc), which raft addresses use.
func HeadlessServiceName(ac *aerov1.AerolithCluster) string { return ac.Name + "-raft" }

// AdminSecretName and EnrollmentSecretName name the Secrets the operator
// writes for cluster ac.
func AdminSecretName(ac *aerov1.AerolithCluster) string      { return ac.Name + "-admin" }
func EnrollmentSecretName(ac *aerov1.AerolithCluster) string { return ac.Name + "-enrollment" }

// PodName is the name of ordinal i's pod (and its raft node id).
func PodName(ac *aerov1.AerolithCluster, i int) string { return ac.Name + "-" + strconv.Itoa(i) }

// PodHost is the stable DNS name of ordinal i's pod.
func PodHost(ac *aerov1.AerolithCluster, i int) string {
	return PodName(ac, i) + "." + HeadlessServiceName(ac) + "." + ac.Namespace + ".svc"
}

// Labels are the labels of every object of cluster ac; its pods carry
// them too, so they are the StatefulSet's and Services' selector.
func Labels(ac *aerov1.AerolithCluster) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":       "aerolith",
		"app.kubernetes.io/instance":   ac.Name,
		"app.kubernetes.io/managed-by": "aerolith-operator",
	}
}

func selector(ac *aerov1.AerolithCluster) map[string]string {
	return map[string]string{"app.kubernetes.io/name": "aerolith", "app.kubernetes.io/instance": ac.Name}
}

func meta(ac *aerov1.AerolithCluster, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ac.Namespace, Labels: Labels(ac)}
}

// image is the container image cluster ac runs: Spec.Image, else the
// release's agent image (internal/release, which make images names its
// images from) at Spec.Version, else at the operator's own version.
func image(ac *aerov1.AerolithCluster) string {
	if ac.Spec.Image != "" {
		return ac.Spec.Image
	}
	v := ac.Spec.Version
	if v == "" {
		v = release.Version()
	}
	return release.Repository(release.AgentImageName) + ":" + v
}

func tlsMode(ac *aerov1.AerolithCluster) string {
	if ac.Spec.TLS == nil || ac.Spec.TLS.Mode == "" {
		return aerov1.TLSEnrollment
	}
	return ac.Spec.TLS.Mode
}

// scheme is the URL scheme of the nodes' data API.
func scheme(ac *aerov1.AerolithCluster) string {
	if tlsMode(ac) == aerov1.TLSDisabled {
		return "http"
	}
	return "https"
}

// joinAddrs are the raft addresses of the first n ordinals: the cluster
// forms from them, and a later pod finds the running cluster through them.
func joinAddrs(ac *aerov1.AerolithCluster, n int) string {
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = PodHost(ac, i) + ":" + strconv.Itoa(RaftPort)
	}
	return strings.Join(addrs, ",")
}

func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}}
}

// desiredStatefulSet is the StatefulSet of cluster ac with replicas pods,
// formed from bootstrap nodes. The pod template depends on neither the
// replica count nor anything else a scale changes, so scaling never
// restarts running pods.
func desiredStatefulSet(ac *aerov1.AerolithCluster, replicas, bootstrap int32) *appsv1.StatefulSet {
	env := []corev1.EnvVar{
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "AEROLITH_NODE_ID", Value: "$(POD_NAME)"},
		{Name: "AEROLITH_DATA_DIR", Value: dataDir},
		{Name: "AEROLITH_HTTP_ADDR", Value: ":" + strconv.Itoa(HTTPPort)},
		{Name: "AEROLITH_RAFT_ADDR", Value: ":" + strconv.Itoa(RaftPort)},
		{Name: "AEROLITH_ADVERTISE", Value: "$(POD_NAME)." + HeadlessServiceName(ac) + "." + ac.Namespace + ".svc"},
		{Name: "AEROLITH_BOOTSTRAP_EXPECT", Value: strconv.Itoa(int(bootstrap))},
		{Name: "AEROLITH_JOIN", Value: joinAddrs(ac, int(bootstrap))},
		secretEnv("AEROLITH_ADMIN_KEY", AdminSecretName(ac), AdminKeySecretKey),
		secretEnv("AEROLITH_BILLING_URL", EnrollmentSecretName(ac), BillingURLKey),
		secretEnv("AEROLITH_ENROLLMENT_TOKEN", EnrollmentSecretName(ac), EnrollmentTokenKey),
		{Name: "AEROLITH_LOG_FORMAT", Value: "json"},
	}
	var volumes []corev1.Volume
	mounts := []corev1.VolumeMount{{Name: "data", MountPath: dataDir}}
	switch tlsMode(ac) {
	case aerov1.TLSDisabled:
		env = append(env, corev1.EnvVar{Name: "AEROLITH_INSECURE_HTTP", Value: "true"})
	case aerov1.TLSSecret:
		volumes = append(volumes, corev1.Volume{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: ac.Spec.TLS.SecretName}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "tls", MountPath: "/etc/aerolith/tls", ReadOnly: true})
		env = append(env,
			corev1.EnvVar{Name: "AEROLITH_TLS_CERT", Value: "/etc/aerolith/tls/tls.crt"},
			corev1.EnvVar{Name: "AEROLITH_TLS_KEY", Value: "/etc/aerolith/tls/tls.key"},
			corev1.EnvVar{Name: "AEROLITH_TLS_CA", Value: "/etc/aerolith/tls/ca.crt"})
	default:
		// The certificate names the pod (its advertised host) and the
		// client Service, which clients verify.
		env = append(env, corev1.EnvVar{Name: "AEROLITH_TLS_BOOTSTRAP", Value: "true"},
			corev1.EnvVar{Name: "AEROLITH_TLS_BOOTSTRAP_SAN", Value: strings.Join(clientServiceHosts(ac), ",")})
	}
	if ca := ac.Spec.Billing.CASecret; ca != nil {
		volumes = append(volumes, corev1.Volume{Name: "billing-ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: ca.Name, Items: []corev1.KeyToPath{{Key: ca.Key, Path: "ca.crt"}}}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "billing-ca", MountPath: "/etc/aerolith/billing-ca", ReadOnly: true})
		env = append(env, corev1.EnvVar{Name: "AEROLITH_BILLING_CA", Value: "/etc/aerolith/billing-ca/ca.crt"})
	}
	probeScheme := corev1.URISchemeHTTP
	if scheme(ac) == "https" {
		probeScheme = corev1.URISchemeHTTPS
	}
	probe := func(path string, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http"), Scheme: probeScheme}},
			PeriodSeconds: period, TimeoutSeconds: 2, FailureThreshold: 3,
		}
	}
	storage := resource.MustParse("10Gi")
	if ac.Spec.Storage != nil {
		storage = *ac.Spec.Storage
	}
	whenDeleted := appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	if ac.Spec.VolumeReclaimPolicy == aerov1.ReclaimDelete {
		whenDeleted = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	}
	sts := &appsv1.StatefulSet{
		ObjectMeta: meta(ac, statefulSetName(ac)),
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To(replicas),
			ServiceName: HeadlessServiceName(ac),
			Selector:    &metav1.LabelSelector{MatchLabels: selector(ac)},
			// Parallel: the first pods must all start before any is
			// ready (a cluster forms from bootstrap nodes), which
			// OrderedReady would never allow.
			PodManagementPolicy: appsv1.ParallelPodManagement,
			UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
			// A node removed by a scale-down leaves raft for good; its
			// volume goes with it so a node added later joins empty.
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenScaled: appsv1.DeletePersistentVolumeClaimRetentionPolicyType, WhenDeleted: whenDeleted,
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: Labels(ac)},
				Spec: corev1.PodSpec{
					// Long enough for a leader to hand leadership over.
					TerminationGracePeriodSeconds: ptr.To[int64](60),
					SecurityContext:               &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532), FSGroup: ptr.To[int64](65532)},
					Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
						PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
							Weight: 100,
							PodAffinityTerm: corev1.PodAffinityTerm{
								TopologyKey:   "kubernetes.io/hostname",
								LabelSelector: &metav1.LabelSelector{MatchLabels: selector(ac)},
							},
						}},
					}},
					Containers: []corev1.Container{{
						Name:  "agent",
						Image: image(ac),
						Args:  []string{"agent"},
						Env:   env,
						Ports: []corev1.ContainerPort{
							{Name: "http", ContainerPort: HTTPPort},
							{Name: "raft", ContainerPort: RaftPort},
						},
						ReadinessProbe: probe("/readyz", 5),
						LivenessProbe:  probe("/health", 10),
						Resources:      ac.Spec.Resources,
						VolumeMounts:   mounts,
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							ReadOnlyRootFilesystem:   ptr.To(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
					Volumes: volumes,
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: Labels(ac)},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: ac.Spec.StorageClassName,
					Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: storage}},
				},
			}},
		},
	}
	return sts
}

// desiredHeadlessService gives each pod its DNS name and publishes pods
// before they are ready: peers must find each other to become ready.
func desiredHeadlessService(ac *aerov1.AerolithCluster) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: meta(ac, HeadlessServiceName(ac)),
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			PublishNotReadyAddresses: true,
			Selector:                 selector(ac),
			Ports: []corev1.ServicePort{
				{Name: "raft", Port: RaftPort, TargetPort: intstr.FromString("raft")},
				{Name: "http", Port: HTTPPort, TargetPort: intstr.FromString("http")},
			},
		},
	}
}

// desiredClientService is what applications connect to: ready pods only.
func desiredClientService(ac *aerov1.AerolithCluster) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: meta(ac, clientServiceName(ac)),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selector(ac),
			Ports:    []corev1.ServicePort{{Name: "http", Port: HTTPPort, TargetPort: intstr.FromString("http")}},
		},
	}
}

// quorum is the majority of n voters.
func quorum(n int32) int32 { return n/2 + 1 }

// desiredPDB lets voluntary disruptions (drains) take only pods a
// majority of the spec's nodes survives.
func desiredPDB(ac *aerov1.AerolithCluster) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: meta(ac, ac.Name),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(quorum(ac.Spec.Nodes))),
			Selector:     &metav1.LabelSelector{MatchLabels: selector(ac)},
		},
	}
}

// desiredNetworkPolicy opens the client port to AllowedCIDRs and the
// cluster's own pods, and the raft port to the cluster's pods only; nil
// when AllowedCIDRs is empty.
func desiredNetworkPolicy(ac *aerov1.AerolithCluster) *networkingv1.NetworkPolicy {
	if len(ac.Spec.AllowedCIDRs) == 0 {
		return nil
	}
	peers := []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: selector(ac)}}}
	for _, c := range ac.Spec.AllowedCIDRs {
		peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
	}
	port := func(p int) []networkingv1.NetworkPolicyPort {
		return []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt(p))}}
	}
	return &networkingv1.NetworkPolicy{
		ObjectMeta: meta(ac, ac.Name),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selector(ac)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{Ports: port(HTTPPort), From: peers},
				{Ports: port(RaftPort), From: peers[:1]},
			},
		},
	}
}

// clientServiceHosts are the DNS names of ac's client Service.
func clientServiceHosts(ac *aerov1.AerolithCluster) []string {
	svc := clientServiceName(ac) + "." + ac.Namespace + ".svc"
	return []string{svc, svc + ".cluster.local"}
}

// endpoints are the client addresses of cluster ac with replicas pods.
func endpoints(ac *aerov1.AerolithCluster, replicas int32) []string {
	out := []string{fmt.Sprintf("%s.%s.svc:%d", clientServiceName(ac), ac.Namespace, HTTPPort)}
	for i := range int(replicas) {
		out = append(out, fmt.Sprintf("%s:%d", PodHost(ac, i), HTTPPort))
	}
	return out
}
