// Package v1 is the aerolithdb.io/v1 API of the Kubernetes operator: the
// AerolithCluster resource. Validation and defaults live in the kubebuilder
// markers, so the API server enforces them (controller-gen renders them into
// the CRD under modules/kubernetes/crd; `make generate`).
//
// +kubebuilder:object:generate=true
// +groupName=aerolithdb.io
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of this package.
var GroupVersion = schema.GroupVersion{Group: "aerolithdb.io", Version: "v1"}

// AddToScheme registers this package's types with a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &AerolithCluster{}, &AerolithClusterList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
